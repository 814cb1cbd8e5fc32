//! Meta Marketing API (ads insights), sans I/O.
//!
//! Costs come from `GET /{version}/act_{account}/insights` at `level=ad`, one row per ad
//! and day (`time_increment=1`), paged by cursor: each page's `paging.next` (absent on the
//! last page) becomes the next request, as a path and query relative to the configured base
//! URL, without the `access_token` Meta copies into it (the driver authenticates). Numbers
//! arrive as strings; `spend` is a decimal in the account currency.
//!
//! See docs/ads/meta.md.

use serde::Deserialize;
use serde_json::Value as Json;

use super::{AdsError, ApiRequest, DateRange, ErrorAction, Page, Platform, Result, malformed};
use crate::crm::Secret;

const PLATFORM: Platform = Platform::Meta;

/// The Graph / Marketing API version used unless the tenant pins another (v26.0, released
/// 2026-07-29, is the newest documented).
pub const DEFAULT_API_VERSION: &str = "v26.0";

/// The insights fields requested, in order.
pub const FIELDS: &str = "campaign_id,campaign_name,adset_id,adset_name,ad_id,ad_name,impressions,clicks,spend,account_currency,date_start";

/// Rows per page.
pub const PAGE_SIZE: u32 = 500;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The ad account id, with or without the `act_` prefix.
    pub account_id: String,
    /// API version, `v26.0` or `26.0`.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The account currency (ISO 4217), used only when a row carries no
    /// `account_currency`; without it such a row is an error.
    #[serde(default)]
    pub currency: Option<String>,
    /// The access token the driver sends (a Secret: value, env:NAME or ssm:NAME).
    #[serde(default)]
    pub access_token: Option<Secret>,
    /// The API's base URL; the platform's production URL when absent (tests point it at a
    /// local server).
    #[serde(default)]
    pub base_url: Option<String>,
}

fn default_api_version() -> String {
    DEFAULT_API_VERSION.to_owned()
}

/// The numeric account id, without `act_`.
pub(super) fn account(settings: &Settings) -> String {
    let id = settings.account_id.trim();
    id.strip_prefix("act_").unwrap_or(id).to_owned()
}

fn version(settings: &Settings) -> String {
    let v = settings.api_version.trim();
    if v.starts_with('v') {
        v.to_owned()
    } else {
        format!("v{v}")
    }
}

fn insights_path(settings: &Settings) -> String {
    format!("/{}/act_{}/insights", version(settings), account(settings))
}

/// The first request of the report for `range`.
pub fn first_request(settings: &Settings, range: DateRange) -> ApiRequest {
    let time_range = serde_json::json!({
        "since": range.from.format("%Y-%m-%d").to_string(),
        "until": range.to.format("%Y-%m-%d").to_string(),
    })
    .to_string();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("level", "ad")
        .append_pair("time_increment", "1")
        .append_pair("time_range", &time_range)
        .append_pair("fields", FIELDS)
        .append_pair("limit", &PAGE_SIZE.to_string())
        .finish();
    ApiRequest {
        method: "GET",
        path_and_query: format!("{}?{query}", insights_path(settings)),
        headers: Vec::new(),
        body: None,
    }
}

/// `paging.next` (an absolute URL) as a request relative to the base URL, without the
/// access token; it must stay on this account's insights edge.
fn next_request(settings: &Settings, next: &str) -> Result<ApiRequest> {
    let after_scheme = next.split_once("://").map_or(next, |(_, rest)| rest);
    let path_and_query = match after_scheme.find('/') {
        Some(i) if next.contains("://") => &after_scheme[i..],
        _ if next.starts_with('/') => next,
        _ => {
            return Err(malformed(
                PLATFORM,
                format!("paging.next {next:?} is not a URL"),
            ));
        }
    };
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let edge = format!("/act_{}/insights", account(settings));
    if !path.ends_with(&edge) {
        return Err(malformed(
            PLATFORM,
            format!("paging.next leads to {path:?}, not this account's insights ({edge})"),
        ));
    }
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split_once('=').map_or(*pair, |(k, _)| k);
            !pair.is_empty() && key != "access_token" && key != "appsecret_proof"
        })
        .collect();
    let path_and_query = if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    Ok(ApiRequest {
        method: "GET",
        path_and_query,
        headers: Vec::new(),
        body: None,
    })
}

