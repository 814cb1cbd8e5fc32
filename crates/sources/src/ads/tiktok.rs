//! TikTok API for Business: the synchronous integrated report
//! (`GET /open_api/v1.3/report/integrated/get/`), one row per ad per day, paged.
//!
//! TikTok answers most errors with HTTP 200 and a non-zero `code` in the body. The driver
//! must call [`body_error`] on every 2xx body before [`read_page`]: it says whether to
//! retry (rate limit, system error) or stop (token, permission). `read_page` given such a
//! body never returns costs: it returns [`AdsError::Refused`], whose reason says whether a
//! retry can help. See docs/ads/tiktok.md.

use serde::Deserialize;
use serde_json::Value;

use super::{AdsError, ApiRequest, CostRecord, DateRange, ErrorAction, Page, Platform, Result};
use crate::crm::Secret;

const PLATFORM: Platform = Platform::TikTok;
const REPORT_PATH: &str = "/open_api/v1.3/report/integrated/get/";
const PAGE_SIZE: u32 = 1000;
const DIMENSIONS: &str = r#"["ad_id","stat_time_day"]"#;
const METRICS: &str = r#"["spend","impressions","clicks","campaign_id","campaign_name","adgroup_id","adgroup_name","ad_name","currency"]"#;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The advertiser id (`advertiser_id`), as TikTok Ads Manager shows it.
    pub account_id: String,
    /// The advertiser's currency (ISO 4217), used only for rows whose `currency` metric is
    /// missing or empty. Without it such rows fail, naming the field.
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

/// The first request of the report for `range`: page 1.
pub fn first_request(settings: &Settings, range: DateRange) -> ApiRequest {
    page_request(settings, range, 1)
}

fn page_request(settings: &Settings, range: DateRange, page: u64) -> ApiRequest {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("advertiser_id", &settings.account_id)
        .append_pair("report_type", "BASIC")
        .append_pair("data_level", "AUCTION_AD")
        .append_pair("dimensions", DIMENSIONS)
        .append_pair("metrics", METRICS)
        .append_pair("start_date", &range.from.format("%Y-%m-%d").to_string())
        .append_pair("end_date", &range.to.format("%Y-%m-%d").to_string())
        .append_pair("page", &page.to_string())
        .append_pair("page_size", &PAGE_SIZE.to_string())
        .finish();
    ApiRequest {
        method: "GET",
        path_and_query: format!("{REPORT_PATH}?{query}"),
        headers: vec![("Accept".to_string(), "application/json".to_string())],
        body: None,
    }
}

/// An error TikTok put in a response body (HTTP 200 with a non-zero `code`, or the body of
/// a non-2xx answer): `None` when the body says `code: 0` or is not a TikTok JSON envelope
/// (then `read_page` reports it malformed).
pub fn body_error(settings: &Settings, body: &[u8]) -> Option<ErrorAction> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let code = json.get("code")?.as_i64()?;
    if code == 0 {
        return None;
    }
    let message = json.get("message").and_then(Value::as_str).unwrap_or("");
    let request_id = json.get("request_id").and_then(Value::as_str).unwrap_or("");
    Some(classify(settings, code, message, request_id))
}

fn classify(settings: &Settings, code: i64, message: &str, request_id: &str) -> ErrorAction {
    let said = format!("TikTok code {code} \"{message}\" (request_id {request_id})");
    let stop =
        |what_to_do: &str| ErrorAction::Stop(refused(settings, format!("{said}: {what_to_do}")));
    match code {
        // Too many requests (QPS/QPM/QPD limit).
        40100 => ErrorAction::Retry { after_secs: None },
        // System errors and temporary unavailability.
        50000..=59999 => ErrorAction::Retry { after_secs: None },
        40102 | 40104 | 40105 => stop(
            "the access token is missing, expired or revoked: re-authorize the TikTok app \
             for this advertiser and store the new token",
        ),
        40001 | 40300 => stop(
            "the token has no permission for this advertiser's reports: in Business Center, \
             grant the app access to the advertiser (Reporting scope)",
        ),
        40002 => stop(
            "TikTok rejected the request parameters: check advertiser_id in the config and \
             that the date range is at most 30 days",
        ),
        _ => stop("read TikTok's message; retrying will not help"),
    }
}

fn refused(settings: &Settings, reason: String) -> AdsError {
    AdsError::Refused {
        platform: PLATFORM.name(),
        account: settings.account_id.clone(),
        reason,
    }
}

