//! The pull against a local server that answers like the four platforms (their documented
//! response shapes, from crates/sources/tests/fixtures/ads): success, paging, polling, a
//! zipped download, rate limits with Retry-After, an expired token, a restated day, a
//! report that never ends. Checks the exact rows the lake holds after each pull.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, Decimal128Array, StringArray};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use throughline_costs::{AccountReport, PullPolicy, PullWindow, Puller};
use throughline_lake::Lake;
use throughline_lake::state::{EmbeddedStateStore, StateStore};
use throughline_model::TenantId;
use throughline_sources::ads::AdsSettings;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sources/tests/fixtures/ads");

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{path}")).unwrap()
}

/// How the fake platforms behave; tests flip these between pulls.
#[derive(Default)]
struct Scenario {
    base: String,
    /// Meta restated 2026-11-01: the first ad's spend.
    meta_restated_spend: Option<String>,
    meta_token_expired: bool,
    meta_endless: bool,
    /// Answers 429 with `Retry-After: 1` to the next Google cost request.
    google_rate_limit_once: bool,
    tiktok_rate_limit_once: bool,
    oauth_refused: bool,
    microsoft_polls: usize,
    /// Every request: "METHOD path auth-header".
    log: Vec<String>,
}

type Shared = Arc<Mutex<Scenario>>;

fn json(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "application/json")], body).into_response()
}

fn logged(s: &Shared, what: String) {
    s.lock().unwrap().log.push(what);
}

async fn oauth(State(s): State<Shared>, body: String) -> Response {
    logged(&s, format!("POST /token {body}"));
    if s.lock().unwrap().oauth_refused {
        return json(
            StatusCode::BAD_REQUEST,
            r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#
                .into(),
        );
    }
    json(
        StatusCode::OK,
        r#"{"access_token":"ya29.test-access","expires_in":3599,"token_type":"Bearer"}"#.into(),
    )
}

fn auth_of(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

async fn google(State(s): State<Shared>, headers: HeaderMap, body: String) -> Response {
    logged(
        &s,
        format!(
            "POST google {} dev={}",
            auth_of(&headers, "authorization"),
            auth_of(&headers, "developer-token")
        ),
    );
    if body.contains("click_view") {
        let day_one = body.contains("2026-11-01");
        return json(
            StatusCode::OK,
            if day_one {
                fixture("google_ads/click_view.json")
            } else {
                "[]".into()
            },
        );
    }
    let mut scenario = s.lock().unwrap();
    if std::mem::take(&mut scenario.google_rate_limit_once) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1"), ("content-type", "application/json")],
            fixture("google_ads/rate_limited.json"),
        )
            .into_response();
    }
    json(StatusCode::OK, fixture("google_ads/search_stream.json"))
}

async fn meta(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    logged(
        &s,
        format!("GET meta {}", auth_of(&headers, "authorization")),
    );
    let scenario = s.lock().unwrap();
    if scenario.meta_token_expired {
        return json(StatusCode::BAD_REQUEST, fixture("meta/token_expired.json"));
    }
    if scenario.meta_endless {
        // Every page has rows and links to another with a new cursor.
        let n = query
            .get("after")
            .and_then(|a| a.strip_prefix('c'))
            .map_or(0, |n| n.parse::<u32>().unwrap() + 1);
        let page =
            fixture("meta/insights_page_1.json").replace("after=MQZDZD", &format!("after=c{n}"));
        return json(StatusCode::OK, page);
    }
    let page = match query.get("after") {
        None => fixture("meta/insights_page_1.json"),
        Some(_) => fixture("meta/insights_page_2.json"),
    };
    let page = match &scenario.meta_restated_spend {
        Some(spend) => page.replace("\"182.47\"", &format!("\"{spend}\"")),
        None => page,
    };
    json(StatusCode::OK, page)
}

async fn tiktok(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    logged(
        &s,
        format!("GET tiktok {}", auth_of(&headers, "access-token")),
    );
    if std::mem::take(&mut s.lock().unwrap().tiktok_rate_limit_once) {
        // TikTok answers errors with HTTP 200 and a code in the body.
        return json(StatusCode::OK, fixture("tiktok/rate_limit.json"));
    }
    match query.get("page").map(String::as_str) {
        Some("2") => json(StatusCode::OK, fixture("tiktok/page_2_of_2.json")),
        _ => json(StatusCode::OK, fixture("tiktok/page_1_of_2.json")),
    }
}

