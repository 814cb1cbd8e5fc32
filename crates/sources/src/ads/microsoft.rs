//! Microsoft Advertising (Bing Ads) Reporting API v13, REST: an asynchronous
//! `AdPerformanceReportRequest` (daily, CSV). The chain is three kinds of request, each
//! the `next` of the one before:
//!
//! 1. `POST /Reporting/v13/GenerateReport/Submit` → `{"ReportRequestId": "…"}`;
//! 2. `POST /Reporting/v13/GenerateReport/Poll` → `{"ReportRequestStatus": {"Status": …}}`,
//!    repeated while `Pending` (the driver pauses between polls);
//! 3. `GET` the `ReportDownloadUrl` — an absolute, pre-signed URL: the driver sends it as
//!    is (not appended to the base URL, no credentials) and unzips the body; `read_page`
//!    reads the CSV inside (and refuses a zip, saying so).
//!
//! A poll answer does not repeat the `ReportRequestId`, so a `Pending` poll's `next` is a
//! poll request without a body: [`repeats_previous_request`] — the driver re-sends the
//! poll it just sent. See docs/ads/microsoft.md.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdsError, ApiRequest, CostRecord, DateRange, ErrorAction, Page, Platform, Result};
use crate::crm::Secret;

const PLATFORM: Platform = Platform::Microsoft;
const SUBMIT_PATH: &str = "/Reporting/v13/GenerateReport/Submit";
const POLL_PATH: &str = "/Reporting/v13/GenerateReport/Poll";
const COLUMNS: [&str; 11] = [
    "TimePeriod",
    "AccountId",
    "CampaignId",
    "CampaignName",
    "AdGroupId",
    "AdGroupName",
    "AdId",
    "Impressions",
    "Clicks",
    "Spend",
    "CurrencyCode",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The ad account id (`AccountId`, a number; not the account number like `F12345AB`).
    pub account_id: String,
    /// The customer (manager) id that owns the account, sent as the `CustomerId` header.
    pub customer_id: String,
    /// The developer token, sent as the `DeveloperToken` header.
    pub developer_token: Secret,
    /// `ReportTimeZone`, e.g. `EasternTimeUSCanada`; Microsoft's default when absent.
    #[serde(default)]
    pub report_time_zone: Option<String>,
    /// The account currency (ISO 4217), used only for rows with an empty `CurrencyCode`.
    #[serde(default)]
    pub currency: Option<String>,
    /// OAuth 2.0 refresh-token credentials: the driver exchanges them for an access token.
    #[serde(default)]
    pub auth: Option<super::OAuthRefresh>,
    /// The API's base URL; the platform's production URL when absent (tests point it at a
    /// local server).
    #[serde(default)]
    pub base_url: Option<String>,
}

fn headers(settings: &Settings) -> Vec<(String, String)> {
    vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        (
            "DeveloperToken".to_string(),
            settings.developer_token.expose(),
        ),
        ("CustomerId".to_string(), settings.customer_id.clone()),
        ("CustomerAccountId".to_string(), settings.account_id.clone()),
    ]
}

fn day(date: chrono::NaiveDate) -> Value {
    use chrono::Datelike;
    json!({"Day": date.day(), "Month": date.month(), "Year": date.year()})
}

/// The first request of the report for `range`: SubmitGenerateReport.
pub fn first_request(settings: &Settings, range: DateRange) -> ApiRequest {
    let account: Value = match settings.account_id.trim().parse::<u64>() {
        Ok(n) => json!(n),
        Err(_) => json!(settings.account_id),
    };
    let mut time = json!({
        "CustomDateRangeStart": day(range.from),
        "CustomDateRangeEnd": day(range.to),
    });
    if let Some(zone) = &settings.report_time_zone {
        time["ReportTimeZone"] = json!(zone);
    }
    let body = json!({
        "ReportRequest": {
            "Type": "AdPerformanceReportRequest",
            "ReportName": "throughline ad costs",
            "Format": "Csv",
            "ReturnOnlyCompleteData": false,
            "Aggregation": "Daily",
            "Columns": COLUMNS,
            "Scope": {"AccountIds": [account]},
            "Time": time,
        }
    });
    ApiRequest {
        method: "POST",
        path_and_query: SUBMIT_PATH.to_string(),
        headers: headers(settings),
        body: Some(body.to_string()),
    }
}