fn malformed(reason: impl Into<String>) -> AdsError {
    super::malformed(PLATFORM, reason)
}

/// Reads one response body (HTTP 2xx) into costs and the next page's request.
pub fn read_page(settings: &Settings, range: DateRange, body: &[u8]) -> Result<Page> {
    match body_error(settings, body) {
        Some(ErrorAction::Stop(error)) => return Err(error),
        Some(ErrorAction::Retry { .. }) => {
            let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let code = json.get("code").and_then(Value::as_i64).unwrap_or_default();
            let message = json.get("message").and_then(Value::as_str).unwrap_or("");
            return Err(refused(
                settings,
                format!(
                    "TikTok code {code} \"{message}\": temporary (rate limit or system error); \
                     retry later — the driver should call tiktok::body_error first"
                ),
            ));
        }
        None => {}
    }
    let json: Value =
        serde_json::from_slice(body).map_err(|e| malformed(format!("not JSON: {e}")))?;
    match json.get("code").and_then(Value::as_i64) {
        Some(0) => {}
        _ => return Err(malformed("no numeric `code` in the envelope")),
    }
    let data = json
        .get("data")
        .ok_or_else(|| malformed("no `data` in the response"))?;
    let list = data
        .get("list")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no `data.list` array in the response"))?;
    let mut costs = Vec::with_capacity(list.len());
    for (i, row) in list.iter().enumerate() {
        costs.push(read_row(settings, row).map_err(|e| malformed(format!("data.list[{i}]: {e}")))?);
    }
    let page_info = data
        .get("page_info")
        .ok_or_else(|| malformed("no `data.page_info` in the response"))?;
    let page = page_number(page_info, "page")?;
    let total_page = page_number(page_info, "total_page")?;
    check_page_rows(page_info, page, total_page, costs.len())?;
    let next = (page < total_page).then(|| page_request(settings, range, page + 1));
    Ok(Page {
        costs,
        next,
        notes: Vec::new(),
    })
}

/// The rows a page must carry by its `page_info`: `page_size` before the last page, the
/// rest of `total_number` on it. A short page would replace stored days with less.
fn check_page_rows(page_info: &Value, page: u64, total_page: u64, rows: usize) -> Result<()> {
    let optional = |field| {
        page_info
            .get(field)
            .is_some_and(|v| !v.is_null())
            .then(|| page_number(page_info, field))
            .transpose()
    };
    let (Some(total_number), page_size) = (optional("total_number")?, optional("page_size")?)
    else {
        return Ok(());
    };
    let expected = match page_size {
        Some(size) if page < total_page => Some(size),
        Some(size) => Some(total_number.saturating_sub(total_page.saturating_sub(1) * size)),
        None if total_page <= 1 => Some(total_number),
        None => None,
    };
    match expected {
        Some(expected) if expected != rows as u64 => Err(malformed(format!(
            "page {page} of {total_page} carries {rows} rows, but `data.page_info` \
             (total_number {total_number}{}) means {expected}: an incomplete report is not \
             stored; pull the range again",
            page_size
                .map(|s| format!(", page_size {s}"))
                .unwrap_or_default()
        ))),
        _ => Ok(()),
    }
}

fn page_number(page_info: &Value, field: &str) -> Result<u64> {
    let value = page_info.get(field);
    value
        .and_then(Value::as_u64)
        .or_else(|| value.and_then(Value::as_str).and_then(|s| s.parse().ok()))
        .ok_or_else(|| malformed(format!("`data.page_info.{field}` is not a whole number")))
}

