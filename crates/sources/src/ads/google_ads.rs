//! Google Ads API (REST), sans I/O.
//!
//! Costs come from one `googleAds:searchStream` request per date range: a GAQL query over
//! `ad_group` segmented by `segments.date`. searchStream answers with a JSON array of
//! batches (`[{"results": [...], "fieldMask": "...", "requestId": "..."}]`) and has no
//! paging, so [`read_page`] never returns a next request. Ids and 64-bit metrics arrive as
//! strings in camelCase JSON; `metrics.costMicros` becomes the `cost` column exactly.
//!
//! [`click_view_request`] / [`read_click_view`] read `click_view` (one day per query, as
//! Google requires) to map gclids to campaigns for clicks that carry no UTM tags.
//!
//! See docs/ads/google_ads.md.

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value as Json;

use super::{
    AdsError, ApiRequest, DateRange, ErrorAction, Page, Platform, Result, malformed,
    micros_to_decimal,
};
use crate::crm::Secret;

const PLATFORM: Platform = Platform::GoogleAds;

/// The Google Ads API version used unless the tenant pins another (v26, released
/// 2026-10-14, is the newest documented major version).
pub const DEFAULT_API_VERSION: &str = "v26";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The customer id of the advertising account, with or without dashes (`123-456-7890`).
    pub account_id: String,
    /// API version, `v26` or `26`.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The developer token of the Google Ads API Center (sent as `developer-token`).
    #[serde(default)]
    pub developer_token: Option<Secret>,
    /// The manager (MCC) account the OAuth user reaches the account through, if any
    /// (sent as `login-customer-id`).
    #[serde(default)]
    pub login_customer_id: Option<String>,
    /// OAuth 2.0 refresh-token credentials: the driver exchanges them for an access token.
    #[serde(default)]
    pub auth: Option<super::OAuthRefresh>,
    /// The API's base URL; the platform's production URL when absent (tests point it at a
    /// local server).
    #[serde(default)]
    pub base_url: Option<String>,
}

fn default_api_version() -> String {
    DEFAULT_API_VERSION.to_owned()
}

/// A click from `click_view`: which campaign and ad group a gclid belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickRecord {
    pub gclid: String,
    pub date: NaiveDate,
    pub campaign_id: String,
    pub ad_group_id: Option<String>,
}

/// The customer id as Google writes it in URLs: digits only.
pub(super) fn customer_id(id: &str) -> String {
    id.chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .collect()
}

fn version(settings: &Settings) -> String {
    let v = settings.api_version.trim();
    if v.starts_with('v') {
        v.to_owned()
    } else {
        format!("v{v}")
    }
}

fn search_stream(settings: &Settings, query: String) -> ApiRequest {
    let mut headers = Vec::new();
    if let Some(token) = &settings.developer_token {
        headers.push(("developer-token".to_owned(), token.expose()));
    }
    if let Some(login) = &settings.login_customer_id {
        let login = customer_id(login);
        if !login.is_empty() {
            headers.push(("login-customer-id".to_owned(), login));
        }
    }
    headers.push(("content-type".to_owned(), "application/json".to_owned()));
    ApiRequest {
        method: "POST",
        path_and_query: format!(
            "/{}/customers/{}/googleAds:searchStream",
            version(settings),
            customer_id(&settings.account_id)
        ),
        headers,
        body: Some(serde_json::json!({ "query": query }).to_string()),
    }
}

/// The GAQL query for costs per ad group and day over `range`.
pub fn cost_query(range: DateRange) -> String {
    format!(
        "SELECT customer.currency_code, campaign.id, campaign.name, ad_group.id, \
         ad_group.name, segments.date, metrics.impressions, metrics.clicks, \
         metrics.cost_micros FROM ad_group WHERE segments.date BETWEEN '{}' AND '{}'",
        range.from.format("%Y-%m-%d"),
        range.to.format("%Y-%m-%d")
    )
}

/// The first request of the report for `range`.
pub fn first_request(settings: &Settings, range: DateRange) -> ApiRequest {
    search_stream(settings, cost_query(range))
}

