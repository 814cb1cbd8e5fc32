//! API keys arrive as `Authorization: Bearer <key>`, `X-Api-Key: <key>` or `?key=<key>`
//! (tracking pixels and CRM webhook URLs cannot set headers). Keys are looked up by hash.

use axum::http::HeaderMap;
use throughline_lake::state::{KeyScope, StateStore, authorize};
use throughline_model::TenantId;

use crate::ApiError;

pub fn key_from(headers: &HeaderMap, query_key: Option<&str>) -> Option<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    header("authorization")
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| header("x-api-key"))
        .or(query_key)
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
}

/// The tenant the request may act for. A `tenant` given in the request must match the
/// key's; any mismatch is the same 401 as a bad key.
pub async fn tenant_for(
    state: &dyn StateStore,
    key: Option<String>,
    claimed_tenant: Option<&str>,
    scope: KeyScope,
) -> Result<TenantId, ApiError> {
    let key = key.ok_or(ApiError::Unauthorized)?;
    let tenant = authorize(state, &key, scope)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    matching_claim(tenant, claimed_tenant)
}

/// The key's tenant, if the request claims no other.
fn matching_claim(tenant: TenantId, claimed_tenant: Option<&str>) -> Result<TenantId, ApiError> {
    match claimed_tenant {
        Some(claimed) if claimed != tenant.as_str() => Err(ApiError::Unauthorized),
        _ => Ok(tenant),
    }
}

/// Keys that authorized recently, so a busy collector does not look every beacon's key up
/// in the state store. Only grants are remembered, for [`KeyCache::TTL`]: a new key works
/// at once; a revoked tenant or key stops working within that time.
#[derive(Debug, Default)]
pub struct KeyCache {
    grants: std::sync::Mutex<
        std::collections::HashMap<(String, KeyScope), (TenantId, std::time::Instant)>,
    >,
}

impl KeyCache {
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(60);
    const MAX_KEYS: usize = 10_000;

    /// [`tenant_for`], answered from memory when the same key was granted recently.
    pub async fn tenant_for(
        &self,
        state: &dyn StateStore,
        key: Option<String>,
        claimed_tenant: Option<&str>,
        scope: KeyScope,
    ) -> Result<TenantId, ApiError> {
        let key = key.ok_or(ApiError::Unauthorized)?;
        let cached = self
            .grants
            .lock()
            .expect("no panics while locked")
            .get(&(key.clone(), scope))
            .filter(|(_, at)| at.elapsed() < Self::TTL)
            .map(|(tenant, _)| tenant.clone());
        let tenant = match cached {
            Some(tenant) => tenant,
            None => {
                let tenant = tenant_for(state, Some(key.clone()), None, scope).await?;
                let mut grants = self.grants.lock().expect("no panics while locked");
                if grants.len() >= Self::MAX_KEYS {
                    grants.clear();
                }
                grants.insert((key, scope), (tenant.clone(), std::time::Instant::now()));
                tenant
            }
        };
        matching_claim(tenant, claimed_tenant)
    }
}
