//! Wire formats to Throughline's model: import files (CSV, NDJSON, Parquet), CRM webhooks and
//! ad platforms' reporting APIs.

pub mod ads;
pub mod crm;
pub mod import;
