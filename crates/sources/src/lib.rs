//! Wire formats to Throughline's model. Today: import files (CSV, NDJSON, Parquet).
//! CRM webhooks and ad platforms join here, each producing the same validated rows.

pub mod import;