fn read_row(settings: &Settings, row: &Value) -> std::result::Result<CostRecord, String> {
    let dimensions = row.get("dimensions").ok_or("no `dimensions`")?;
    let metrics = row.get("metrics").ok_or("no `metrics`")?;
    let ad_id = id_text(dimensions, "ad_id")?.ok_or("no `dimensions.ad_id`")?;
    let day = dimensions
        .get("stat_time_day")
        .and_then(Value::as_str)
        .ok_or("no `dimensions.stat_time_day`")?;
    let date = day
        .get(..10)
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .ok_or_else(|| format!("`stat_time_day` {day:?} is not \"YYYY-MM-DD hh:mm:ss\""))?;
    let campaign_id = id_text(metrics, "campaign_id")?.ok_or("no `metrics.campaign_id`")?;
    let spend = metrics
        .get("spend")
        .and_then(Value::as_str)
        .ok_or("`metrics.spend` is missing or not a decimal string")?;
    if !super::is_decimal(spend.trim()) {
        return Err(format!("`metrics.spend` {spend:?} is not a decimal amount"));
    }
    let currency = match metrics.get("currency").and_then(Value::as_str) {
        Some(c) if !c.trim().is_empty() => c.trim().to_ascii_uppercase(),
        _ => match &settings.currency {
            Some(c) => c.trim().to_ascii_uppercase(),
            None => {
                return Err("no `metrics.currency`: set `currency` (the advertiser's \
                            currency) in the TikTok settings"
                    .to_string());
            }
        },
    };
    let mut record = super::cost_record(
        PLATFORM,
        date,
        &settings.account_id,
        &campaign_id,
        spend.trim(),
        &currency,
    );
    let mut put = |k: &str, v: String| {
        record.insert(k.to_string(), v);
    };
    put("ad_id", ad_id);
    if let Some(v) = id_text(metrics, "adgroup_id")? {
        put("ad_group_id", v);
    }
    for (from, to) in [
        ("campaign_name", "campaign_name"),
        ("adgroup_name", "ad_group_name"),
        ("ad_name", "ad_name"),
    ] {
        if let Some(v) = metrics.get(from).and_then(Value::as_str)
            && !v.is_empty()
        {
            put(to, v.to_string());
        }
    }
    for field in ["impressions", "clicks"] {
        if let Some(v) = count(metrics, field)? {
            put(field, v);
        }
    }
    Ok(record)
}

/// An id TikTok writes as a string (or, defensively, a whole number); `None` when absent.
fn id_text(object: &Value, field: &str) -> std::result::Result<Option<String>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => v
            .as_u64()
            .map(|n| Some(n.to_string()))
            .ok_or_else(|| format!("`{field}` is not an id")),
    }
}

/// A count as a string of digits or a whole JSON number; `None` when absent.
fn count(metrics: &Value, field: &str) -> std::result::Result<Option<String>, String> {
    match metrics.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Some(s.clone()))
        }
        Some(v) => v
            .as_u64()
            .map(|n| Some(n.to_string()))
            .ok_or_else(|| format!("`metrics.{field}` {v} is not a whole number")),
    }
}