async fn microsoft_submit(State(s): State<Shared>, headers: HeaderMap) -> Response {
    logged(
        &s,
        format!(
            "POST microsoft submit {} dev={}",
            auth_of(&headers, "authorization"),
            auth_of(&headers, "developertoken")
        ),
    );
    s.lock().unwrap().microsoft_polls = 0;
    json(StatusCode::OK, fixture("microsoft/submit.json"))
}

async fn microsoft_poll(State(s): State<Shared>, body: String) -> Response {
    assert!(
        body.contains("30000001234_abc"),
        "a poll names its report: {body}"
    );
    let mut scenario = s.lock().unwrap();
    scenario.microsoft_polls += 1;
    if scenario.microsoft_polls == 1 {
        return json(StatusCode::OK, fixture("microsoft/poll_pending.json"));
    }
    let url = format!("{}/downloads/30000001234_abc.zip?sig=secret", scenario.base);
    json(
        StatusCode::OK,
        fixture("microsoft/poll_success.json").replace(
            "https://bingadsappsstorageprod.blob.core.windows.net/downloadfiles/30000001234_abc.zip?sv=2020-08-04&sig=abc%3D",
            &url,
        ),
    )
}

async fn microsoft_download(State(s): State<Shared>, headers: HeaderMap) -> Response {
    logged(
        &s,
        format!("GET download {}", auth_of(&headers, "authorization")),
    );
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        "30000001234_abc.csv",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zip.write_all(fixture("microsoft/report.csv").as_bytes())
        .unwrap();
    let archive = zip.finish().unwrap().into_inner();
    (StatusCode::OK, Bytes::from(archive)).into_response()
}