fn poll_request(settings: &Settings, report_request_id: Option<&str>) -> ApiRequest {
    ApiRequest {
        method: "POST",
        path_and_query: POLL_PATH.to_string(),
        headers: headers(settings),
        body: report_request_id.map(|id| json!({"ReportRequestId": id}).to_string()),
    }
}

/// True for the `next` of a `Pending` poll: re-send the previous request (the same poll,
/// with its `ReportRequestId`), after a pause.
pub fn repeats_previous_request(request: &ApiRequest) -> bool {
    request.path_and_query == POLL_PATH && request.body.is_none()
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

/// Reads one response body (HTTP 2xx) — a submit answer, a poll answer or the downloaded
/// CSV — into costs and the next request.
pub fn read_page(settings: &Settings, _range: DateRange, body: &[u8]) -> Result<Page> {
    if body.starts_with(b"PK\x03\x04") {
        return Err(malformed(
            "the download is a zip archive: the driver must unzip it and pass the CSV inside",
        ));
    }
    let text = std::str::from_utf8(body).map_err(|_| malformed("the body is not UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') {
        let json: Value =
            serde_json::from_str(text).map_err(|e| malformed(format!("not JSON: {e}")))?;
        return read_json(settings, &json);
    }
    read_csv(settings, text)
}

fn read_json(settings: &Settings, json: &Value) -> Result<Page> {
    if let Some(id) = json.get("ReportRequestId") {
        let id = match id {
            Value::String(s) if !s.is_empty() => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(malformed(
                    "SubmitGenerateReport answered without a ReportRequestId",
                ));
            }
        };
        return Ok(Page {
            next: Some(poll_request(settings, Some(&id))),
            ..Page::default()
        });
    }
    let Some(status) = json.get("ReportRequestStatus") else {
        return Err(malformed(
            "neither ReportRequestId (submit) nor ReportRequestStatus (poll) in the answer",
        ));
    };
    match status.get("Status").and_then(Value::as_str) {
        Some("Pending") => Ok(Page {
            next: Some(poll_request(settings, None)),
            notes: vec!["report pending: poll again after a pause".to_string()],
            ..Page::default()
        }),
        Some("Success") => match status.get("ReportDownloadUrl").and_then(Value::as_str) {
            Some(url) if !url.is_empty() => Ok(Page {
                next: Some(ApiRequest {
                    method: "GET",
                    path_and_query: url.to_string(),
                    headers: Vec::new(),
                    body: None,
                }),
                ..Page::default()
            }),
            _ => Ok(Page {
                notes: vec![
                    "the report succeeded without a download URL: Microsoft has no data \
                     for this account and range"
                        .to_string(),
                ],
                ..Page::default()
            }),
        },
        Some("Error") => Err(refused(
            settings,
            "the report request ended with Status Error: check that the account id and \
             customer id in the config belong together and that the user can read reports, \
             then run again"
                .to_string(),
        )),
        other => Err(malformed(format!(
            "ReportRequestStatus.Status is {other:?}, not Pending, Success or Error"
        ))),
    }
}

fn read_csv(settings: &Settings, text: &str) -> Result<Page> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut columns: Option<Vec<usize>> = None;
    let mut costs = Vec::new();
    let (mut announced, mut incomplete) = (None, false);
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| malformed(format!("CSV: {e}")))?;
        let Some(index) = &columns else {
            // The report header's "Rows: N" counts the records below the column header.
            let header = record
                .get(0)
                .unwrap_or("")
                .trim_start_matches('\u{feff}')
                .trim();
            if let Some(rows) = header.strip_prefix("Rows:") {
                announced = Some(rows.trim().parse::<usize>().map_err(|_| {
                    malformed(format!(
                        "the report header says {header:?}, not a row count"
                    ))
                })?);
            }
            if let Some(flag) = header.strip_prefix("Potential Incomplete Data:") {
                incomplete = flag.trim().eq_ignore_ascii_case("true");
            }
            // Report header lines come first; the column header starts with TimePeriod.
            if record.get(0).map(str::trim) == Some("TimePeriod") {
                let mut found = Vec::with_capacity(COLUMNS.len());
                for column in COLUMNS {
                    let at = record
                        .iter()
                        .position(|h| h.trim() == column)
                        .ok_or_else(|| {
                            malformed(format!("the CSV column header has no {column} column"))
                        })?;
                    found.push(at);
                }
                columns = Some(found);
            }
            continue;
        };
        if record.len() <= 1 {
            // Blank lines and the footer: "©2026 Microsoft Corporation. All rights reserved."
            continue;
        }
        if index.iter().any(|at| *at >= record.len()) {
            return Err(malformed(format!(
                "CSV record {} has {} fields, fewer than the column header",
                line + 1,
                record.len()
            )));
        }
        let values: Vec<&str> = index
            .iter()
            .map(|at| record.get(*at).unwrap_or("").trim())
            .collect();
        costs.push(
            read_row(settings, &values)
                .map_err(|e| malformed(format!("CSV record {}: {e}", line + 1)))?,
        );
    }
    if columns.is_none() {
        return Err(malformed(
            "no CSV column header (a line starting with TimePeriod) in the download",
        ));
    }
    if let Some(rows) = announced
        && rows != costs.len()
    {
        return Err(malformed(format!(
            "the report header says Rows: {rows} but the download carries {} records: an \
             incomplete report is not stored; pull the range again",
            costs.len()
        )));
    }
    let notes = if incomplete {
        vec![
            "Microsoft marks the report \"Potential Incomplete Data: true\" (its newest \
             hours are still being processed): the next pull of these days replaces them"
                .to_string(),
        ]
    } else {
        Vec::new()
    };
    Ok(Page {
        costs,
        next: None,
        notes,
    })
}

