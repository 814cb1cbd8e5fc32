//! Wire formats to Throughline's model: import files (CSV, NDJSON, Parquet), exchange rates
//! (the NBU's JSON and XML), CRM webhooks and ad platforms' reporting APIs.

pub mod ads;
pub mod crm;
pub mod fx;
pub mod import;
pub mod redact;