/// The `click_view` request for one day (Google allows one day per query, within the last
/// 90 days).
pub fn click_view_request(settings: &Settings, date: NaiveDate) -> ApiRequest {
    search_stream(
        settings,
        format!(
            "SELECT click_view.gclid, campaign.id, ad_group.id, segments.date \
             FROM click_view WHERE segments.date = '{}'",
            date.format("%Y-%m-%d")
        ),
    )
}

/// The rows of a searchStream body, batch after batch; an `error` element (the stream
/// failed part-way) is an error, never a short report.
fn stream_rows(body: &[u8]) -> Result<Vec<Json>> {
    let parsed: Json = serde_json::from_slice(body)
        .map_err(|e| malformed(PLATFORM, format!("searchStream body is not JSON: {e}")))?;
    let batches = match parsed {
        Json::Array(batches) => batches,
        // A single batch object is accepted too (the non-streaming `search` shape).
        Json::Object(_) => vec![parsed],
        _ => {
            return Err(malformed(
                PLATFORM,
                "searchStream body is not an array of batches",
            ));
        }
    };
    let mut rows = Vec::new();
    for (i, batch) in batches.into_iter().enumerate() {
        let Json::Object(mut batch) = batch else {
            return Err(malformed(PLATFORM, format!("batch {i} is not an object")));
        };
        if let Some(error) = batch.get("error") {
            let e = GoogleError::from_error(error);
            return Err(malformed(
                PLATFORM,
                format!(
                    "the stream failed after {i} batches ({}): {}; import the range again",
                    e.status.as_deref().unwrap_or("no status"),
                    e.message()
                ),
            ));
        }
        // A `search` answer is one page of a report: the rest of its days would read as
        // days without spend and replace the stored ones.
        if let Some(token) = batch.get("nextPageToken").and_then(Json::as_str)
            && !token.trim().is_empty()
        {
            return Err(malformed(
                PLATFORM,
                format!(
                    "batch {i} carries a nextPageToken: the answer is one page of a paged \
                     `search` report, not the whole report; nothing was stored — point \
                     base_url at the API's googleAds:searchStream, which answers in one body"
                ),
            ));
        }
        let delivered = rows.len();
        match batch.remove("results") {
            None | Some(Json::Null) => {}
            Some(Json::Array(results)) => rows.extend(results),
            Some(_) => {
                return Err(malformed(
                    PLATFORM,
                    format!("batch {i}: results is not an array"),
                ));
            }
        }
        if let Some(total) = text_at(&Json::Object(batch), &["totalResultsCount"])
            && total.parse::<usize>().ok() != Some(rows.len() - delivered)
        {
            return Err(malformed(
                PLATFORM,
                format!(
                    "batch {i} says totalResultsCount {total} but carries {} results: an \
                     incomplete report is not stored; import the range again",
                    rows.len() - delivered
                ),
            ));
        }
    }
    Ok(rows)
}

fn at<'a>(row: &'a Json, path: &[&str]) -> Option<&'a Json> {
    path.iter().try_fold(row, |v, key| v.get(key))
}

/// A string or integer field as text (Google writes int64 as strings, ids sometimes not).
fn text_at(row: &Json, path: &[&str]) -> Option<String> {
    match at(row, path)? {
        Json::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Json::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

fn required_text(row: &Json, i: usize, path: &[&str]) -> Result<String> {
    text_at(row, path).ok_or_else(|| {
        malformed(
            PLATFORM,
            format!("row {i}: {} is missing or empty", path.join(".")),
        )
    })
}

fn date_at(row: &Json, i: usize) -> Result<NaiveDate> {
    let text = required_text(row, i, &["segments", "date"])?;
    NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
        malformed(
            PLATFORM,
            format!("row {i}: segments.date {text:?} is not YYYY-MM-DD"),
        )
    })
}

fn count_at(row: &Json, i: usize, path: &[&str]) -> Result<Option<String>> {
    match text_at(row, path) {
        None if at(row, path).is_none_or(Json::is_null) => Ok(None),
        Some(n) if n.parse::<u64>().is_ok() => Ok(Some(n)),
        _ => Err(malformed(
            PLATFORM,
            format!("row {i}: {} is not a whole number", path.join(".")),
        )),
    }
}