/// One CSV record, `values` in the order of [`COLUMNS`].
fn read_row(settings: &Settings, values: &[&str]) -> std::result::Result<CostRecord, String> {
    let field = |name: &str| -> &str {
        COLUMNS
            .iter()
            .position(|c| *c == name)
            .and_then(|i| values.get(i).copied())
            .unwrap_or("")
    };
    let period = field("TimePeriod");
    let date = chrono::NaiveDate::parse_from_str(period, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(period, "%m/%d/%Y"))
        .map_err(|_| format!("TimePeriod {period:?} is not a day (YYYY-MM-DD or M/D/YYYY)"))?;
    let spend = field("Spend");
    if !super::is_decimal(spend) {
        return Err(format!("Spend {spend:?} is not a decimal amount"));
    }
    let currency = match field("CurrencyCode") {
        "" => settings.currency.clone().ok_or(
            "empty CurrencyCode: set `currency` (the account currency) in the Microsoft \
             settings",
        )?,
        code => code.to_string(),
    };
    let account = match field("AccountId") {
        "" => settings.account_id.clone(),
        id => id.to_string(),
    };
    let campaign = field("CampaignId");
    if campaign.is_empty() {
        return Err("empty CampaignId".to_string());
    }
    let currency = currency.trim().to_ascii_uppercase();
    let mut record = super::cost_record(PLATFORM, date, &account, campaign, spend, &currency);
    let mut put = |k: &str, v: &str| {
        if !v.is_empty() {
            record.insert(k.to_string(), v.to_string());
        }
    };
    put("campaign_name", field("CampaignName"));
    put("ad_group_id", field("AdGroupId"));
    put("ad_group_name", field("AdGroupName"));
    put("ad_id", field("AdId"));
    for (from, to) in [("Impressions", "impressions"), ("Clicks", "clicks")] {
        let v = field(from);
        if !v.is_empty() && !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{from} {v:?} is not a whole number"));
        }
        put(to, v);
    }
    Ok(record)
}

