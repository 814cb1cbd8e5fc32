//! Wire formats to Throughline's model: import files (CSV, NDJSON, Parquet) and CRM webhooks.

pub mod crm;
pub mod import;
