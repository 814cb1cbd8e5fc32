//! The ingest write path, in this order:
//! 1. the raw payload is stored verbatim under `raw/` (durable before anything else);
//! 2. every record is validated; if any fails, the request is rejected (400) and the
//!    records are kept under `quarantine/` with reasons, for replay after a fix;
//! 3. records whose idempotency key is already claimed are duplicates and are skipped;
//! 4. the rest are written as a new Parquet file per date partition;
//! 5. their keys are claimed in the state store.
//!
//! A 2xx is returned only after step 4. A crash between 4 and 5 lets a retry write the
//! rows again; compaction drops that duplicate, so it still counts once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::path::Path;
use serde::Serialize;
use throughline_lake::Lake;
use throughline_lake::state::StateStore;
use throughline_model::table::{ParseOptions, Table};
use throughline_model::{Rejected, Row, TenantId};

use crate::ApiError;

/// How long a delivery's key is remembered: longer than any vendor's retry schedule.
const IDEMPOTENCY_TTL: Duration = Duration::from_secs(35 * 24 * 3600);

#[derive(Debug, Clone)]
pub struct Ingestor {
    pub lake: Lake,
    pub state: Arc<dyn StateStore>,
    pub options: ParseOptions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IngestOutcome {
    pub accepted: usize,
    pub duplicates: usize,
}

impl Ingestor {
    /// Stores the records of one request into `table`. `source` names the sender for
    /// `raw/` and `quarantine/` (e.g. `collect-events`, `webhook-generic`).
    pub async fn ingest(
        &self,
        tenant: &TenantId,
        table: Table,
        source: &str,
        raw: Bytes,
        records: Vec<HashMap<String, String>>,
    ) -> Result<IngestOutcome, ApiError> {
        let now = chrono::Utc::now();
        let raw_path = Path::from(format!(
            "raw/{source}/tenant={tenant}/date={}/{}.json",
            now.format("%Y-%m-%d"),
            uuid::Uuid::now_v7()
        ));
        self.lake.put(&raw_path, raw).await?;

        let mut rows = Vec::with_capacity(records.len());
        let mut rejected = Vec::new();
        for (i, record) in records.into_iter().enumerate() {
            match table.parse(&record, &self.options) {
                Ok(row) => rows.push(row),
                Err(e) => rejected.push(Rejected {
                    origin: format!("{source} {raw_path}"),
                    line: i as u64 + 1,
                    reason: e.to_string(),
                    record: record.into_iter().collect::<BTreeMap<_, _>>(),
                }),
            }
        }
        if !rejected.is_empty() {
            self.lake
                .quarantine(table.name(), tenant, &rejected)
                .await?;
            let reasons = rejected
                .iter()
                .map(|r| serde_json::json!({ "index": r.line - 1, "reason": r.reason }))
                .collect();
            return Err(ApiError::Rejected {
                count: rejected.len(),
                reasons,
            });
        }

        let scope = format!("{tenant}/{}", table.name());
        let received = rows.len();
        let mut in_request = HashSet::new();
        let unique: Vec<(String, Row)> = rows
            .into_iter()
            .map(|row| (table.row_key(&row), row))
            .filter(|(key, _)| in_request.insert(key.clone()))
            .collect();
        // One round trip per key to the state store: issue them together, not one by one.
        let seen = futures::future::try_join_all(
            unique
                .iter()
                .map(|(key, _)| self.state.has_key(&scope, key)),
        )
        .await?;
        let (keys, fresh): (Vec<String>, Vec<Row>) = unique
            .into_iter()
            .zip(seen)
            .filter(|(_, seen)| !seen)
            .map(|(pair, _)| pair)
            .unzip();
        let duplicates = received - keys.len();
        if !fresh.is_empty() {
            self.lake.write_rows(table, tenant, &fresh).await?;
        }
        let claims = futures::future::join_all(
            keys.iter()
                .map(|key| self.state.claim_key(&scope, key, IDEMPOTENCY_TTL)),
        )
        .await;
        for (key, claim) in keys.iter().zip(claims) {
            // The rows are stored: a failed claim only risks a duplicate that compaction removes.
            if let Err(e) = claim {
                tracing::warn!(%tenant, key, error = %e, "stored rows but could not claim their key");
            }
        }
        tracing::info!(%tenant, table = table.name(), source, accepted = keys.len(), duplicates, "ingested");
        Ok(IngestOutcome {
            accepted: keys.len(),
            duplicates,
        })
    }
}
