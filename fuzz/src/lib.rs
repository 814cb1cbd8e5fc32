//! Shared pieces of the fuzz targets: fixed tenant settings, a fixed clock, and deliveries
//! that pass each vendor's verification, so the fuzzed bytes reach the mapping code.

use chrono::{DateTime, Utc};
use throughline_sources::crm::{Checks, CrmBatch, CrmError, Delivery};

/// The fixed "now" of every target (deterministic runs; matches the fixtures' era).
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_785_748_600, 0).expect("a valid fixed time")
}

/// Verification and freshness off: a replay of a delivery verified on arrival.
pub fn replay() -> Checks {
    Checks::replay(now(), true)
}

/// Everything on, as for a live delivery.
pub fn live() -> Checks {
    Checks::live(now())
}

/// Parses a vendor's settings from TOML, as the tenant config does.
pub fn settings<T: serde::de::DeserializeOwned>(text: &str) -> T {
    toml::from_str(text).expect("the fuzz target's own settings parse")
}

/// A delivery with `method` POST.
pub fn delivery<'a>(url: &'a str, headers: &'a [(String, String)], body: &'a [u8]) -> Delivery<'a> {
    Delivery {
        method: "POST",
        url,
        headers,
        body,
    }
}

/// A verified delivery must map exactly as its replay does: verification only decides
/// whether the body is read, never how. Also: a verified delivery is never `Unverified`
/// or `Stale` (the target computed the right credentials over the fuzzed bytes).
pub fn same_outcome(
    verified: &Result<CrmBatch, CrmError>,
    replayed: &Result<CrmBatch, CrmError>,
) {
    if let Err(e @ (CrmError::Unverified(_) | CrmError::Stale(_))) = verified {
        panic!("a delivery signed by the target failed verification: {e}");
    }
    assert_eq!(verified, replayed, "verified and replayed reads differ");
}

pub fn header(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_owned(), value.into())
}