/// A field as text: Meta writes numbers as strings, but a bare number is accepted.
fn text(row: &Json, key: &str) -> Option<String> {
    match row.get(key)? {
        Json::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn required(row: &Json, i: usize, key: &str) -> Result<String> {
    text(row, key).ok_or_else(|| malformed(PLATFORM, format!("row {i}: {key} is missing or empty")))
}

/// Reads one response body (HTTP 2xx) into costs and the next request.
pub fn read_page(settings: &Settings, range: DateRange, body: &[u8]) -> Result<Page> {
    let parsed: Json = serde_json::from_slice(body)
        .map_err(|e| malformed(PLATFORM, format!("insights body is not JSON: {e}")))?;
    if let Some(error) = parsed.get("error") {
        let e = MetaError::from_error(error);
        return Err(malformed(
            PLATFORM,
            format!("a 2xx answer carried an error: {}", e.describe()),
        ));
    }
    let rows = parsed
        .get("data")
        .and_then(Json::as_array)
        .ok_or_else(|| malformed(PLATFORM, "insights body has no data array"))?;
    let account_id = account(settings);
    let mut page = Page::default();
    let (mut currency_from_settings, mut no_spend, mut outside) = (0usize, 0usize, 0usize);
    for (i, row) in rows.iter().enumerate() {
        if !row.is_object() {
            return Err(malformed(PLATFORM, format!("row {i} is not an object")));
        }
        let date_text = required(row, i, "date_start")?;
        let date = chrono::NaiveDate::parse_from_str(&date_text, "%Y-%m-%d").map_err(|_| {
            malformed(
                PLATFORM,
                format!("row {i}: date_start {date_text:?} is not YYYY-MM-DD"),
            )
        })?;
        if let Some(stop) = text(row, "date_stop")
            && stop != date_text
        {
            return Err(malformed(
                PLATFORM,
                format!("row {i} spans {date_text}..{stop}, not one day (time_increment=1)"),
            ));
        }
        if date < range.from || date > range.to {
            outside += 1;
        }
        let campaign_id = required(row, i, "campaign_id")?;
        let currency = match text(row, "account_currency") {
            Some(c) => c,
            None => match settings.currency.as_deref().map(str::trim) {
                Some(c) if !c.is_empty() => {
                    currency_from_settings += 1;
                    c.to_owned()
                }
                _ => {
                    return Err(malformed(
                        PLATFORM,
                        format!(
                            "row {i}: account_currency is missing and meta.currency is not set; set meta.currency to the ad account's currency"
                        ),
                    ));
                }
            },
        };
        let currency = throughline_model::field::parse_currency("account_currency", &currency)
            .map_err(|e| malformed(PLATFORM, format!("row {i}: {e}")))?;
        let cost = match text(row, "spend") {
            Some(spend) => {
                if throughline_model::money::parse_money(&spend).is_err() || spend.starts_with('-')
                {
                    return Err(malformed(
                        PLATFORM,
                        format!("row {i}: spend {spend:?} is not a non-negative decimal amount"),
                    ));
                }
                spend
            }
            None => {
                no_spend += 1;
                "0".to_owned()
            }
        };
        let mut record =
            super::cost_record(PLATFORM, date, &account_id, &campaign_id, &cost, &currency);
        for (column, key) in [
            ("campaign_name", "campaign_name"),
            ("ad_group_id", "adset_id"),
            ("ad_group_name", "adset_name"),
            ("ad_id", "ad_id"),
            ("ad_name", "ad_name"),
        ] {
            if let Some(value) = text(row, key) {
                record.insert(column.into(), value);
            }
        }
        for key in ["impressions", "clicks"] {
            if let Some(n) = text(row, key) {
                if n.parse::<u64>().is_err() || n.parse::<i64>().is_err() {
                    return Err(malformed(
                        PLATFORM,
                        format!("row {i}: {key} {n:?} is not a whole number"),
                    ));
                }
                record.insert(key.into(), n);
            }
        }
        page.costs.push(record);
    }
    page.note_rows(
        currency_from_settings,
        "carried no account_currency; used meta.currency from the settings",
    );
    page.note_rows(
        no_spend,
        "carried no spend (Meta leaves out empty metrics); cost recorded as 0",
    );
    page.note_outside(outside, range);
    let next = parsed
        .get("paging")
        .and_then(|p| p.get("next"))
        .and_then(Json::as_str);
    page.next = match next {
        None => None,
        // A page without rows that still links onwards would page forever: the report
        // has ended (the driver also caps the number of pages).
        Some(_) if rows.is_empty() => {
            page.notes.push(
                "Meta sent an empty page that still links to a next one; treated as the end"
                    .to_owned(),
            );
            None
        }
        Some(next) => {
            let request = next_request(settings, next)?;
            let after = query_value(&request.path_and_query, "after");
            if after.is_none() {
                return Err(malformed(
                    PLATFORM,
                    "paging.next has no after cursor, so it would fetch the first page again",
                ));
            }
            Some(request)
        }
    };
    Ok(page)
}

fn query_value(path_and_query: &str, key: &str) -> Option<String> {
    let (_, query) = path_and_query.split_once('?')?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// The parts of a Graph API error body that decide what to do.
#[derive(Debug, Default)]
struct MetaError {
    code: Option<i64>,
    subcode: Option<i64>,
    kind: Option<String>,
    message: Option<String>,
    transient: bool,
}

impl MetaError {
    fn parse(body: &[u8]) -> MetaError {
        serde_json::from_slice::<Json>(body)
            .ok()
            .and_then(|v| v.get("error").map(Self::from_error))
            .unwrap_or_default()
    }

    fn from_error(error: &Json) -> MetaError {
        let int = |key: &str| match error.get(key) {
            Some(Json::Number(n)) => n.as_i64(),
            Some(Json::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let string = |key: &str| error.get(key).and_then(Json::as_str).map(str::to_owned);
        MetaError {
            code: int("code"),
            subcode: int("error_subcode"),
            kind: string("type"),
            message: string("error_user_msg").or_else(|| string("message")),
            transient: error.get("is_transient").and_then(Json::as_bool) == Some(true),
        }
    }

    fn describe(&self) -> String {
        let text = self.message.as_deref().unwrap_or("no message");
        let mut message: String = text.chars().take(300).collect();
        if message.len() < text.len() {
            message.push('…');
        }
        let mut parts = Vec::new();
        if let Some(kind) = &self.kind {
            parts.push(kind.clone());
        }
        if let Some(code) = self.code {
            parts.push(format!("code {code}"));
        }
        if let Some(sub) = self.subcode {
            parts.push(format!("subcode {sub}"));
        }
        if parts.is_empty() {
            message
        } else {
            format!("{message} ({})", parts.join(", "))
        }
    }
}

/// Graph API throttling codes: application (4), user (17), page (32), custom / ad account
/// (613) and the Business Use Case limits (80000 ads insights … 80014).
fn is_rate_limit(code: i64) -> bool {
    matches!(code, 4 | 17 | 32 | 613 | 80000..=80014)
}

/// What to do about a non-2xx answer, from its status, `Retry-After` header and body.
pub fn read_error(
    settings: &Settings,
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> ErrorAction {
    let error = MetaError::parse(body);
    let after_secs = super::retry_after_secs(retry_after);
    let stop = |reason: String| {
        ErrorAction::Stop(AdsError::Refused {
            platform: PLATFORM.name(),
            account: format!("act_{}", account(settings)),
            reason,
        })
    };
    let code = error.code.unwrap_or(0);
    match (code, error.subcode) {
        (190, Some(463)) => {
            return stop(format!(
                "the access token expired: re-authorise the Meta connection or issue a new system-user token ({})",
                error.describe()
            ));
        }
        (190, Some(460)) => {
            return stop(format!(
                "the access token was invalidated because the user changed their password: re-authorise the Meta connection ({})",
                error.describe()
            ));
        }
        (190, _) | (102, _) => {
            return stop(format!(
                "the access token is invalid or expired: re-authorise the Meta connection ({})",
                error.describe()
            ));
        }
        (c, _) if is_rate_limit(c) => return ErrorAction::Retry { after_secs },
        (100, Some(1504018)) | (2, Some(1504038)) => {
            return stop(format!(
                "the insights request timed out: import a shorter date range ({})",
                error.describe()
            ));
        }
        (10, _) | (200..=299, _) => {
            return stop(format!(
                "the token may not read this ad account's insights: grant ads_read, and add the user or system user to the ad account in Business Manager ({})",
                error.describe()
            ));
        }
        (100, Some(33)) | (803, _) => {
            return stop(format!(
                "the ad account does not exist or the token cannot see it: check meta.account_id ({})",
                error.describe()
            ));
        }
        _ => {}
    }
    if status == 429 || status >= 500 || error.transient || matches!(code, 1 | 2) {
        return ErrorAction::Retry { after_secs };
    }
    stop(format!(
        "Meta refused the request (HTTP {status}): {}; check meta.account_id and meta.api_version",
        error.describe()
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;
    use crate::ads::test_support::{assert_valid, range, record_of};

    const PAGE_1: &str = include_str!("../../tests/fixtures/ads/meta/insights_page_1.json");
    const PAGE_2: &str = include_str!("../../tests/fixtures/ads/meta/insights_page_2.json");
    const EXPIRED: &str = include_str!("../../tests/fixtures/ads/meta/token_expired.json");
    const RATE_LIMIT: &str = include_str!("../../tests/fixtures/ads/meta/rate_limited.json");
    const MALFORMED: &str = include_str!("../../tests/fixtures/ads/meta/malformed.json");
    const NO_CURRENCY: &str = include_str!("../../tests/fixtures/ads/meta/no_currency.json");

    fn settings() -> Settings {
        toml::from_str("account_id = \"act_1029384756\"").unwrap()
    }

    /// A row with this account's constant columns.
    fn row(pairs: &[(&str, &str)]) -> crate::ads::CostRecord {
        let mut r = record_of(&[
            ("platform", "meta"),
            ("account_id", "1029384756"),
            ("currency", "USD"),
        ]);
        r.extend(record_of(pairs));
        r
    }

    #[test]
    fn first_request_asks_for_ad_level_days() {
        let request = first_request(&settings(), range());
        assert_eq!(request.method, "GET");
        assert_eq!(request.body, None);
        let (path, query) = request.path_and_query.split_once('?').unwrap();
        assert_eq!(path, "/v26.0/act_1029384756/insights");
        let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(params["level"], "ad");
        assert_eq!(params["time_increment"], "1");
        assert_eq!(
            params["time_range"],
            r#"{"since":"2026-11-01","until":"2026-11-02"}"#
        );
        assert_eq!(params["fields"], FIELDS);
        assert_eq!(params["limit"], "500");
        assert!(!query.contains('{') && !query.contains('"'), "{query}");
        let s: Settings = toml::from_str("account_id = \"42\"\napi_version = \"25.0\"").unwrap();
        assert!(
            first_request(&s, range())
                .path_and_query
                .starts_with("/v25.0/act_42/insights?")
        );
    }

    #[test]
    fn two_pages_of_exact_rows() {
        let first = read_page(&settings(), range(), PAGE_1.as_bytes()).unwrap();
        assert!(first.notes.is_empty(), "{:?}", first.notes);
        assert_eq!(
            first.costs,
            vec![
                row(&[
                    ("date", "2026-11-01"),
                    ("campaign_id", "120210000000001"),
                    ("campaign_name", "Black Friday — prospecting"),
                    ("ad_group_id", "120210000000101"),
                    ("ad_group_name", "Lookalike 1%"),
                    ("ad_id", "120210000001001"),
                    ("ad_name", "Carousel sofas"),
                    ("impressions", "12040"),
                    ("clicks", "311"),
                    ("cost", "182.47"),
                ]),
                row(&[
                    ("date", "2026-11-01"),
                    ("campaign_id", "120210000000002"),
                    ("campaign_name", "Retargeting"),
                    ("ad_group_id", "120210000000202"),
                    ("ad_group_name", "Cart abandoners 7d"),
                    ("ad_id", "120210000002002"),
                    ("ad_name", "Video 15s"),
                    ("impressions", "3300"),
                    ("clicks", "95"),
                    ("cost", "41.09"),
                ]),
            ]
        );
        let next = first.next.expect("a second page");
        assert_eq!(next.method, "GET");
        assert!(
            next.path_and_query
                .starts_with("/v26.0/act_1029384756/insights?"),
            "{}",
            next.path_and_query
        );
        assert!(!next.path_and_query.contains("access_token"));
        assert_eq!(
            query_value(&next.path_and_query, "after").as_deref(),
            Some("MQZDZD")
        );
        assert_eq!(
            query_value(&next.path_and_query, "level").as_deref(),
            Some("ad")
        );

        let second = read_page(&settings(), range(), PAGE_2.as_bytes()).unwrap();
        assert_eq!(second.next, None);
        assert_eq!(
            second.costs,
            vec![
                row(&[
                    ("date", "2026-11-02"),
                    ("campaign_id", "120210000000001"),
                    ("campaign_name", "Black Friday — prospecting"),
                    ("ad_group_id", "120210000000101"),
                    ("ad_group_name", "Lookalike 1%"),
                    ("ad_id", "120210000001001"),
                    ("ad_name", "Carousel sofas"),
                    ("impressions", "14511"),
                    ("clicks", "402"),
                    ("cost", "230.5"),
                ]),
                row(&[
                    ("date", "2026-11-02"),
                    ("campaign_id", "120210000000002"),
                    ("campaign_name", "Retargeting"),
                    ("ad_group_id", "120210000000202"),
                    ("ad_group_name", "Cart abandoners 7d"),
                    ("ad_id", "120210000002002"),
                    ("ad_name", "Video 15s"),
                    ("impressions", "2870"),
                    ("cost", "0"),
                ]),
            ]
        );
        assert_eq!(second.notes.len(), 1, "{:?}", second.notes);
        assert_valid(&first.costs);
        assert_valid(&second.costs);
    }

    #[test]
    fn next_links_stay_on_the_account() {
        let s = settings();
        let other = r#"{"data":[{"campaign_id":"1","spend":"1","account_currency":"USD","date_start":"2026-11-01"}],
            "paging":{"next":"https://graph.facebook.com/v26.0/act_999/insights?after=x"}}"#;
        assert!(read_page(&s, range(), other.as_bytes()).is_err());
        let no_cursor = r#"{"data":[{"campaign_id":"1","spend":"1","account_currency":"USD","date_start":"2026-11-01"}],
            "paging":{"next":"https://graph.facebook.com/v26.0/act_1029384756/insights?level=ad"}}"#;
        assert!(read_page(&s, range(), no_cursor.as_bytes()).is_err());
        let endless = r#"{"data":[],"paging":{"cursors":{"before":"MAZDZD","after":"MAZDZD"},
            "next":"https://graph.facebook.com/v26.0/act_1029384756/insights?after=MAZDZD"}}"#;
        let page = read_page(&s, range(), endless.as_bytes()).unwrap();
        assert_eq!(page.next, None);
        assert_eq!(page.notes.len(), 1);
    }

    #[test]
    fn missing_currency_needs_the_setting() {
        let err = read_page(&settings(), range(), NO_CURRENCY.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, AdsError::Malformed { reason, .. } if reason.contains("account_currency")),
            "{err}"
        );
        let s: Settings =
            toml::from_str("account_id = \"1029384756\"\ncurrency = \"eur\"").unwrap();
        let page = read_page(&s, range(), NO_CURRENCY.as_bytes()).unwrap();
        assert_eq!(page.costs[0]["currency"], "EUR");
        assert_eq!(page.costs[0]["cost"], "12.34");
        assert_eq!(page.notes.len(), 1);
        assert_valid(&page.costs);
    }

    #[test]
    fn malformed_bodies_name_the_problem() {
        let err = read_page(&settings(), range(), MALFORMED.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, AdsError::Malformed { reason, .. } if reason.contains("spend")),
            "{err}"
        );
        for body in [
            &b"[]"[..],
            b"{\"data\": {}}",
            b"not json",
            b"{\"data\":[1]}",
        ] {
            assert!(matches!(
                read_page(&settings(), range(), body),
                Err(AdsError::Malformed { .. })
            ));
        }
    }

    #[test]
    fn expired_token_stops_with_what_to_do() {
        let action = read_error(&settings(), 400, None, EXPIRED.as_bytes());
        let ErrorAction::Stop(AdsError::Refused {
            platform,
            account,
            reason,
        }) = action
        else {
            panic!("{action:?}")
        };
        assert_eq!((platform, account.as_str()), ("meta", "act_1029384756"));
        assert!(
            reason.starts_with("the access token expired: re-authorise"),
            "{reason}"
        );
    }

    #[test]
    fn rate_limits_and_server_errors_retry() {
        assert_eq!(
            read_error(&settings(), 400, Some("120"), RATE_LIMIT.as_bytes()),
            ErrorAction::Retry {
                after_secs: Some(120)
            }
        );
        assert_eq!(
            read_error(&settings(), 400, None, RATE_LIMIT.as_bytes()),
            ErrorAction::Retry { after_secs: None }
        );
        for code in [4, 17, 32, 613, 80000, 80004] {
            let body = format!(r#"{{"error":{{"message":"slow down","code":{code}}}}}"#);
            assert_eq!(
                read_error(&settings(), 400, None, body.as_bytes()),
                ErrorAction::Retry { after_secs: None },
                "{code}"
            );
        }
        assert_eq!(
            read_error(&settings(), 502, None, b"<html>Bad gateway</html>"),
            ErrorAction::Retry { after_secs: None }
        );
        let denied = r#"{"error":{"message":"(#200) Ad account owner has NOT grant ads_management or ads_read permission","type":"OAuthException","code":200}}"#;
        assert!(matches!(
            read_error(&settings(), 403, None, denied.as_bytes()),
            ErrorAction::Stop(AdsError::Refused { reason, .. }) if reason.contains("ads_read")
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), status in 0u16..1000) {
            let s = settings();
            let _ = read_page(&s, range(), &body);
            let _ = read_error(&s, status, std::str::from_utf8(&body).ok(), &body);
        }

        #[test]
        fn arbitrary_rows_never_panic(
            spend in ".{0,10}", clicks in ".{0,6}", date in ".{0,12}", next in ".{0,40}",
        ) {
            let body = serde_json::json!({
                "data": [{"campaign_id": "1", "spend": spend, "clicks": clicks,
                          "date_start": date, "account_currency": "USD"}],
                "paging": {"next": next},
            }).to_string();
            if let Ok(page) = read_page(&settings(), range(), body.as_bytes()) {
                assert_valid(&page.costs);
            }
        }
    }
}