/// Cost micros as a decimal string, and whether it had to be rounded: the lake keeps four
/// decimals, so micros that are not a multiple of 100 are rounded half to even.
fn cost_of(micros: &str) -> Option<(String, bool)> {
    let micros = micros.trim();
    if micros.is_empty() || micros.len() > 19 || !micros.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let m: u128 = micros.parse().ok()?;
    let (q, r) = (m / 100, m % 100);
    let rounded = match r {
        0 => return micros_to_decimal(micros).map(|c| (c, false)),
        1..=49 => q,
        51.. => q + 1,
        _ if q % 2 == 0 => q,
        _ => q + 1,
    };
    micros_to_decimal(&(rounded * 100).to_string()).map(|c| (c, true))
}

/// Reads one response body (HTTP 2xx) into costs; searchStream has no next request.
pub fn read_page(settings: &Settings, range: DateRange, body: &[u8]) -> Result<Page> {
    let rows = stream_rows(body)?;
    let account = customer_id(&settings.account_id);
    let mut page = Page::default();
    let (mut rounded, mut no_cost, mut outside) = (0usize, 0usize, 0usize);
    for (i, row) in rows.iter().enumerate() {
        let date = date_at(row, i)?;
        if date < range.from || date > range.to {
            outside += 1;
        }
        let campaign_id = required_text(row, i, &["campaign", "id"])?;
        let currency = required_text(row, i, &["customer", "currencyCode"])?;
        let currency = throughline_model::field::parse_currency("customer.currencyCode", &currency)
            .map_err(|e| malformed(PLATFORM, format!("row {i}: {e}")))?;
        let cost = match at(row, &["metrics", "costMicros"]) {
            None | Some(Json::Null) => {
                // proto3 JSON leaves out a metric whose value is zero.
                no_cost += 1;
                "0".to_owned()
            }
            Some(_) => {
                let micros = text_at(row, &["metrics", "costMicros"]).unwrap_or_default();
                let (cost, was_rounded) = cost_of(&micros).ok_or_else(|| {
                    malformed(
                        PLATFORM,
                        format!(
                            "row {i}: metrics.costMicros {micros:?} is not a whole number of micros"
                        ),
                    )
                })?;
                rounded += usize::from(was_rounded);
                cost
            }
        };
        let mut record =
            super::cost_record(PLATFORM, date, &account, &campaign_id, &cost, &currency);
        for (column, path) in [
            ("campaign_name", &["campaign", "name"][..]),
            ("ad_group_id", &["adGroup", "id"][..]),
            ("ad_group_name", &["adGroup", "name"][..]),
        ] {
            if let Some(value) = text_at(row, path) {
                record.insert(column.into(), value);
            }
        }
        for (column, path) in [
            ("impressions", &["metrics", "impressions"][..]),
            ("clicks", &["metrics", "clicks"][..]),
        ] {
            if let Some(n) = count_at(row, i, path)? {
                record.insert(column.into(), n);
            }
        }
        page.costs.push(record);
    }
    page.note_rows(
        rounded,
        "had cost_micros finer than 0.0001 of the currency; rounded half to even to 4 decimals (the lake's precision)",
    );
    page.note_rows(
        no_cost,
        "carried no metrics.costMicros (Google omits zero values); cost recorded as 0",
    );
    page.note_outside(outside, range);
    Ok(page)
}

/// Reads a `click_view` searchStream body into gclid → campaign records. Rows without a
/// gclid (Google gives none for some app campaigns) are skipped.
pub fn read_click_view(body: &[u8]) -> Result<Vec<ClickRecord>> {
    let rows = stream_rows(body)?;
    let mut clicks = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let Some(gclid) = text_at(row, &["clickView", "gclid"]) else {
            continue;
        };
        clicks.push(ClickRecord {
            gclid,
            date: date_at(row, i)?,
            campaign_id: required_text(row, i, &["campaign", "id"])?,
            ad_group_id: text_at(row, &["adGroup", "id"]),
        });
    }
    Ok(clicks)
}

/// The parts of a Google Ads error body that decide what to do.
#[derive(Debug, Default)]
struct GoogleError {
    status: Option<String>,
    message: Option<String>,
    /// `errorCode` entries as `kind=VALUE`, e.g. `authenticationError=OAUTH_TOKEN_EXPIRED`.
    codes: Vec<(String, String)>,
    retry_delay: Option<u64>,
}

