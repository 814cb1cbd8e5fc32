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
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use object_store::path::Path;
use serde::Serialize;
use throughline_lake::Lake;
use throughline_lake::state::StateStore;
use throughline_model::table::{ParseOptions, Table};
use throughline_model::{Rejected, Row, TenantId};

use throughline_settings::TenantsConfig;

use crate::group_commit::TouchpointWriter;
use crate::{IngestError, Result};

/// The most days one request's records may fall on (each day of a table is a file);
/// docs/HTTP.md.
pub const MAX_DAYS_PER_REQUEST: usize = 100;
/// The most records one request may carry (each is a key in the state store); bulk loads
/// belong in `throughline import`. docs/HTTP.md.
pub const MAX_RECORDS_PER_REQUEST: usize = 1_000;

/// How long a delivery's key is remembered: longer than any vendor's retry schedule.
const IDEMPOTENCY_TTL: Duration = Duration::from_secs(35 * 24 * 3600);

#[derive(Debug, Clone)]
pub struct Ingestor {
    pub lake: Lake,
    pub state: Arc<dyn StateStore>,
    /// Defaults for tenants whose config does not say otherwise.
    pub options: ParseOptions,
    pub config: Arc<TenantsConfig>,
    /// Started on first use, on the runtime that serves requests.
    touchpoint_writer: OnceLock<TouchpointWriter>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IngestOutcome {
    pub accepted: usize,
    pub duplicates: usize,
    /// Hits from bots and prefetchers: kept under `raw/`, not counted as touchpoints.
    #[serde(skip_serializing_if = "is_zero")]
    pub bots: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl std::ops::AddAssign for IngestOutcome {
    fn add_assign(&mut self, other: Self) {
        self.accepted += other.accepted;
        self.duplicates += other.duplicates;
        self.bots += other.bots;
    }
}

impl Ingestor {
    /// An ingestor with no tenant settings (tests, the inbox).
    pub fn new(lake: Lake, state: Arc<dyn StateStore>, options: ParseOptions) -> Self {
        Ingestor {
            lake,
            state,
            options,
            config: Arc::default(),
            touchpoint_writer: OnceLock::new(),
        }
    }

    /// The same, with the tenants' settings.
    pub fn with_config(mut self, config: TenantsConfig) -> Self {
        self.config = Arc::new(config);
        self
    }

    /// Stores touchpoints through the group-commit writer (see [`crate::group_commit`]):
    /// the same steps as [`Ingestor::ingest`], shared with other requests in flight.
    pub async fn ingest_touchpoints(
        &self,
        tenant: &TenantId,
        source: &'static str,
        raw: Bytes,
        records: Vec<HashMap<String, String>>,
    ) -> Result<IngestOutcome> {
        self.touchpoint_writer
            .get_or_init(|| TouchpointWriter::start(self.clone()))
            .submit(tenant.clone(), source, raw, records)
            .await
    }

    /// Parse settings of one tenant: its config's phone country, else the default.
    pub fn options_for(&self, tenant: &TenantId) -> ParseOptions {
        match self
            .config
            .tenant(tenant.as_str())
            .and_then(|t| t.phone_country.clone())
        {
            Some(code) => ParseOptions {
                default_country_code: Some(code),
            },
            None => self.options.clone(),
        }
    }

    /// Keeps a payload verbatim: `raw/<source>/tenant=<id>/date=<day>/<uuid>.<extension>`.
    pub async fn keep_raw(
        &self,
        source: &str,
        tenant: &TenantId,
        extension: &str,
        body: Bytes,
    ) -> Result<Path> {
        let path = throughline_lake::raw_file(source, tenant, extension);
        self.lake.put(&path, body).await?;
        Ok(path)
    }

    /// Stores the records of one request into `table`. `source` names the sender for
    /// `raw/` and `quarantine/` (e.g. `collect-events`).
    pub async fn ingest(
        &self,
        tenant: &TenantId,
        table: Table,
        source: &str,
        raw: Bytes,
        records: Vec<HashMap<String, String>>,
    ) -> Result<IngestOutcome> {
        let raw_path = self.keep_raw(source, tenant, "json", raw).await?;
        let origin = format!("{source} {raw_path}");
        match self.validate(tenant, table, &origin, records) {
            Ok(rows) => self.store(tenant, table, source, rows).await,
            Err(rejected) => Err(self.reject(tenant, table, rejected).await),
        }
    }

    /// Keeps rejected records under `quarantine/` and gives the error that names them (or
    /// the storage error when even the quarantine cannot be written).
    pub(crate) async fn reject(
        &self,
        tenant: &TenantId,
        table: Table,
        rejected: Vec<Rejected>,
    ) -> IngestError {
        match self.lake.quarantine(table.name(), tenant, &rejected).await {
            Ok(_) => IngestError::Rejected(rejected),
            Err(e) => e.into(),
        }
    }

    /// Validates records into rows, or returns every rejected one with its reason.
    pub fn validate(
        &self,
        tenant: &TenantId,
        table: Table,
        origin: &str,
        records: Vec<HashMap<String, String>>,
    ) -> std::result::Result<Vec<Row>, Vec<Rejected>> {
        let options = self.options_for(tenant);
        let received = records.len();
        let parsed: Vec<_> = records
            .into_iter()
            .map(|record| (table.parse(&record, &options), record))
            .collect();
        let days: HashSet<i32> = parsed
            .iter()
            .filter_map(|(row, _)| row.as_ref().ok().map(|r| r.date))
            .collect();
        // Each day is a partition, hence a file, and each record a state-store key: one
        // small request must not write thousands of either.
        let too_large = if received > MAX_RECORDS_PER_REQUEST {
            Some(format!(
                "the request carries {received} records, more than {MAX_RECORDS_PER_REQUEST} per \
                 request: send them in smaller requests, or import them with `throughline import`"
            ))
        } else {
            (days.len() > MAX_DAYS_PER_REQUEST).then(|| {
                format!(
                    "the request's records fall on {} different days, more than \
                     {MAX_DAYS_PER_REQUEST} per request: send each day's records separately, or \
                     import history with `throughline import`",
                    days.len()
                )
            })
        };
        let mut rows = Vec::with_capacity(parsed.len());
        let mut rejected = Vec::new();
        for (i, (row, record)) in parsed.into_iter().enumerate() {
            let reason = match (row, &too_large) {
                (Ok(row), None) => {
                    rows.push(row);
                    continue;
                }
                (Ok(_), Some(reason)) => reason.clone(),
                (Err(e), _) => format!("{}: {e}", table.name()),
            };
            rejected.push(Rejected {
                origin: origin.to_owned(),
                line: i as u64 + 1,
                reason,
                record: record.into_iter().collect::<BTreeMap<_, _>>(),
            });
        }
        if rejected.is_empty() {
            Ok(rows)
        } else {
            Err(rejected)
        }
    }

    /// Writes validated rows once: rows whose key was already stored count as duplicates.
    pub async fn store(
        &self,
        tenant: &TenantId,
        table: Table,
        source: &str,
        rows: Vec<Row>,
    ) -> Result<IngestOutcome> {
        let scope = format!("{tenant}/{}", table.name());
        let received = rows.len();
        let mut in_request = HashSet::new();
        let (candidates, unique): (Vec<String>, Vec<Row>) = rows
            .into_iter()
            .map(|row| (table.row_key(&row), row))
            .filter(|(key, _)| in_request.insert(key.clone()))
            .unzip();
        let seen = self.state.has_keys(&scope, &candidates).await?;
        let (keys, fresh): (Vec<String>, Vec<Row>) = candidates
            .into_iter()
            .zip(unique)
            .zip(seen)
            .filter(|(_, seen)| !seen)
            .map(|(pair, _)| pair)
            .unzip();
        let duplicates = received - keys.len();
        if !fresh.is_empty() {
            self.lake.write_rows(table, tenant, &fresh).await?;
        }
        // The rows are stored: a failed claim only risks a duplicate that compaction removes.
        if let Err(e) = self.state.record_keys(&scope, &keys, IDEMPOTENCY_TTL).await {
            tracing::warn!(%tenant, table = table.name(), keys = keys.len(), error = %e,
                "stored rows but could not record their keys");
        }
        tracing::info!(%tenant, table = table.name(), source, accepted = keys.len(), duplicates, "ingested");
        Ok(IngestOutcome {
            accepted: keys.len(),
            duplicates,
            bots: 0,
        })
    }
}
