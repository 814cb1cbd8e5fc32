//! Ad platforms' reporting APIs, sans I/O: each connector says which HTTP request to make
//! for a date range (and a page cursor), and reads a response body into `ad_costs` records
//! (the import columns of docs/IMPORT.md) plus the next cursor. The driver that sends the
//! requests — credentials, retries with backoff honouring `Retry-After`, paging, the
//! restatement window — is one piece of code for every platform, so each connector is
//! tested by replaying the platform's documented response shapes, no network needed.
//!
//! One module per platform, each with a `Settings` (account ids, API version, credentials
//! and base URL from the tenant config; secrets as [`crate::crm::Secret`]) and the functions
//! `first_request`, `read_page` and `read_error`. [`Account`] puts the four behind one
//! interface for the driver; [`AdsSettings`] is a tenant's `[tenants.<id>.ads]` config.

pub mod google_ads;
pub mod meta;
pub mod microsoft;
pub mod tiktok;

mod account;

use std::collections::BTreeMap;

use chrono::NaiveDate;

pub use account::{Account, AdsSettings, Credentials, OAuthRefresh};

/// A record in the `ad_costs` import columns: date, platform, account_id, campaign_id,
/// campaign_name, ad_group_id, ad_group_name, ad_id, ad_name, impressions, clicks, cost
/// (a decimal string in the account currency), currency.
pub type CostRecord = BTreeMap<String, String>;

/// The platforms with a connector; the name is `--platform` and the `platform` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    GoogleAds,
    Meta,
    TikTok,
    Microsoft,
}

impl Platform {
    pub const ALL: [Platform; 4] = [
        Platform::GoogleAds,
        Platform::Meta,
        Platform::TikTok,
        Platform::Microsoft,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Platform::GoogleAds => "google_ads",
            Platform::Meta => "meta",
            Platform::TikTok => "tiktok",
            Platform::Microsoft => "microsoft",
        }
    }

    pub fn from_name(name: &str) -> Option<Platform> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The production base URL of the platform's reporting API.
    pub fn production_url(self) -> &'static str {
        match self {
            Platform::GoogleAds => "https://googleads.googleapis.com",
            Platform::Meta => "https://graph.facebook.com",
            Platform::TikTok => "https://business-api.tiktok.com",
            Platform::Microsoft => "https://reporting.api.bingads.microsoft.com",
        }
    }
}

/// Inclusive dates, UTC days as the platform reports them (in the account's time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    /// Every day of the range, in order.
    pub fn days(self) -> impl Iterator<Item = NaiveDate> {
        self.from.iter_days().take_while(move |d| *d <= self.to)
    }

    /// The range cut into consecutive pieces of at most `days` days (TikTok's daily reports
    /// span at most 30 days; smaller pieces also bound the memory of a long backfill).
    pub fn chunks(self, days: u32) -> Vec<DateRange> {
        let step = chrono::Days::new(u64::from(days.max(1)) - 1);
        let mut pieces = Vec::new();
        let mut from = self.from;
        while from <= self.to {
            let to = from
                .checked_add_days(step)
                .map_or(self.to, |t| t.min(self.to));
            pieces.push(DateRange { from, to });
            match to.succ_opt() {
                Some(next) => from = next,
                None => break,
            }
        }
        pieces
    }
}

/// An HTTP request to send, relative to the connector's base URL (configurable, so tests
/// point it at a local server replaying documented responses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    pub method: &'static str,
    /// Path and query, appended to the base URL, e.g. `/v19/customers/123/googleAds:searchStream`.
    pub path_and_query: String,
    /// Headers besides authentication, which the driver adds (`Authorization: Bearer …`).
    pub headers: Vec<(String, String)>,
    /// JSON or form body, if any.
    pub body: Option<String>,
}

/// What one response said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub costs: Vec<CostRecord>,
    /// The next request to send for the same report (paging, or polling an async report);
    /// `None` when the report is complete.
    pub next: Option<ApiRequest>,
    /// Facts the response did not carry, said, never invented.
    pub notes: Vec<String>,
}