/// What to do about a non-2xx answer, from its status, `Retry-After` header and body.
pub fn read_error(
    settings: &Settings,
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> ErrorAction {
    let after_secs = super::retry_after_secs(retry_after);
    if status == 429 || status >= 500 {
        return ErrorAction::Retry { after_secs };
    }
    match body_error(settings, body) {
        Some(ErrorAction::Retry { .. }) => ErrorAction::Retry { after_secs },
        Some(stop) => stop,
        None => {
            let what_to_do = match status {
                401 | 403 => {
                    "the access token was refused: re-authorize the TikTok app for this \
                     advertiser and store the new token"
                }
                _ => "check the TikTok settings (advertiser_id) and the base URL",
            };
            ErrorAction::Stop(refused(settings, format!("HTTP {status}: {what_to_do}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;
    use crate::ads::test_support::{assert_valid, range, record_of as row};

    const REPORT: &str = include_str!("../../tests/fixtures/ads/tiktok/report.json");
    const PAGE_1: &str = include_str!("../../tests/fixtures/ads/tiktok/page_1_of_2.json");
    const PAGE_2: &str = include_str!("../../tests/fixtures/ads/tiktok/page_2_of_2.json");
    const EXPIRED: &str = include_str!("../../tests/fixtures/ads/tiktok/expired_token.json");
    const RATE_LIMIT: &str = include_str!("../../tests/fixtures/ads/tiktok/rate_limit.json");
    const MALFORMED: &str = include_str!("../../tests/fixtures/ads/tiktok/malformed.json");
    const NO_CURRENCY: &str = include_str!("../../tests/fixtures/ads/tiktok/no_currency.json");

    fn settings() -> Settings {
        toml::from_str(r#"account_id = "7012345678901234567""#).unwrap()
    }

    #[test]
    fn first_request_asks_for_the_daily_ad_report() {
        let request = first_request(&settings(), range());
        assert_eq!(request.method, "GET");
        assert_eq!(request.body, None);
        let (path, query) = request.path_and_query.split_once('?').unwrap();
        assert_eq!(path, "/open_api/v1.3/report/integrated/get/");
        assert!(!query.contains('"') && !query.contains('['), "{query}");
        let pairs: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(pairs["advertiser_id"], "7012345678901234567");
        assert_eq!(pairs["report_type"], "BASIC");
        assert_eq!(pairs["data_level"], "AUCTION_AD");
        assert_eq!(pairs["dimensions"], r#"["ad_id","stat_time_day"]"#);
        let metrics: Vec<String> = serde_json::from_str(&pairs["metrics"]).unwrap();
        for m in ["spend", "impressions", "clicks", "campaign_id", "currency"] {
            assert!(metrics.iter().any(|x| x == m), "{m}");
        }
        assert_eq!(pairs["start_date"], "2026-11-01");
        assert_eq!(pairs["end_date"], "2026-11-02");
        assert_eq!(pairs["page"], "1");
        assert_eq!(pairs["page_size"], "1000");
    }

    #[test]
    fn reads_two_campaigns_over_two_days() {
        let page = read_page(&settings(), range(), REPORT.as_bytes()).unwrap();
        assert_eq!(page.next, None);
        let common = [
            ("platform", "tiktok"),
            ("account_id", "7012345678901234567"),
            ("currency", "USD"),
        ];
        let with = |extra: &[(&str, &str)]| {
            let mut r = row(&common);
            r.extend(row(extra));
            r
        };
        let spring = [
            ("campaign_id", "1800000000000001"),
            ("campaign_name", "Spring sale"),
            ("ad_group_id", "1810000000000001"),
            ("ad_group_name", "UA 18-34"),
            ("ad_id", "1820000000000001"),
            ("ad_name", "Video A"),
        ];
        let brand = [
            ("campaign_id", "1800000000000002"),
            ("campaign_name", "Brand"),
            ("ad_group_id", "1810000000000002"),
            ("ad_group_name", "Broad"),
            ("ad_id", "1820000000000002"),
            ("ad_name", "Video B"),
        ];
        let mut expected = Vec::new();
        for (campaign, date, cost, impressions, clicks) in [
            (&spring, "2026-11-01", "12.34", "1000", "25"),
            (&brand, "2026-11-01", "5.00", "400", "7"),
            (&spring, "2026-11-02", "0.99", "80", "1"),
            (&brand, "2026-11-02", "120.5", "9001", "310"),
        ] {
            let mut r = with(campaign);
            r.extend(row(&[
                ("date", date),
                ("cost", cost),
                ("impressions", impressions),
                ("clicks", clicks),
            ]));
            expected.push(r);
        }
        assert_eq!(page.costs, expected);
        assert_valid(&page.costs);
    }

    #[test]
    fn pages_until_total_page() {
        let first = read_page(&settings(), range(), PAGE_1.as_bytes()).unwrap();
        assert_eq!(first.costs.len(), 2);
        assert_valid(&first.costs);
        let next = first.next.expect("page 2");
        let mut expected = first_request(&settings(), range());
        expected.path_and_query = expected.path_and_query.replace("page=1&", "page=2&");
        assert_eq!(next, expected);
        let second = read_page(&settings(), range(), PAGE_2.as_bytes()).unwrap();
        assert_eq!(second.costs.len(), 1);
        assert_eq!(second.costs[0]["campaign_id"], "1800000000000003");
        assert_eq!(second.costs[0]["currency"], "EUR");
        assert_valid(&second.costs);
        assert_eq!(second.next, None);
    }

    #[test]
    fn a_page_short_of_its_page_info_is_refused() {
        // The documented page_info says 3 rows in 2 pages of 2: page 2 must carry 1.
        let short = PAGE_2.replace(r#""total_number": 3"#, r#""total_number": 4"#);
        let error = read_page(&settings(), range(), short.as_bytes()).unwrap_err();
        assert!(
            error.to_string().contains("carries 1 rows") && error.to_string().contains("means 2"),
            "{error}"
        );
        // A page before the last must be full.
        let short = PAGE_1.replace(r#""page_size": 2"#, r#""page_size": 3"#);
        assert!(read_page(&settings(), range(), short.as_bytes()).is_err());
        // 26 announced on a single page of 1000 that delivers 25 (the reported defect's shape).
        let mut single: Value = serde_json::from_str(PAGE_2).unwrap();
        single["data"]["page_info"] =
            serde_json::json!({"page": 1, "page_size": 1000, "total_number": 2, "total_page": 1});
        let error = read_page(&settings(), range(), single.to_string().as_bytes()).unwrap_err();
        assert!(error.to_string().contains("means 2"), "{error}");
    }

    #[test]
    fn expired_token_in_a_200_body_stops_with_what_to_do() {
        let action = body_error(&settings(), EXPIRED.as_bytes()).unwrap();
        let ErrorAction::Stop(AdsError::Refused {
            platform,
            account,
            reason,
        }) = action
        else {
            panic!("{action:?}")
        };
        assert_eq!(platform, "tiktok");
        assert_eq!(account, "7012345678901234567");
        assert!(
            reason.contains("40105") && reason.contains("re-authorize"),
            "{reason}"
        );
        let err = read_page(&settings(), range(), EXPIRED.as_bytes()).unwrap_err();
        assert!(matches!(err, AdsError::Refused { .. }), "{err:?}");
        // The same body on an HTTP 401.
        assert!(matches!(
            read_error(&settings(), 401, None, EXPIRED.as_bytes()),
            ErrorAction::Stop(AdsError::Refused { .. })
        ));
    }

    #[test]
    fn rate_limit_is_retried() {
        assert_eq!(
            body_error(&settings(), RATE_LIMIT.as_bytes()),
            Some(ErrorAction::Retry { after_secs: None })
        );
        let err = read_page(&settings(), range(), RATE_LIMIT.as_bytes()).unwrap_err();
        let AdsError::Refused { reason, .. } = err else {
            panic!("{err:?}")
        };
        assert!(reason.contains("retry"), "{reason}");
        assert_eq!(
            read_error(&settings(), 429, Some("30"), b""),
            ErrorAction::Retry {
                after_secs: Some(30)
            }
        );
        assert_eq!(
            read_error(&settings(), 503, None, b"<html>"),
            ErrorAction::Retry { after_secs: None }
        );
        let system = br#"{"code": 50000, "message": "System error", "request_id": "x"}"#;
        assert_eq!(
            body_error(&settings(), system),
            Some(ErrorAction::Retry { after_secs: None })
        );
    }

    #[test]
    fn malformed_body_is_reported() {
        let err = read_page(&settings(), range(), MALFORMED.as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                AdsError::Malformed {
                    platform: "tiktok",
                    ..
                }
            ),
            "{err:?}"
        );
        let err = read_page(&settings(), range(), b"<html>502</html>").unwrap_err();
        assert!(matches!(err, AdsError::Malformed { .. }), "{err:?}");
        let float_spend = br#"{"code":0,"message":"OK","data":{"list":[{"dimensions":{"ad_id":"1","stat_time_day":"2026-11-01 00:00:00"},"metrics":{"spend":1.5,"campaign_id":"2","currency":"USD"}}],"page_info":{"page":1,"total_page":1}}}"#;
        let err = read_page(&settings(), range(), float_spend).unwrap_err();
        assert!(err.to_string().contains("spend"), "{err}");
    }

    #[test]
    fn missing_currency_uses_the_setting_or_names_the_field() {
        let err = read_page(&settings(), range(), NO_CURRENCY.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("currency"), "{err}");
        let with_currency: Settings = toml::from_str(
            r#"account_id = "7012345678901234567"
currency = "uah""#,
        )
        .unwrap();
        let page = read_page(&with_currency, range(), NO_CURRENCY.as_bytes()).unwrap();
        assert_eq!(page.costs[0]["currency"], "UAH");
        assert_valid(&page.costs);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), status in any::<u16>()) {
            let _ = read_page(&settings(), range(), &body);
            let _ = read_error(&settings(), status, std::str::from_utf8(&body).ok(), &body);
            let _ = body_error(&settings(), &body);
        }

        #[test]
        fn arbitrary_json_rows_never_panic(spend in ".{0,12}", day in ".{0,24}", code in any::<i64>()) {
            let body = serde_json::json!({
                "code": 0,
                "data": {"list": [{"dimensions": {"ad_id": "1", "stat_time_day": day},
                                   "metrics": {"spend": spend, "campaign_id": "2", "currency": "USD"}}],
                         "page_info": {"page": 1, "total_page": 1}}
            });
            let _ = read_page(&settings(), range(), body.to_string().as_bytes());
            let err = serde_json::json!({"code": code, "message": "x"});
            let _ = read_page(&settings(), range(), err.to_string().as_bytes());
        }
    }
}
