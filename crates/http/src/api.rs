//! What every ingest route shares: the state they are served with, and the one path a
//! touchpoint takes into the ingest core (bots flagged, the rest group-committed).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use bytes::Bytes;
use throughline_ingest::{IngestOutcome, Ingestor};
use throughline_model::TenantId;

use crate::ApiError;
use crate::auth::KeyCache;
use crate::bots::bot_reason;

/// What the ingest routes share: the ingest core and the keys that authorized recently.
pub(crate) struct IngestApi {
    ingestor: Arc<Ingestor>,
    pub(crate) keys: KeyCache,
}

impl IngestApi {
    pub(crate) fn shared(ingestor: Arc<Ingestor>) -> Arc<Self> {
        Arc::new(IngestApi {
            ingestor,
            keys: KeyCache::default(),
        })
    }
}

/// Handlers call the ingest core through the routes' state.
impl std::ops::Deref for IngestApi {
    type Target = Ingestor;

    fn deref(&self) -> &Ingestor {
        &self.ingestor
    }
}

pub(crate) type Shared = State<Arc<IngestApi>>;

/// Every touchpoint route (events, pixel, tracked links) stores through here: hits from
/// bots and prefetches are flagged, the rest go to the group-commit writer.
pub(crate) async fn store_touchpoints(
    ingestor: &Ingestor,
    tenant: &TenantId,
    headers: &HeaderMap,
    source: &'static str,
    raw: Bytes,
    records: Vec<HashMap<String, String>>,
) -> Result<IngestOutcome, ApiError> {
    match bot_reason(headers) {
        Some(reason) => keep_bot_hit(ingestor, tenant, &reason, raw, records.len()).await,
        None => Ok(ingestor
            .ingest_touchpoints(tenant, source, raw, records)
            .await?),
    }
}

/// Keeps a bot's hit under `raw/collect-bots/` with the reason; nothing reaches `tables/`.
async fn keep_bot_hit(
    ingestor: &Ingestor,
    tenant: &TenantId,
    reason: &str,
    payload: Bytes,
    count: usize,
) -> Result<IngestOutcome, ApiError> {
    let entry = serde_json::json!({
        "reason": reason,
        "payload": String::from_utf8_lossy(&payload),
    });
    let body = Bytes::from(serde_json::to_vec(&entry).expect("JSON serialises"));
    ingestor
        .keep_raw("collect-bots", tenant, "json", body)
        .await?;
    tracing::info!(%tenant, reason, count, "bot hit flagged");
    Ok(IngestOutcome {
        bots: count,
        ..IngestOutcome::default()
    })
}