/// A cost row with the columns every platform gives: day, platform, account, campaign,
/// cost and currency (empty values left out, for validation to name). Connectors add the
/// rest (names, ad groups, ads, impressions, clicks).
pub(crate) fn cost_record(
    platform: Platform,
    date: NaiveDate,
    account_id: &str,
    campaign_id: &str,
    cost: &str,
    currency: &str,
) -> CostRecord {
    [
        ("date", date.format("%Y-%m-%d").to_string().as_str()),
        ("platform", platform.name()),
        ("account_id", account_id),
        ("campaign_id", campaign_id),
        ("cost", cost),
        ("currency", currency),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .map(|(column, value)| (column.to_owned(), value.to_owned()))
    .collect()
}

impl Page {
    /// Notes something of `rows` rows of the report, when there are any.
    pub(crate) fn note_rows(&mut self, rows: usize, what: &str) {
        if rows > 0 {
            self.notes.push(format!("{rows} rows {what}"));
        }
    }

    /// Notes the rows dated outside the asked range (kept: the platform's day is the truth).
    pub(crate) fn note_outside(&mut self, rows: usize, range: DateRange) {
        self.note_rows(
            rows,
            &format!(
                "are dated outside the requested range {}..{}",
                range.from, range.to
            ),
        );
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AdsError {
    /// The platform answered with an error the user must act on (expired token, no access):
    /// the message names the platform, the account and what to do.
    #[error("{platform} account {account}: {reason}")]
    Refused {
        platform: &'static str,
        account: String,
        reason: String,
    },
    /// The body is not the documented shape.
    #[error("malformed {platform} response: {reason}")]
    Malformed {
        platform: &'static str,
        reason: String,
    },
}

pub type Result<T, E = AdsError> = std::result::Result<T, E>;

/// What to do about a non-2xx answer (each connector reads its platform's error body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorAction {
    /// Rate limit or transient failure: retry, after this many seconds if the platform said.
    Retry { after_secs: Option<u64> },
    /// Retrying cannot help (expired token, no access, bad request): stop this account.
    Stop(AdsError),
}

pub(crate) fn malformed(platform: Platform, reason: impl Into<String>) -> AdsError {
    AdsError::Malformed {
        platform: platform.name(),
        reason: reason.into(),
    }
}

/// Whether `text` is a non-negative decimal amount as the platforms write spend:
/// digits, optionally a point and more digits (`"12"`, `"0.99"`).
pub(crate) fn is_decimal(text: &str) -> bool {
    let (units, fraction) = text.split_once('.').unwrap_or((text, "0"));
    !units.is_empty()
        && !fraction.is_empty()
        && units.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// A `Retry-After` header in whole seconds; an HTTP-date or garbage reads as none (the
/// driver then backs off on its own).
pub fn retry_after_secs(header: Option<&str>) -> Option<u64> {
    header.and_then(|v| v.trim().parse::<u64>().ok())
}

/// Micros (Google Ads `cost_micros`, Microsoft) as a decimal string with 6 places, exactly:
/// `"1234567"` → `"1.234567"`. `None` for anything that is not an integer.
pub fn micros_to_decimal(micros: &str) -> Option<String> {
    let micros = micros.trim();
    let (sign, digits) = match micros.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", micros),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let padded = format!("{digits:0>7}");
    let (units, fraction) = padded.split_at(padded.len() - 6);
    Some(format!("{sign}{units}.{fraction}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cut_into_pieces() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
        let range = DateRange {
            from: day(1),
            to: day(31),
        };
        let pieces = range.chunks(30);
        assert_eq!(
            pieces,
            vec![
                DateRange {
                    from: day(1),
                    to: day(30)
                },
                DateRange {
                    from: day(31),
                    to: day(31)
                }
            ]
        );
        assert_eq!(range.days().count(), 31);
        assert_eq!(range.chunks(31), vec![range]);
    }

    #[test]
    fn micros_are_exact() {
        assert_eq!(micros_to_decimal("1234567").as_deref(), Some("1.234567"));
        assert_eq!(micros_to_decimal("0").as_deref(), Some("0.000000"));
        assert_eq!(micros_to_decimal("5").as_deref(), Some("0.000005"));
        assert_eq!(micros_to_decimal("-2500000").as_deref(), Some("-2.500000"));
        assert_eq!(micros_to_decimal("1.5"), None);
        assert_eq!(micros_to_decimal(""), None);
    }
}

/// What every connector's tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use std::collections::HashMap;

    use chrono::NaiveDate;
    use throughline_model::table::{ParseOptions, Table};

    use super::{CostRecord, DateRange};
    pub use crate::crm::test_support::record_of;

    /// The range the fixtures cover: 2026-11-01 and 2026-11-02.
    pub fn range() -> DateRange {
        DateRange {
            from: NaiveDate::from_ymd_opt(2026, 11, 1).expect("a date"),
            to: NaiveDate::from_ymd_opt(2026, 11, 2).expect("a date"),
        }
    }

    /// Every cost passes `ad_costs` validation, as the import will check it.
    pub fn assert_valid(costs: &[CostRecord]) {
        for record in costs {
            let map: HashMap<String, String> = record.clone().into_iter().collect();
            Table::AdCosts
                .parse(&map, &ParseOptions::default())
                .unwrap_or_else(|e| panic!("{record:?}: {e:?}"));
        }
    }
}
