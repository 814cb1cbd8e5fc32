//! The small state next to the lake: idempotency keys of ingested events, connector
//! cursors, tenants and hashed API keys, job runs. One trait, two backends with the same
//! contract — embedded in the lake's object store (one machine) and DynamoDB (AWS) — and
//! one conformance suite that runs against both.

mod dynamodb;
mod embedded;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use throughline_model::TenantId;
use throughline_model::contact::sha256_hex;

pub use dynamodb::DynamoStateStore;
pub use embedded::EmbeddedStateStore;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    #[error("corrupt state record {key}: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("no tenant {0}: add it first with `throughline tenants add --tenant {0} --name NAME`")]
    NoTenant(String),
}

pub type StateResult<T> = std::result::Result<T, StateError>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

/// What an API key may do. Keys are stored only as SHA-256 hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyScope {
    /// Send events from a web page or a form: tracking beacons and leads. The key a page
    /// carries is public, so it cannot write money (deal events, orders).
    Ingest,
    /// Read answers: KPIs, funnel, LTV.
    Read,
    /// Server-side ingest: everything [`KeyScope::Ingest`] may send, plus deal events and
    /// orders. Kept on a server (a CRM's outgoing webhook, a back office), never in a page.
    Server,
}

impl KeyScope {
    /// Whether a key of this scope may do what `wanted` allows.
    pub fn covers(self, wanted: KeyScope) -> bool {
        self == wanted || (self == KeyScope::Server && wanted == KeyScope::Ingest)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyGrant {
    pub tenant: String,
    pub scope: KeyScope,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRun {
    pub tenant: String,
    pub run_id: String,
    pub job: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub detail: String,
}

/// The contract both backends keep (see the conformance tests).
#[async_trait::async_trait]
pub trait StateStore: Send + Sync + std::fmt::Debug {
    /// Records `key` in `scope` unless it is there and unexpired. `true` when this call
    /// recorded it: exactly one of concurrent callers wins.
    async fn claim_key(&self, scope: &str, key: &str, ttl: Duration) -> StateResult<bool>;
    /// Whether `key` is recorded (and unexpired) in `scope`.
    async fn has_key(&self, scope: &str, key: &str) -> StateResult<bool>;

    /// [`StateStore::has_key`] for many keys, answered in their order. A backend that can
    /// look keys up in batches does (DynamoDB: 100 per request).
    async fn has_keys(&self, scope: &str, keys: &[String]) -> StateResult<Vec<bool>> {
        futures::future::try_join_all(keys.iter().map(|key| self.has_key(scope, key))).await
    }

    /// Records `keys` in `scope` whether or not they are there: the keys of rows already
    /// stored, where no caller needs to know who won. A backend that can write in
    /// batches does (DynamoDB: 25 per request).
    async fn record_keys(&self, scope: &str, keys: &[String], ttl: Duration) -> StateResult<()> {
        futures::future::try_join_all(keys.iter().map(|key| self.claim_key(scope, key, ttl)))
            .await
            .map(|_| ())
    }

    async fn cursor(&self, tenant: &TenantId, connector: &str) -> StateResult<Option<String>>;
    async fn set_cursor(&self, tenant: &TenantId, connector: &str, value: &str) -> StateResult<()>;

    async fn put_tenant(&self, tenant: &TenantRecord) -> StateResult<()>;
    async fn tenant(&self, id: &str) -> StateResult<Option<TenantRecord>>;
    async fn tenants(&self) -> StateResult<Vec<TenantRecord>>;

    /// Stores a grant under the key's hash (see [`hash_api_key`]).
    async fn put_api_key(&self, key_hash: &str, grant: &ApiKeyGrant) -> StateResult<()>;
    async fn api_key(&self, key_hash: &str) -> StateResult<Option<ApiKeyGrant>>;

    /// Inserts or updates a run (same tenant and run id).
    async fn put_job_run(&self, run: &JobRun) -> StateResult<()>;
    /// A tenant's runs, newest first.
    async fn job_runs(&self, tenant: &TenantId, limit: usize) -> StateResult<Vec<JobRun>>;
}

pub fn hash_api_key(key: &str) -> String {
    sha256_hex(key)
}

/// A new random API key: `tl_` and 43 URL-safe characters (256 bits).
pub fn new_api_key() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    format!(
        "tl_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The tenant a key grants `scope` on, if the key is known, has that scope and its tenant
/// exists. Callers answer every `None` the same way, so a probe learns nothing.
pub async fn authorize(
    store: &dyn StateStore,
    key: &str,
    scope: KeyScope,
) -> StateResult<Option<TenantId>> {
    let Some(grant) = store.api_key(&hash_api_key(key)).await? else {
        return Ok(None);
    };
    if !grant.scope.covers(scope) || store.tenant(&grant.tenant).await?.is_none() {
        return Ok(None);
    }
    Ok(TenantId::parse(&grant.tenant).ok())
}

/// Adds a tenant (or renames one), created now.
pub async fn add_tenant(store: &dyn StateStore, tenant: &TenantId, name: &str) -> StateResult<()> {
    store
        .put_tenant(&TenantRecord {
            id: tenant.to_string(),
            name: name.to_owned(),
            created_at: chrono::Utc::now().to_rfc3339(),
        })
        .await
}

/// Issues a new API key of `scope` for an existing tenant: the key is returned once, only
/// its hash is stored.
pub async fn issue_api_key(
    store: &dyn StateStore,
    tenant: &TenantId,
    scope: KeyScope,
) -> StateResult<String> {
    if store.tenant(tenant.as_str()).await?.is_none() {
        return Err(StateError::NoTenant(tenant.to_string()));
    }
    let key = new_api_key();
    let grant = ApiKeyGrant {
        tenant: tenant.to_string(),
        scope,
        created_at: chrono::Utc::now().to_rfc3339(),
    };
    store.put_api_key(&hash_api_key(&key), &grant).await?;
    Ok(key)
}

pub(crate) fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
pub(crate) mod conformance;