impl GoogleError {
    fn parse(body: &[u8]) -> Option<GoogleError> {
        let parsed: Json = serde_json::from_slice(body).ok()?;
        let error = match &parsed {
            Json::Array(items) => items.iter().find_map(|b| b.get("error"))?,
            _ => parsed.get("error")?,
        };
        Some(Self::from_error(error))
    }

    fn from_error(error: &Json) -> GoogleError {
        let mut e = GoogleError {
            status: error
                .get("status")
                .and_then(Json::as_str)
                .map(str::to_owned),
            message: error
                .get("message")
                .and_then(Json::as_str)
                .map(str::to_owned),
            ..GoogleError::default()
        };
        let details = error.get("details").and_then(Json::as_array);
        for failure in details.into_iter().flatten() {
            let errors = failure.get("errors").and_then(Json::as_array);
            for item in errors.into_iter().flatten() {
                if let Some(Json::Object(code)) = item.get("errorCode") {
                    for (kind, value) in code {
                        if let Some(value) = value.as_str() {
                            e.codes.push((kind.clone(), value.to_owned()));
                        }
                    }
                }
                if e.message.is_none() {
                    e.message = item
                        .get("message")
                        .and_then(Json::as_str)
                        .map(str::to_owned);
                }
                if let Some(delay) = at(item, &["details", "quotaErrorDetails", "retryDelay"])
                    .and_then(Json::as_str)
                    .and_then(duration_secs)
                {
                    e.retry_delay = Some(delay);
                }
            }
        }
        e
    }

    fn has(&self, kind: &str, value: &str) -> bool {
        self.codes.iter().any(|(k, v)| k == kind && v == value)
    }

    fn kind(&self, kind: &str) -> Option<&str> {
        self.codes
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, v)| v.as_str())
    }

    fn message(&self) -> String {
        let text = self.message.as_deref().unwrap_or("no message");
        let mut short: String = text.chars().take(300).collect();
        if short.len() < text.len() {
            short.push('…');
        }
        short
    }

    fn describe(&self) -> String {
        let codes: Vec<String> = self.codes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if codes.is_empty() {
            self.message()
        } else {
            format!("{} ({})", self.message(), codes.join(", "))
        }
    }
}

/// A protobuf JSON Duration such as `"30s"` or `"1.5s"`, rounded up to whole seconds.
fn duration_secs(text: &str) -> Option<u64> {
    let number = text.trim().strip_suffix('s')?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let whole: u64 = whole.parse().ok()?;
    let extra = u64::from(fraction.bytes().any(|b| b != b'0'));
    whole.checked_add(extra)
}

