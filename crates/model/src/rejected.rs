//! A record that failed validation, kept with its reason so it can be fixed and replayed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Where the record came from: a file name, or a webhook source.
    pub origin: String,
    /// 1-based line (CSV, NDJSON) or row number (Parquet); 0 when the whole input failed.
    pub line: u64,
    pub reason: String,
    /// The record as received (raw values: quarantine, unlike tables/, may hold PII).
    pub record: BTreeMap<String, String>,
}