async fn serve(scenario: Shared) -> String {
    let app = Router::new()
        .route("/token", post(oauth))
        .route("/v26/customers/{*path}", post(google))
        .route("/v26.0/act_1029384756/insights", get(meta))
        .route("/open_api/v1.3/report/integrated/get/", get(tiktok))
        .route(
            "/Reporting/v13/GenerateReport/Submit",
            post(microsoft_submit),
        )
        .route("/Reporting/v13/GenerateReport/Poll", post(microsoft_poll))
        .route("/downloads/{file}", get(microsoft_download))
        .with_state(scenario.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    scenario.lock().unwrap().base = base.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn settings(base: &str, max_pages: u32) -> AdsSettings {
    toml::from_str(&format!(
        r#"
        max_pages = {max_pages}

        [[google_ads]]
        account_id = "123-456-7890"
        developer_token = "dev-token-abc"
        base_url = "{base}"
        auth = {{ client_id = "cid", client_secret = "csecret", refresh_token = "rt-google", token_url = "{base}/token" }}

        [[meta]]
        account_id = "act_1029384756"
        access_token = "EAAB-test-token"
        base_url = "{base}"

        [[tiktok]]
        account_id = "7012345678901234567"
        access_token = "tt-token"
        base_url = "{base}"

        [[microsoft]]
        account_id = "180012345"
        customer_id = "250012345"
        developer_token = "ms-dev"
        base_url = "{base}"
        auth = {{ client_id = "ms-cid", refresh_token = "rt-ms", token_url = "{base}/token" }}
        "#
    ))
    .unwrap()
}

fn window() -> PullWindow {
    PullWindow {
        from: Some(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()),
        to: Some(NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()),
        today: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
    }
}

struct Setup {
    scenario: Shared,
    lake: Lake,
    state: Arc<dyn StateStore>,
    puller: Puller,
    ads: AdsSettings,
    tenant: TenantId,
    _dir: tempfile::TempDir,
}

async fn setup(max_pages: u32) -> Setup {
    let scenario: Shared = Arc::default();
    let base = serve(scenario.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let state: Arc<dyn StateStore> = Arc::new(EmbeddedStateStore::new(lake.store()));
    let policy = PullPolicy {
        backoff_base: std::time::Duration::from_millis(10),
        poll_every: std::time::Duration::from_millis(10),
        ..PullPolicy::default()
    };
    let puller = Puller::new(lake.clone(), state.clone(), policy).unwrap();
    Setup {
        scenario,
        lake,
        state,
        puller,
        ads: settings(&base, max_pages),
        tenant: TenantId::parse("acme").unwrap(),
        _dir: dir,
    }
}

impl Setup {
    async fn pull(&self) -> Vec<AccountReport> {
        self.puller
            .pull(&self.tenant, &self.ads, None, window(), |_| {})
            .await
    }

    /// (platform, date, ad or campaign id, cost in 10^-4) of every stored cost row.
    async fn stored_costs(&self) -> Vec<(String, String, String, i128)> {
        let mut rows = Vec::new();
        for file in self
            .lake
            .table_files("ad_costs", &self.tenant, &throughline_lake::AsOf::Latest)
            .await
            .unwrap()
            .files
        {
            let file = file.key;
            let date = file
                .as_ref()
                .split("date=")
                .nth(1)
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .to_owned();
            let body = self.lake.get(&file).await.unwrap();
            for batch in throughline_lake::read_parquet(body, None).unwrap() {
                let text = |name: &str| {
                    batch
                        .column_by_name(name)
                        .unwrap()
                        .as_any()
                        .downcast_ref::<StringArray>()
                        .unwrap()
                        .clone()
                };
                let (platform, campaign, ad) =
                    (text("platform"), text("campaign_id"), text("ad_id"));
                let cost = batch
                    .column_by_name("cost")
                    .unwrap()
                    .as_any()
                    .downcast_ref::<Decimal128Array>()
                    .unwrap()
                    .clone();
                for i in 0..batch.num_rows() {
                    let id = if ad.is_null(i) {
                        campaign.value(i)
                    } else {
                        ad.value(i)
                    };
                    rows.push((
                        platform.value(i).to_owned(),
                        date.clone(),
                        id.to_owned(),
                        cost.value(i),
                    ));
                }
            }
        }
        rows.sort();
        rows
    }

    async fn total(&self, platform: &str) -> i128 {
        self.stored_costs()
            .await
            .iter()
            .filter(|r| r.0 == platform)
            .map(|r| r.3)
            .sum()
    }
}

fn errors(reports: &[AccountReport]) -> Vec<(&str, Option<&str>)> {
    reports
        .iter()
        .map(|r| (r.platform, r.error.as_deref()))
        .collect()
}

#[tokio::test]
async fn pulls_all_four_platforms_exactly_and_repulls_change_nothing() {
    let setup = setup(50).await;
    let reports = setup.pull().await;
    assert_eq!(
        errors(&reports),
        [
            ("google_ads", None),
            ("meta", None),
            ("tiktok", None),
            ("microsoft", None)
        ]
    );
    // The fixtures' spend, to the cent (money in units of 10^-4).
    assert_eq!(setup.total("google_ads").await, 29_907_178); // 1234.5678 + 456.10 + 1300 + 0.05
    assert_eq!(setup.total("meta").await, 4_540_600); // 182.47 + 41.09 + 230.50 (+ a row without spend)
    assert_eq!(setup.total("tiktok").await, 204_400); // 12.34 + 5.00 + 3.10, over two pages
    assert_eq!(setup.total("microsoft").await, 902_600); // 43.21 + 7.05 + 40.00 + 0.00, zipped CSV
    let first = setup.stored_costs().await;
    assert_eq!(first.len(), 4 + 4 + 3 + 4);
    assert!(reports.iter().all(|r| r.days_stored == 2));
    assert_eq!(
        reports[0].click_rows, 2,
        "click_view of 2026-11-01: two gclids (a third row has none)"
    );
    assert_eq!(reports[1].pages, 2, "Meta: two cursor pages");
    assert_eq!(
        reports[3].pages, 3,
        "Microsoft: submit, poll (after a pending poll), download"
    );

    // Credentials: OAuth refreshed (Google, Microsoft with its scope), tokens in the
    // platforms' headers, none sent to the pre-signed download.
    let log = setup.scenario.lock().unwrap().log.clone();
    assert!(log.iter().any(|l| l.starts_with("POST /token")
        && l.contains("refresh_token=rt-google")
        && l.contains("client_secret=csecret")));
    assert!(
        log.iter()
            .any(|l| l.starts_with("POST /token") && l.contains("msads.manage"))
    );
    assert!(log.contains(&"POST google Bearer ya29.test-access dev=dev-token-abc".to_owned()));
    assert!(log.contains(&"GET meta Bearer EAAB-test-token".to_owned()));
    assert!(log.contains(&"GET tiktok tt-token".to_owned()));
    assert!(log.contains(&"POST microsoft submit Bearer ya29.test-access dev=ms-dev".to_owned()));
    assert!(log.contains(&"GET download -".to_owned()));

    // Cursors advance to the last stored day.
    assert_eq!(
        setup
            .state
            .cursor(&setup.tenant, "ads:meta:1029384756")
            .await
            .unwrap()
            .as_deref(),
        Some("2026-11-02")
    );
    // Raw answers are kept verbatim.
    let raw = setup.lake.store().list(Some(&"raw/ads-microsoft".into()));
    use futures::TryStreamExt;
    let raw: Vec<_> = raw.try_collect().await.unwrap();
    assert_eq!(raw.len(), 4, "submit, pending poll, poll, download");

    // Pulling the same range again changes nothing.
    let again = setup.pull().await;
    assert!(again.iter().all(|r| !r.failed()));
    assert_eq!(setup.stored_costs().await, first);
}

#[tokio::test]
async fn a_restated_day_replaces_the_old_one() {
    let setup = setup(50).await;
    setup.pull().await;
    setup.scenario.lock().unwrap().meta_restated_spend = Some("150.00".into());
    let reports = setup.pull().await;
    assert!(reports.iter().all(|r| !r.failed()), "{reports:?}");
    assert_eq!(setup.total("meta").await, 4_540_600 - 1_824_700 + 1_500_000);
    assert_eq!(setup.stored_costs().await.len(), 15, "replaced, not added");
}

#[tokio::test]
async fn rate_limits_are_retried_honouring_retry_after() {
    let setup = setup(50).await;
    {
        let mut scenario = setup.scenario.lock().unwrap();
        scenario.google_rate_limit_once = true;
        scenario.tiktok_rate_limit_once = true;
    }
    let started = std::time::Instant::now();
    let reports = setup.pull().await;
    assert!(reports.iter().all(|r| !r.failed()), "{reports:?}");
    assert_eq!(reports[0].retries, 1);
    assert_eq!(reports[2].retries, 1);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Google's Retry-After: 1 was waited for"
    );
    assert_eq!(setup.total("google_ads").await, 29_907_178);
    assert_eq!(setup.total("tiktok").await, 204_400);
}

#[tokio::test]
async fn failures_keep_previous_data_and_name_what_to_do() {
    let setup = setup(3).await;
    setup.pull().await;
    let before = setup.stored_costs().await;
    {
        let mut scenario = setup.scenario.lock().unwrap();
        scenario.meta_token_expired = true;
        scenario.oauth_refused = true;
        scenario.meta_restated_spend = Some("1.00".into());
    }
    let reports = setup.pull().await;
    let google = reports[0].error.as_deref().unwrap();
    assert!(
        google.contains("google_ads")
            && google.contains("invalid_grant")
            && google.contains("re-authorise"),
        "{google}"
    );
    let meta = reports[1].error.as_deref().unwrap();
    assert!(meta.contains("meta") && meta.contains("expired"), "{meta}");
    assert!(!reports[2].failed(), "other accounts are pulled regardless");
    assert_eq!(setup.stored_costs().await, before, "nothing replaced");

    // A report that never ends stops at max_pages and stores nothing.
    {
        let mut scenario = setup.scenario.lock().unwrap();
        scenario.meta_token_expired = false;
        scenario.meta_endless = true;
    }
    let reports = setup.pull().await;
    let meta = reports[1].error.as_deref().unwrap();
    assert!(meta.contains("did not end after 3 pages"), "{meta}");
    assert_eq!(setup.stored_costs().await, before);
}
