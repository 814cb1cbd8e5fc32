//! The ad-costs pull: sends the requests the connectors of `throughline_sources::ads`
//! describe, and stores what they read.
//!
//! One driver for every platform (docs/ads/README.md):
//! - credentials: an OAuth refresh token exchanged once per account and pull (Google Ads,
//!   Microsoft), or a long-lived token (Meta, TikTok) — from the config's secrets;
//! - retries with exponential backoff and full jitter, honouring `Retry-After` (and the
//!   platforms' own retry hints the connectors read from error bodies);
//! - paging and polling until the report is complete, capped by `ads.max_pages`;
//! - the window: every pull re-reads the last `ads.lookback_days` (platforms restate recent
//!   days) and each day of each account is replaced whole — one file per day and account
//!   (`pull-<platform>-<account>.parquet`), one put — so re-running a pull changes nothing
//!   and a restated day replaces the old one;
//! - a report is stored only once it is complete and every row is valid; the account's
//!   cursor in the state store advances after its days are stored.

mod fetch;
mod pull;
mod scheduled;
mod token;
mod unzip;

pub use fetch::PullPolicy;
pub use pull::{AccountReport, PullWindow, Puller};
pub use scheduled::{ScheduledError, TenantCosts, pull_every_tenant};

use throughline_sources::ads::AdsError;

/// Why an account's pull stopped. Every message names the platform and the account and
/// says what to do.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The platform refused (expired token, no access) or answered in an unexpected shape.
    #[error("{0}")]
    Platform(#[from] AdsError),
    #[error("{platform} account {account}: {reason}")]
    Failed {
        platform: &'static str,
        account: String,
        reason: String,
    },
    #[error("storing {platform} account {account}: {source}")]
    Storage {
        platform: &'static str,
        account: String,
        source: throughline_lake::Error,
    },
}