/// What to do about a non-2xx answer, from its status, `Retry-After` header and body.
pub fn read_error(
    settings: &Settings,
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> ErrorAction {
    let error = GoogleError::parse(body).unwrap_or_default();
    let grpc = error.status.as_deref().unwrap_or("");
    let header_secs = super::retry_after_secs(retry_after);
    let account = customer_id(&settings.account_id);
    let stop = |reason: String| {
        ErrorAction::Stop(AdsError::Refused {
            platform: PLATFORM.name(),
            account: account.clone(),
            reason,
        })
    };

    if status == 429
        || grpc == "RESOURCE_EXHAUSTED"
        || error
            .kind("quotaError")
            .is_some_and(|q| q.contains("EXHAUSTED"))
    {
        return ErrorAction::Retry {
            after_secs: header_secs.or(error.retry_delay),
        };
    }
    if status >= 500 || matches!(grpc, "UNAVAILABLE" | "INTERNAL" | "DEADLINE_EXCEEDED") {
        return ErrorAction::Retry {
            after_secs: header_secs,
        };
    }
    if status == 401 || grpc == "UNAUTHENTICATED" {
        let reason = match error.kind("authenticationError") {
            Some(code) if code.starts_with("DEVELOPER_TOKEN") => format!(
                "the developer token was refused ({code}): set google_ads.developer_token to the token from the Google Ads API Center"
            ),
            _ => format!(
                "the OAuth token expired or was revoked: re-authorise the Google Ads connection ({})",
                error.describe()
            ),
        };
        return stop(reason);
    }
    if status == 403 || grpc == "PERMISSION_DENIED" {
        let reason = if error.has("authorizationError", "USER_PERMISSION_DENIED") {
            "the authorised Google user cannot access this customer: grant the user access, or set google_ads.login_customer_id to the manager account it is reached through".to_owned()
        } else if error.has("authorizationError", "DEVELOPER_TOKEN_NOT_APPROVED") {
            "the developer token is approved for test accounts only: apply for Basic or Standard access in the Google Ads API Center".to_owned()
        } else if error.has("authorizationError", "CUSTOMER_NOT_ENABLED") {
            "the account is not enabled (cancelled, suspended or not set up): check it in Google Ads".to_owned()
        } else {
            format!(
                "access denied: check that the authorised user and the developer token may read this account ({})",
                error.describe()
            )
        };
        return stop(reason);
    }
    stop(format!(
        "Google Ads refused the request (HTTP {status}{}): {}; check google_ads.account_id and google_ads.api_version",
        if grpc.is_empty() {
            String::new()
        } else {
            format!(", {grpc}")
        },
        error.describe()
    ))
}

#[cfg(test)]
mod tests {

    use proptest::prelude::*;

    use super::*;
    use crate::ads::test_support::{assert_valid, range, record_of as row};

    const SUCCESS: &str = include_str!("../../tests/fixtures/ads/google_ads/search_stream.json");
    const EXPIRED: &str = include_str!("../../tests/fixtures/ads/google_ads/token_expired.json");
    const RATE_LIMIT: &str = include_str!("../../tests/fixtures/ads/google_ads/rate_limited.json");
    const DENIED: &str = include_str!("../../tests/fixtures/ads/google_ads/permission_denied.json");
    const MALFORMED: &str = include_str!("../../tests/fixtures/ads/google_ads/malformed.json");
    const CLICKS: &str = include_str!("../../tests/fixtures/ads/google_ads/click_view.json");

    fn settings() -> Settings {
        toml::from_str(
            r#"
            account_id = "123-456-7890"
            developer_token = "dev-token-abc"
            login_customer_id = "999-888-7777"
            "#,
        )
        .unwrap()
    }

    #[test]
    fn request_is_a_search_stream_of_the_range() {
        let request = first_request(&settings(), range());
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.path_and_query,
            "/v26/customers/1234567890/googleAds:searchStream"
        );
        assert!(
            request
                .headers
                .contains(&("developer-token".into(), "dev-token-abc".into()))
        );
        assert!(
            request
                .headers
                .contains(&("login-customer-id".into(), "9998887777".into()))
        );
        assert!(!request.headers.iter().any(|(k, _)| k == "authorization"));
        let body: Json = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
        let query = body["query"].as_str().unwrap();
        assert!(query.contains("FROM ad_group"));
        assert!(query.contains("metrics.cost_micros"));
        assert!(query.contains("customer.currency_code"));
        assert!(query.ends_with("WHERE segments.date BETWEEN '2026-11-01' AND '2026-11-02'"));
    }

    #[test]
    fn version_and_manager_are_optional() {
        let s: Settings =
            toml::from_str("account_id = \"1234567890\"\napi_version = \"25\"").unwrap();
        let request = first_request(&s, range());
        assert!(
            request
                .path_and_query
                .starts_with("/v25/customers/1234567890/")
        );
        assert!(
            !request
                .headers
                .iter()
                .any(|(k, _)| k == "login-customer-id")
        );
        assert!(toml::from_str::<Settings>("account_id = \"1\"\nbogus = 1").is_err());
    }

    /// The `search` method's answer (Google Ads API reference, `SearchGoogleAdsResponse`):
    /// one object with `results`, a `nextPageToken` while more pages follow, and
    /// `totalResultsCount` when asked for.
    fn search_page(next_page_token: Option<&str>, total: Option<&str>) -> String {
        let stream: Json = serde_json::from_str(SUCCESS).unwrap();
        let mut page = stream[0].clone();
        page["results"] = Json::Array(page["results"].as_array().unwrap()[..1].to_vec());
        if let Some(token) = next_page_token {
            page["nextPageToken"] = Json::from(token);
        }
        if let Some(total) = total {
            page["totalResultsCount"] = Json::from(total);
        }
        page.to_string()
    }

    #[test]
    fn one_page_of_a_paged_search_report_is_refused() {
        let error = read_page(
            &settings(),
            range(),
            search_page(Some("CgkI2LrS7gEQAhgB"), Some("7")).as_bytes(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("nextPageToken"), "{error}");
        // A last page that delivers fewer rows than the report's count is refused too.
        let error = read_page(
            &settings(),
            range(),
            search_page(None, Some("7")).as_bytes(),
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("totalResultsCount 7 but carries 1"),
            "{error}"
        );
        // A complete single-page answer reads.
        let page = read_page(
            &settings(),
            range(),
            search_page(Some(""), Some("1")).as_bytes(),
        )
        .unwrap();
        assert_eq!(page.costs.len(), 1);
    }

    #[test]
    fn success_rows_are_exact() {
        let page = read_page(&settings(), range(), SUCCESS.as_bytes()).unwrap();
        assert_eq!(page.next, None);
        assert_eq!(page.notes, Vec::<String>::new());
        let base = [
            ("platform", "google_ads"),
            ("account_id", "1234567890"),
            ("currency", "UAH"),
        ];
        let expect = |extra: &[(&str, &str)]| {
            let mut r = row(&base);
            r.extend(row(extra));
            r
        };
        assert_eq!(
            page.costs,
            vec![
                expect(&[
                    ("date", "2026-11-01"),
                    ("campaign_id", "20123456789"),
                    ("campaign_name", "Brand — Kyiv"),
                    ("ad_group_id", "150000000001"),
                    ("ad_group_name", "Brand exact"),
                    ("impressions", "1520"),
                    ("clicks", "87"),
                    ("cost", "1234.567800"),
                ]),
                expect(&[
                    ("date", "2026-11-01"),
                    ("campaign_id", "20987654321"),
                    ("campaign_name", "Generic — Ukraine"),
                    ("ad_group_id", "150000000002"),
                    ("ad_group_name", "Sofas"),
                    ("impressions", "980"),
                    ("clicks", "21"),
                    ("cost", "456.100000"),
                ]),
                expect(&[
                    ("date", "2026-11-02"),
                    ("campaign_id", "20123456789"),
                    ("campaign_name", "Brand — Kyiv"),
                    ("ad_group_id", "150000000001"),
                    ("ad_group_name", "Brand exact"),
                    ("impressions", "1610"),
                    ("clicks", "92"),
                    ("cost", "1300.000000"),
                ]),
                expect(&[
                    ("date", "2026-11-02"),
                    ("campaign_id", "20987654321"),
                    ("campaign_name", "Generic — Ukraine"),
                    ("ad_group_id", "150000000002"),
                    ("ad_group_name", "Sofas"),
                    ("impressions", "40"),
                    ("clicks", "0"),
                    ("cost", "0.050000"),
                ]),
            ]
        );
        assert_valid(&page.costs);
    }

    #[test]
    fn sub_precision_micros_are_rounded_and_said() {
        assert_eq!(cost_of("1234567"), Some(("1.234600".into(), true)));
        assert_eq!(cost_of("1234550"), Some(("1.234600".into(), true)));
        assert_eq!(cost_of("1234450"), Some(("1.234400".into(), true)));
        assert_eq!(cost_of("1234500"), Some(("1.234500".into(), false)));
        assert_eq!(cost_of("-5"), None);
        let body = r#"[{"results":[{"campaign":{"id":"1"},"segments":{"date":"2026-11-01"},
            "customer":{"currencyCode":"USD"},"metrics":{"costMicros":"1234567"}},
            {"campaign":{"id":"2"},"segments":{"date":"2026-11-01"},
            "customer":{"currencyCode":"USD"},"metrics":{"impressions":"3"}}]}]"#;
        let page = read_page(&settings(), range(), body.as_bytes()).unwrap();
        assert_eq!(page.costs[0]["cost"], "1.234600");
        assert_eq!(page.costs[1]["cost"], "0");
        assert!(!page.costs[1].contains_key("clicks"));
        assert_eq!(page.notes.len(), 2, "{:?}", page.notes);
        assert_valid(&page.costs);
    }

    #[test]
    fn empty_stream_is_no_costs() {
        for body in ["[]", r#"[{"fieldMask":"campaign.id","requestId":"x"}]"#] {
            let page = read_page(&settings(), range(), body.as_bytes()).unwrap();
            assert!(page.costs.is_empty() && page.next.is_none());
        }
    }

    #[test]
    fn malformed_bodies_name_the_problem() {
        let err = read_page(&settings(), range(), MALFORMED.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, AdsError::Malformed { reason, .. } if reason.contains("customer.currencyCode")),
            "{err}"
        );
        let err = read_page(&settings(), range(), b"{\"results\": 3}").unwrap_err();
        assert!(matches!(err, AdsError::Malformed { .. }));
        let err = read_page(&settings(), range(), b"<html>").unwrap_err();
        assert!(matches!(err, AdsError::Malformed { .. }));
        let mid_stream =
            r#"[{"results":[]},{"error":{"code":500,"status":"INTERNAL","message":"boom"}}]"#;
        let err = read_page(&settings(), range(), mid_stream.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("INTERNAL"), "{err}");
    }

    #[test]
    fn expired_token_stops_with_what_to_do() {
        let action = read_error(&settings(), 401, None, EXPIRED.as_bytes());
        let ErrorAction::Stop(AdsError::Refused {
            platform,
            account,
            reason,
        }) = action
        else {
            panic!("{action:?}")
        };
        assert_eq!((platform, account.as_str()), ("google_ads", "1234567890"));
        assert!(reason.contains("re-authorise"), "{reason}");
        assert!(reason.contains("OAUTH_TOKEN_EXPIRED"), "{reason}");
    }

    #[test]
    fn permission_denied_stops() {
        let action = read_error(&settings(), 403, None, DENIED.as_bytes());
        assert!(
            matches!(&action, ErrorAction::Stop(AdsError::Refused { reason, .. }) if reason.contains("login_customer_id")),
            "{action:?}"
        );
    }

    #[test]
    fn rate_limits_and_server_errors_retry() {
        assert_eq!(
            read_error(&settings(), 429, Some("17"), RATE_LIMIT.as_bytes()),
            ErrorAction::Retry {
                after_secs: Some(17)
            }
        );
        // Without the header, the quota error's retryDelay.
        assert_eq!(
            read_error(&settings(), 429, None, RATE_LIMIT.as_bytes()),
            ErrorAction::Retry {
                after_secs: Some(30)
            }
        );
        assert_eq!(
            read_error(&settings(), 503, Some("soon"), b"<html>Unavailable</html>"),
            ErrorAction::Retry { after_secs: None }
        );
        assert!(matches!(
            read_error(&settings(), 400, None, b"{}"),
            ErrorAction::Stop(AdsError::Refused { .. })
        ));
        assert_eq!(duration_secs("1.5s"), Some(2));
        assert_eq!(duration_secs("x"), None);
    }

    #[test]
    fn click_view_maps_gclids() {
        let request =
            click_view_request(&settings(), NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        let body: Json = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
        assert!(
            body["query"]
                .as_str()
                .unwrap()
                .contains("FROM click_view WHERE segments.date = '2026-11-01'")
        );
        let clicks = read_click_view(CLICKS.as_bytes()).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        assert_eq!(
            clicks,
            vec![
                ClickRecord {
                    gclid: "Cj0KCQiA5rGuBhCnARIsAN11vgT_test_1".into(),
                    date: day,
                    campaign_id: "20123456789".into(),
                    ad_group_id: Some("150000000001".into()),
                },
                ClickRecord {
                    gclid: "Cj0KCQiA5rGuBhCnARIsAN11vgT_test_2".into(),
                    date: day,
                    campaign_id: "20987654321".into(),
                    ad_group_id: Some("150000000002".into()),
                },
            ]
        );
        assert!(read_click_view(b"{").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), status in 0u16..1000) {
            let s = settings();
            let _ = read_page(&s, range(), &body);
            let _ = read_click_view(&body);
            let _ = read_error(&s, status, std::str::from_utf8(&body).ok(), &body);
        }

        #[test]
        fn arbitrary_json_rows_never_panic(micros in ".{0,12}", date in ".{0,12}", id in ".{0,6}") {
            let body = serde_json::json!([{"results": [{
                "campaign": {"id": id}, "segments": {"date": date},
                "customer": {"currencyCode": "USD"}, "metrics": {"costMicros": micros}
            }]}]).to_string();
            if let Ok(page) = read_page(&settings(), range(), body.as_bytes()) {
                assert_valid(&page.costs);
            }
        }
    }
}
