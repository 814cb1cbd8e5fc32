//! The ingest core: every way data enters the lake goes through these steps, whoever calls
//! them — the HTTP routes (`throughline-http`), `throughline import` / `replay` / `costs
//! pull`, and the `ad-costs` function.
//!
//! - [`Ingestor::ingest`]: keep the raw payload, validate every record (rejected ones go to
//!   `quarantine/` with reasons), skip duplicates by idempotency key, store the rest;
//! - [`Ingestor::ingest_touchpoints`]: the same for touchpoints, group-committed;
//! - [`Ingestor::receive_webhook`]: a CRM delivery: verify, read with the vendor's
//!   connector, validate, store — or keep it for replay;
//! - [`store_file_records`] / [`Ingestor::import_inbox`]: files of records;
//! - [`Ingestor::replay_entry`]: what the quarantine kept, again, after a fix.
//!
//! Errors are [`IngestError`]: what went wrong, with its cause; the HTTP crate maps them to
//! statuses.

mod error;
mod group_commit;
mod inbox;
mod ingestor;
mod replay;
mod webhooks;

pub use error::{IngestError, Result};
pub use inbox::{FileImport, InboxReport, store_file_records};
pub use ingestor::{IngestOutcome, Ingestor};
pub use replay::EntryResult;
pub use webhooks::{DeliveryMeta, QuarantinedDelivery, without_params};
