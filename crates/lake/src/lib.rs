//! Throughline's lake: Hive-partitioned Parquet tables in an object store (a local
//! directory or S3), appended idempotently by ingest and replaced atomically by jobs.
//!
//! Layout (a public interface, see docs/LAKE.md):
//! - `tables/<table>/tenant=<id>/date=<YYYY-MM-DD>/part-<uuid>.parquet`, and
//!   `pull-<platform>-<account>.parquet` for the rows a connector pulled (replaced whole)
//! - `raw/<source>/tenant=<id>/date=<YYYY-MM-DD>/<uuid>.<ext>` — payloads kept verbatim
//! - `quarantine/<source>/tenant=<id>/<time>-<uuid>.ndjson` — rejected records, with reasons
//! - `_manifests/<table>/tenant=<id>/<version>.json` — the committed file set of job outputs

mod batch;
mod compact;
mod error;
mod layout;
mod manifest;
mod parquet_io;
mod rollups;
pub mod state;
mod store;

pub use batch::rows_to_batch;
pub use compact::CompactionReport;
pub use error::{Error, Result};
pub use layout::{partition_prefix, raw_file, table_prefix};
pub use manifest::Manifest;
pub use parquet_io::{read_parquet, read_parquet_file, write_parquet};
pub use rollups::{ROLLED_UP_TABLES, ROLLUPS_TABLE};
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
