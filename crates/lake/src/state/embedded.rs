//! The state store embedded in the lake's object store (`_state/`), for one machine or a
//! lake without DynamoDB. Put-if-absent gives the same claim semantics as a conditional
//! write; records are small JSON objects.

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use throughline_model::TenantId;
use throughline_model::contact::sha256_hex;

use super::*;

#[derive(Debug, Clone)]
pub struct EmbeddedStateStore {
    store: Arc<dyn ObjectStore>,
}

#[derive(Serialize, Deserialize)]
struct KeyRecord {
    expires_at: i64,
}

#[derive(Serialize, Deserialize)]
struct CursorRecord {
    connector: String,
    value: String,
}

fn unavailable(e: impl std::fmt::Display) -> StateError {
    StateError::Unavailable(e.to_string())
}

impl EmbeddedStateStore {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    fn key_path(scope: &str, key: &str) -> Path {
        // Hashing makes any key a safe, fixed-length object name.
        Path::from(format!(
            "_state/keys/{}/{}.json",
            sha256_hex(scope),
            sha256_hex(key)
        ))
    }

    async fn read<T: DeserializeOwned>(&self, path: &Path) -> StateResult<Option<T>> {
        match self.store.get(path).await {
            Ok(found) => {
                let body = found.bytes().await.map_err(unavailable)?;
                serde_json::from_slice(&body)
                    .map(Some)
                    .map_err(|e| StateError::Corrupt {
                        key: path.to_string(),
                        reason: e.to_string(),
                    })
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn write<T: Serialize>(
        &self,
        path: &Path,
        record: &T,
        mode: PutMode,
    ) -> Result<(), object_store::Error> {
        let body = serde_json::to_vec(record).expect("state records serialise");
        let options = PutOptions {
            mode,
            ..Default::default()
        };
        self.store
            .put_opts(path, PutPayload::from(body), options)
            .await
            .map(|_| ())
    }

    async fn list<T: DeserializeOwned>(&self, prefix: &str) -> StateResult<Vec<T>> {
        let paths: Vec<Path> = self
            .store
            .list(Some(&Path::from(prefix)))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(unavailable)?;
        let mut records = Vec::with_capacity(paths.len());
        for path in paths {
            if let Some(r) = self.read(&path).await? {
                records.push(r);
            }
        }
        Ok(records)
    }
}

#[async_trait::async_trait]
impl StateStore for EmbeddedStateStore {
    async fn claim_key(&self, scope: &str, key: &str, ttl: Duration) -> StateResult<bool> {
        let path = Self::key_path(scope, key);
        let record = KeyRecord {
            expires_at: now_secs() + ttl.as_secs() as i64,
        };
        match self.write(&path, &record, PutMode::Create).await {
            Ok(()) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => {
                let existing: Option<KeyRecord> = self.read(&path).await?;
                if existing.is_some_and(|k| k.expires_at > now_secs()) {
                    return Ok(false);
                }
                // Expired: take it over. A second claimer racing on the same expired key
                // loses at the Create below.
                self.store.delete(&path).await.map_err(unavailable)?;
                match self.write(&path, &record, PutMode::Create).await {
                    Ok(()) => Ok(true),
                    Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
                    Err(e) => Err(unavailable(e)),
                }
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn has_key(&self, scope: &str, key: &str) -> StateResult<bool> {
        let existing: Option<KeyRecord> = self.read(&Self::key_path(scope, key)).await?;
        Ok(existing.is_some_and(|k| k.expires_at > now_secs()))
    }

    async fn cursor(&self, tenant: &TenantId, connector: &str) -> StateResult<Option<String>> {
        let path = Path::from(format!(
            "_state/cursors/{tenant}/{}.json",
            sha256_hex(connector)
        ));
        Ok(self.read::<CursorRecord>(&path).await?.map(|c| c.value))
    }

    async fn set_cursor(&self, tenant: &TenantId, connector: &str, value: &str) -> StateResult<()> {
        let path = Path::from(format!(
            "_state/cursors/{tenant}/{}.json",
            sha256_hex(connector)
        ));
        let record = CursorRecord {
            connector: connector.into(),
            value: value.into(),
        };
        self.write(&path, &record, PutMode::Overwrite)
            .await
            .map_err(unavailable)
    }

    async fn put_tenant(&self, tenant: &TenantRecord) -> StateResult<()> {
        let id = TenantId::parse(&tenant.id).map_err(unavailable)?;
        let path = Path::from(format!("_state/tenants/{id}.json"));
        self.write(&path, tenant, PutMode::Overwrite)
            .await
            .map_err(unavailable)
    }

    async fn tenant(&self, id: &str) -> StateResult<Option<TenantRecord>> {
        let Ok(id) = TenantId::parse(id) else {
            return Ok(None);
        };
        self.read(&Path::from(format!("_state/tenants/{id}.json")))
            .await
    }

    async fn tenants(&self) -> StateResult<Vec<TenantRecord>> {
        self.list("_state/tenants").await
    }

    async fn put_api_key(&self, key_hash: &str, grant: &ApiKeyGrant) -> StateResult<()> {
        let path = Path::from(format!("_state/api_keys/{}.json", sha256_hex(key_hash)));
        self.write(&path, grant, PutMode::Overwrite)
            .await
            .map_err(unavailable)
    }

    async fn api_key(&self, key_hash: &str) -> StateResult<Option<ApiKeyGrant>> {
        self.read(&Path::from(format!(
            "_state/api_keys/{}.json",
            sha256_hex(key_hash)
        )))
        .await
    }

    async fn put_job_run(&self, run: &JobRun) -> StateResult<()> {
        let tenant = TenantId::parse(&run.tenant).map_err(unavailable)?;
        let path = Path::from(format!(
            "_state/job_runs/{tenant}/{}.json",
            sha256_hex(&run.run_id)
        ));
        self.write(&path, run, PutMode::Overwrite)
            .await
            .map_err(unavailable)
    }

    async fn job_runs(&self, tenant: &TenantId, limit: usize) -> StateResult<Vec<JobRun>> {
        let mut runs: Vec<JobRun> = self.list(&format!("_state/job_runs/{tenant}")).await?;
        runs.sort_by(|a, b| {
            b.started_at
                .cmp(&a.started_at)
                .then_with(|| b.run_id.cmp(&a.run_id))
        });
        runs.truncate(limit);
        Ok(runs)
    }
}