/// What to do about a non-2xx answer, from its status, `Retry-After` header and body
/// (`{"OperationErrors": [{"Code": 109, "ErrorCode": "AuthenticationTokenExpired", …}], …}`).
pub fn read_error(
    settings: &Settings,
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> ErrorAction {
    let after_secs = super::retry_after_secs(retry_after);
    let errors: Vec<(i64, String, String)> = serde_json::from_slice::<Value>(body)
        .ok()
        .map(|json| {
            ["OperationErrors", "Errors", "BatchErrors"]
                .iter()
                .filter_map(|key| json.get(key).and_then(Value::as_array))
                .flatten()
                .map(|e| {
                    (
                        e.get("Code").and_then(Value::as_i64).unwrap_or(-1),
                        e.get("ErrorCode")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        e.get("Message")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let said: Vec<String> = errors
        .iter()
        .map(|(code, name, message)| format!("{code} {name} \"{message}\""))
        .collect();
    let said = if said.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}, {}", said.join("; "))
    };
    let has = |codes: &[i64], names: &[&str]| {
        errors
            .iter()
            .any(|(c, n, _)| codes.contains(c) || names.contains(&n.as_str()))
    };
    // 117 CallRateExceeded; 0 InternalError.
    if status == 429 || status >= 500 || has(&[0, 117], &["CallRateExceeded", "InternalError"]) {
        return ErrorAction::Retry { after_secs };
    }
    let what_to_do = if has(
        &[105, 109],
        &["InvalidCredentials", "AuthenticationTokenExpired"],
    ) || status == 401
    {
        "the access token is expired or invalid: sign in to Microsoft Advertising again \
         to get a new refresh token and store it"
    } else if has(&[106], &["UserIsNotAuthorized"]) {
        "the user cannot read this account: check customer_id and account_id in the config \
         and the user's role on the account"
    } else if has(
        &[],
        &["InvalidDeveloperToken", "DeveloperTokenNotAuthorized"],
    ) {
        "the developer token was refused: check developer_token in the config"
    } else {
        "read Microsoft's message; retrying will not help"
    };
    ErrorAction::Stop(refused(settings, format!("{said}: {what_to_do}")))
}

#[cfg(test)]
mod tests {

    use proptest::prelude::*;

    use super::*;
    use crate::ads::test_support::{assert_valid, range};

    const SUBMIT: &str = include_str!("../../tests/fixtures/ads/microsoft/submit.json");
    const PENDING: &str = include_str!("../../tests/fixtures/ads/microsoft/poll_pending.json");
    const SUCCESS: &str = include_str!("../../tests/fixtures/ads/microsoft/poll_success.json");
    const NO_DATA: &str = include_str!("../../tests/fixtures/ads/microsoft/poll_no_data.json");
    const FAILED: &str = include_str!("../../tests/fixtures/ads/microsoft/poll_error.json");
    const REPORT: &str = include_str!("../../tests/fixtures/ads/microsoft/report.csv");
    const EXPIRED: &str = include_str!("../../tests/fixtures/ads/microsoft/expired_token.json");
    const RATE_LIMIT: &str = include_str!("../../tests/fixtures/ads/microsoft/rate_limit.json");
    const MALFORMED: &str = include_str!("../../tests/fixtures/ads/microsoft/malformed.csv");

    fn settings() -> Settings {
        toml::from_str(
            r#"account_id = "180012345"
customer_id = "250012345"
developer_token = "dev-token-1"
report_time_zone = "EasternTimeUSCanada""#,
        )
        .unwrap()
    }

    fn header(request: &ApiRequest, name: &str) -> String {
        request
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    #[test]
    fn a_download_short_of_its_rows_header_is_refused() {
        let short = REPORT.replace(r#""Rows: 4""#, r#""Rows: 5""#);
        let error = read_page(&settings(), range(), short.as_bytes()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("Rows: 5 but the download carries 4"),
            "{error}"
        );
        let flagged = REPORT.replace(
            "Potential Incomplete Data: false",
            "Potential Incomplete Data: true",
        );
        let page = read_page(&settings(), range(), flagged.as_bytes()).unwrap();
        assert_eq!(page.costs.len(), 4);
        assert!(
            page.notes[0].contains("Potential Incomplete Data"),
            "{:?}",
            page.notes
        );
    }

    #[test]
    fn submits_a_daily_ad_performance_report() {
        let request = first_request(&settings(), range());
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.path_and_query,
            "/Reporting/v13/GenerateReport/Submit"
        );
        assert_eq!(header(&request, "DeveloperToken"), "dev-token-1");
        assert_eq!(header(&request, "CustomerId"), "250012345");
        assert_eq!(header(&request, "CustomerAccountId"), "180012345");
        let body: Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
        let report = &body["ReportRequest"];
        assert_eq!(report["Type"], "AdPerformanceReportRequest");
        assert_eq!(report["Aggregation"], "Daily");
        assert_eq!(report["Format"], "Csv");
        assert_eq!(report["Scope"]["AccountIds"], json!([180012345u64]));
        assert_eq!(
            report["Time"]["CustomDateRangeStart"],
            json!({"Day": 1, "Month": 11, "Year": 2026})
        );
        assert_eq!(
            report["Time"]["CustomDateRangeEnd"],
            json!({"Day": 2, "Month": 11, "Year": 2026})
        );
        assert_eq!(report["Time"]["ReportTimeZone"], "EasternTimeUSCanada");
        for column in ["TimePeriod", "AdId", "Spend", "CurrencyCode"] {
            assert!(
                report["Columns"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(column)),
                "{column}"
            );
        }
    }

    #[test]
    fn submit_poll_pending_poll_success_download() {
        let s = settings();
        let submitted = read_page(&s, range(), SUBMIT.as_bytes()).unwrap();
        assert!(submitted.costs.is_empty());
        let poll = submitted.next.unwrap();
        assert_eq!(poll.method, "POST");
        assert_eq!(poll.path_and_query, "/Reporting/v13/GenerateReport/Poll");
        assert_eq!(
            serde_json::from_str::<Value>(poll.body.as_deref().unwrap()).unwrap(),
            json!({"ReportRequestId": "30000001234_abc"})
        );
        assert!(!repeats_previous_request(&poll));

        let pending = read_page(&s, range(), PENDING.as_bytes()).unwrap();
        assert!(pending.costs.is_empty());
        let again = pending.next.unwrap();
        assert!(repeats_previous_request(&again), "{again:?}");

        let success = read_page(&s, range(), SUCCESS.as_bytes()).unwrap();
        let download = success.next.unwrap();
        assert_eq!(download.method, "GET");
        assert!(download.headers.is_empty());
        assert_eq!(
            download.path_and_query,
            "https://bingadsappsstorageprod.blob.core.windows.net/downloadfiles/30000001234_abc.zip?sv=2020-08-04&sig=abc%3D"
        );

        let report = read_page(&s, range(), REPORT.as_bytes()).unwrap();
        assert_eq!(report.next, None);
        assert_eq!(report.costs.len(), 4);
        assert_valid(&report.costs);
    }

    #[test]
    fn reads_two_campaigns_over_two_days_skipping_header_and_footer() {
        let report = read_page(&settings(), range(), REPORT.as_bytes()).unwrap();
        let row = |date: &str,
                   campaign: &str,
                   name: &str,
                   group: &str,
                   group_name: &str,
                   ad: &str,
                   impressions: &str,
                   clicks: &str,
                   cost: &str| {
            [
                ("date", date),
                ("platform", "microsoft"),
                ("account_id", "180012345"),
                ("campaign_id", campaign),
                ("campaign_name", name),
                ("ad_group_id", group),
                ("ad_group_name", group_name),
                ("ad_id", ad),
                ("impressions", impressions),
                ("clicks", clicks),
                ("cost", cost),
                ("currency", "USD"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<CostRecord>()
        };
        let expected = vec![
            row(
                "2026-11-01",
                "400001",
                "Search - Brand",
                "1200001",
                "Brand exact",
                "8800001",
                "1520",
                "87",
                "43.21",
            ),
            row(
                "2026-11-01",
                "400002",
                "Search, Generic \"shoes\"",
                "1200002",
                "Generic",
                "8800002",
                "310",
                "9",
                "7.05",
            ),
            row(
                "2026-11-02",
                "400001",
                "Search - Brand",
                "1200001",
                "Brand exact",
                "8800001",
                "1498",
                "80",
                "40.00",
            ),
            row(
                "2026-11-02",
                "400002",
                "Search, Generic \"shoes\"",
                "1200002",
                "Generic",
                "8800002",
                "0",
                "0",
                "0.00",
            ),
        ];
        assert_eq!(report.costs, expected);
        assert_valid(&report.costs);
    }

    #[test]
    fn no_data_and_failed_reports() {
        let page = read_page(&settings(), range(), NO_DATA.as_bytes()).unwrap();
        assert!(page.costs.is_empty() && page.next.is_none());
        assert_eq!(page.notes.len(), 1);
        let err = read_page(&settings(), range(), FAILED.as_bytes()).unwrap_err();
        assert!(matches!(err, AdsError::Refused { .. }), "{err:?}");
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
        assert_eq!(platform, "microsoft");
        assert_eq!(account, "180012345");
        assert!(
            reason.contains("AuthenticationTokenExpired") && reason.contains("sign in"),
            "{reason}"
        );
        // The same fault with HTTP 400.
        assert!(matches!(
            read_error(&settings(), 400, None, EXPIRED.as_bytes()),
            ErrorAction::Stop(_)
        ));
    }

    #[test]
    fn rate_limit_is_retried() {
        assert_eq!(
            read_error(&settings(), 429, Some("12"), RATE_LIMIT.as_bytes()),
            ErrorAction::Retry {
                after_secs: Some(12)
            }
        );
        // CallRateExceeded in the body decides even with another status.
        assert_eq!(
            read_error(&settings(), 400, None, RATE_LIMIT.as_bytes()),
            ErrorAction::Retry { after_secs: None }
        );
        assert_eq!(
            read_error(&settings(), 503, Some("Wed, 21 Oct 2026 07:28:00 GMT"), b""),
            ErrorAction::Retry { after_secs: None }
        );
    }

    #[test]
    fn malformed_bodies_are_reported() {
        for body in [
            MALFORMED.as_bytes(),
            b"{\"ReportRequestStatus\": {\"Status\": \"Queued\"}}",
            b"{\"Unexpected\": true}",
            b"{\"ReportRequestId\": null}",
            b"PK\x03\x04 zipped",
            b"\"Report Name: Ad Performance\"\n",
        ] {
            let err = read_page(&settings(), range(), body).unwrap_err();
            assert!(
                matches!(
                    err,
                    AdsError::Malformed {
                        platform: "microsoft",
                        ..
                    }
                ),
                "{err:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), status in any::<u16>()) {
            let _ = read_page(&settings(), range(), &body);
            let _ = read_error(&settings(), status, std::str::from_utf8(&body).ok(), &body);
        }

        #[test]
        fn arbitrary_csv_rows_never_panic(rows in proptest::collection::vec(".{0,60}", 0..6)) {
            let mut body = String::from("\"Report Name: x\"\n");
            body.push_str(&COLUMNS.join(","));
            body.push('\n');
            for row in rows {
                body.push_str(&row);
                body.push('\n');
            }
            let _ = read_page(&settings(), range(), body.as_bytes());
        }
    }
}
