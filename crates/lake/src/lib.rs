//! Throughline's lake: Delta Lake tables in an object store (a local directory or S3),
//! appended by ingest and replaced atomically by jobs, plus the payloads kept verbatim.
//!
//! Layout (a public interface, see docs/LAKE.md):
//! - `tables/<table>/` — a Delta table: `_delta_log/` and data files under
//!   `tenant=<id>/date=<YYYY-MM-DD>/` (the KPI rollups: `tenant=<id>/` only)
//! - `raw/<source>/tenant=<id>/date=<YYYY-MM-DD>/<uuid>.<ext>` — payloads kept verbatim
//! - `quarantine/<source>/tenant=<id>/<time>-<uuid>.ndjson` — rejected records, with reasons
//! - `_state/`, `_config/` — the embedded state store and deployed settings

mod batch;
mod delta;
mod error;
mod jobs;
mod layout;
mod maintenance;
mod migrate;
mod parquet_io;
mod snapshot_store;
pub mod state;
mod store;

pub use batch::rows_to_batch;
pub use delta::{AsOf, DATE_COLUMN, DataFile, TENANT_COLUMN, TableFile, TableFiles};
pub use error::{Error, Result};
pub use jobs::{ATTRIBUTION_TABLE, ROLLED_UP_TABLES, rollup_inputs};
pub use layout::{raw_file, table_prefix};
pub use maintenance::{CompactionReport, VacuumReport};
pub use migrate::Migration;
pub use parquet_io::{read_parquet, read_parquet_file, write_parquet};
pub use snapshot_store::SnapshotStore;
pub use store::{AppendReport, Lake};

/// The state store for this deployment: DynamoDB when `dynamodb_table` names a table
/// (the settings' `THROUGHLINE_STATE_TABLE`), else embedded in the lake (`_state/`).
pub async fn state_store(
    lake: &Lake,
    dynamodb_table: Option<&str>,
) -> std::sync::Arc<dyn state::StateStore> {
    match dynamodb_table.filter(|t| !t.is_empty()) {
        Some(table) => std::sync::Arc::new(state::DynamoStateStore::from_env(table).await),
        None => std::sync::Arc::new(state::EmbeddedStateStore::new(lake.store())),
    }
}
