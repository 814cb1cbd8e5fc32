//! Sending a connector's requests: authentication, retries with backoff, paging and
//! polling until the report is complete.

use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use throughline_sources::ads::{Account, ApiRequest, CostRecord, DateRange, ErrorAction};

use crate::PullError;
use crate::unzip::unzip_single_file;

/// How patient a pull is. The defaults suit the platforms' documented limits; tests and
/// operators tune them with `THROUGHLINE_ADS_BACKOFF_MS` and `THROUGHLINE_ADS_POLL_MS`.
#[derive(Debug, Clone)]
pub struct PullPolicy {
    /// Tries per request, the first included.
    pub attempts: u32,
    /// The first backoff; each retry doubles it, up to `backoff_cap`, with full jitter.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// A platform asking to wait longer than this (`Retry-After`) stops the account: the
    /// next scheduled pull catches up, as its window re-reads recent days.
    pub longest_wait: Duration,
    /// The pause between polls of a report being built (Microsoft).
    pub poll_every: Duration,
    pub max_polls: u32,
    /// Per request, connection included.
    pub timeout: Duration,
}

impl Default for PullPolicy {
    fn default() -> Self {
        Self {
            attempts: 6,
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(60),
            longest_wait: Duration::from_secs(15 * 60),
            poll_every: Duration::from_secs(5),
            max_polls: 360,
            timeout: Duration::from_secs(120),
        }
    }
}

impl PullPolicy {
    /// The defaults, with the settings' first backoff (`THROUGHLINE_ADS_BACKOFF_MS`) and
    /// poll pause (`THROUGHLINE_ADS_POLL_MS`) when set.
    pub fn from_settings(settings: &throughline_settings::AdsPullSettings) -> Self {
        let mut policy = Self::default();
        if let Some(base) = settings.backoff {
            policy.backoff_base = base;
            policy.backoff_cap = policy.backoff_cap.min(base * 64);
        }
        if let Some(poll) = settings.poll {
            policy.poll_every = poll;
        }
        policy
    }

    /// The pause before retry number `retry` (1-based): the platform's wait when it gave
    /// one (plus a little jitter, so accounts sharing a quota do not return together),
    /// else full jitter over an exponentially growing ceiling.
    fn pause(&self, retry: u32, platform_secs: Option<u64>) -> Duration {
        let mut rng = rand::rng();
        match platform_secs {
            Some(secs) => {
                Duration::from_secs(secs) + self.backoff_base.mul_f64(rng.random::<f64>() * 0.1)
            }
            None => {
                let ceiling = self
                    .backoff_base
                    .saturating_mul(1 << retry.saturating_sub(1).min(20))
                    .min(self.backoff_cap);
                ceiling.mul_f64(rng.random::<f64>())
            }
        }
    }
}

/// An HTTP answer.
pub(crate) struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Bytes,
}

/// Sends with retries: `send` makes one attempt; `judge` reads an answer into the body,
/// or a retry (with the platform's wait), or a stop.
pub(crate) async fn with_retries<S, F, J>(
    policy: &PullPolicy,
    what: &str,
    fail: impl Fn(String) -> PullError,
    mut send: S,
    judge: J,
) -> Result<(Bytes, u32), PullError>
where
    S: FnMut() -> F,
    F: std::future::Future<Output = Result<Answer, reqwest::Error>>,
    J: Fn(Answer) -> Result<Bytes, (ErrorAction, String)>,
{
    let mut retries = 0;
    loop {
        let (action, last) = match send().await {
            Ok(answer) => match judge(answer) {
                Ok(body) => return Ok((body, retries)),
                Err(verdict) => verdict,
            },
            // Connection refused, reset, timed out: transient until proven otherwise.
            Err(e) => (
                ErrorAction::Retry { after_secs: None },
                format!("network error: {e}"),
            ),
        };
        let after_secs = match action {
            ErrorAction::Stop(e) => return Err(e.into()),
            ErrorAction::Retry { after_secs } => after_secs,
        };
        if after_secs.is_some_and(|s| Duration::from_secs(s) > policy.longest_wait) {
            return Err(fail(format!(
                "{what}: the platform asks to wait {} s ({last}); the next scheduled pull will catch up",
                after_secs.unwrap_or_default()
            )));
        }
        retries += 1;
        if retries >= policy.attempts {
            return Err(fail(format!(
                "{what}: still failing after {} attempts (last: {last}); previous data is kept, try again later",
                policy.attempts
            )));
        }
        let pause = policy.pause(retries, after_secs);
        tracing::warn!(what, retry = retries, ?pause, last, "retrying");
        tokio::time::sleep(pause).await;
    }
}

pub(crate) async fn send_once(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Result<Answer, reqwest::Error> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut request = http.request(method, url);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(body) = body {
        request = request.body(body.to_owned());
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().await?;
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// A complete report: its costs, what the platform did not say, and the bodies as received.
#[derive(Default)]
pub(crate) struct Report {
    pub costs: Vec<CostRecord>,
    pub notes: Vec<String>,
    /// Response bodies, verbatim, with a file extension, for `raw/`.
    pub bodies: Vec<(Bytes, &'static str)>,
    pub pages: u32,
    pub retries: u32,
}

/// One account's requests, authenticated.
pub(crate) struct Fetcher<'a> {
    pub http: &'a reqwest::Client,
    pub policy: &'a PullPolicy,
    pub account: Account<'a>,
    /// The authentication header: (name, value).
    pub auth: (&'static str, String),
    pub max_pages: u32,
    /// The last answer the platform refused or that could not be read (as received), so a
    /// failed pull can keep it under `quarantine/` for diagnosis.
    pub refused: std::sync::Mutex<Option<Bytes>>,
}

impl Fetcher<'_> {
    /// A body as it may be kept under `raw/` (all are text: JSON, CSV, or the CSV of a
    /// download): without the account's secrets, the access token of this pull, or any
    /// credential a URL in it carries (platforms echo tokens into paging links, and sign
    /// download URLs).
    pub fn redacted(&self, body: Bytes) -> Bytes {
        let token = self.auth.1.strip_prefix("Bearer ").unwrap_or(&self.auth.1);
        let mut secrets = self.account.secret_values();
        secrets.push(token.to_owned());
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        Bytes::from(throughline_sources::redact::redact(
            &String::from_utf8_lossy(&body),
            &secrets,
        ))
    }

    fn remember_refused(&self, body: Option<Bytes>) {
        *self.refused.lock().expect("no panics while locked") = body;
    }

    fn fail(&self) -> impl Fn(String) -> PullError + '_ {
        move |reason| PullError::Failed {
            platform: self.account.platform().name(),
            account: self.account.account_id(),
            reason,
        }
    }

    /// Sends one request with retries. A path that is an absolute URL (a pre-signed
    /// download) is sent as is, without credentials.
    pub async fn send(&self, request: &ApiRequest) -> Result<(Bytes, u32), PullError> {
        let absolute = request.path_and_query.starts_with("https://")
            || request.path_and_query.starts_with("http://");
        let url = if absolute {
            request.path_and_query.clone()
        } else {
            format!("{}{}", self.account.base_url(), request.path_and_query)
        };
        let mut headers = request.headers.clone();
        if !absolute {
            headers.push((self.auth.0.to_owned(), self.auth.1.clone()));
        }
        let account = self.account;
        let what = format!(
            "{} {}",
            request.method,
            redact_query(&request.path_and_query)
        );
        with_retries(
            self.policy,
            &what,
            self.fail(),
            || {
                send_once(
                    self.http,
                    request.method,
                    &url,
                    &headers,
                    request.body.as_deref(),
                )
            },
            |answer| {
                let status = answer.status;
                let verdict = if (200..300).contains(&status) {
                    match account.body_error(&answer.body) {
                        Some(action) => Err((action, format!("HTTP {status} with an error body"))),
                        None => Ok(answer.body.clone()),
                    }
                } else {
                    let action =
                        account.read_error(status, answer.retry_after.as_deref(), &answer.body);
                    Err((action, format!("HTTP {status}")))
                };
                self.remember_refused(verdict.is_err().then_some(answer.body));
                verdict
            },
        )
        .await
    }

    /// Every page (or poll, then download) of the cost report for `range`.
    pub async fn cost_report(&self, range: DateRange) -> Result<Report, PullError> {
        let mut report = Report::default();
        let mut request = self.account.first_request(range);
        let mut polls = 0;
        loop {
            report.pages += 1;
            if report.pages > self.max_pages {
                return Err((self.fail())(format!(
                    "the report for {}..{} did not end after {} pages; nothing was stored (raise ads.max_pages if the account really has this many rows)",
                    range.from, range.to, self.max_pages
                )));
            }
            let (body, retries) = self.send(&request).await?;
            report.retries += retries;
            let (body, extension) = if body.starts_with(b"PK\x03\x04") {
                // Microsoft's download: a zip archive with one CSV.
                let csv = unzip_single_file(&body).map_err(|e| {
                    self.remember_refused(Some(body.clone()));
                    (self.fail())(e)
                })?;
                (csv, "csv")
            } else if body.first().is_some_and(|b| matches!(b, b'{' | b'[')) {
                (body, "json")
            } else {
                (body, "txt")
            };
            let page = self.account.read_page(range, &body).inspect_err(|_| {
                self.remember_refused(Some(body.clone()));
            })?;
            report.bodies.push((body, extension));
            report.costs.extend(page.costs);
            report.notes.extend(page.notes);
            match page.next {
                None => return Ok(report),
                Some(next) if self.account.repeats_previous_request(&next) => {
                    polls += 1;
                    report.pages -= 1;
                    if polls > self.policy.max_polls {
                        return Err((self.fail())(format!(
                            "the report for {}..{} was still being built after {polls} polls; try again later",
                            range.from, range.to
                        )));
                    }
                    tokio::time::sleep(self.policy.poll_every).await;
                }
                Some(next) => request = next,
            }
        }
    }
}

/// A request's path for logs and errors, without query values (they may hold tokens).
fn redact_query(path_and_query: &str) -> String {
    let path = path_and_query.split('?').next().unwrap_or_default();
    // Pre-signed download URLs carry their signature in the query.
    path.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_with_full_jitter_and_honour_the_platform() {
        let policy = PullPolicy::default();
        for retry in 1..10 {
            let pause = policy.pause(retry, None);
            let ceiling = Duration::from_secs(1 << (retry - 1)).min(policy.backoff_cap);
            assert!(pause <= ceiling, "{retry}: {pause:?} > {ceiling:?}");
        }
        let waited = policy.pause(1, Some(30));
        assert!(waited >= Duration::from_secs(30) && waited <= Duration::from_millis(30_100));
        assert_eq!(redact_query("/x/report.zip?sig=abc"), "/x/report.zip");
    }
}
