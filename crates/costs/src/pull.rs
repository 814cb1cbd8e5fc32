//! One pull: for each configured account, the window to read, the reports, and the days
//! they replace.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use chrono::NaiveDate;
use serde::Serialize;
use throughline_lake::Lake;
use throughline_lake::state::StateStore;
use throughline_model::field::days_since_epoch;
use throughline_model::table::{ParseOptions, Table};
use throughline_model::{Row, TenantId};
use throughline_sources::ads::{Account, AdsSettings, CostRecord, DateRange, Platform, google_ads};

use crate::PullError;
use crate::fetch::{Fetcher, PullPolicy};
use crate::token::authorize;

/// Google keeps `click_view` for the last 90 days only.
const CLICK_VIEW_DAYS: i64 = 90;

/// Which days a pull reads. Unset bounds come from the account's cursor: from the day after
/// the last one stored, or `lookback_days` before `to` if that is earlier (restatements),
/// or `backfill_days` before `to` for an account never pulled; `to` defaults to today.
#[derive(Debug, Clone, Copy)]
pub struct PullWindow {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Today in UTC (a parameter, so tests fix it).
    pub today: NaiveDate,
}

/// What happened to one account: the days read and stored, or why it stopped. A failed
/// account leaves its previous data in place; other accounts are pulled regardless.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AccountReport {
    pub platform: &'static str,
    pub account: String,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Days whose costs were replaced (each day of the window, with or without costs).
    pub days_stored: usize,
    pub cost_rows: usize,
    /// Google Ads: gclid → campaign rows from `click_view`.
    pub click_rows: usize,
    pub pages: u32,
    pub retries: u32,
    /// What the platform did not say (e.g. a report with no data), never invented.
    pub notes: Vec<String>,
    pub error: Option<String>,
}

impl AccountReport {
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }
}

/// Pulls ad costs into one lake.
pub struct Puller {
    http: reqwest::Client,
    lake: Lake,
    state: Arc<dyn StateStore>,
    policy: PullPolicy,
}

impl Puller {
    pub fn new(
        lake: Lake,
        state: Arc<dyn StateStore>,
        policy: PullPolicy,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout.min(std::time::Duration::from_secs(10)))
            .user_agent(concat!("throughline/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            lake,
            state,
            policy,
        })
    }

    /// Pulls every account of `ads` (or of one platform), one after another; `on_account`
    /// sees each report as it is done (progress). Never stops at a failed account.
    pub async fn pull(
        &self,
        tenant: &TenantId,
        ads: &AdsSettings,
        platform: Option<Platform>,
        window: PullWindow,
        mut on_account: impl FnMut(&AccountReport),
    ) -> Vec<AccountReport> {
        let mut reports = Vec::new();
        for account in ads.accounts() {
            if platform.is_some_and(|p| p != account.platform()) {
                continue;
            }
            let report = self.pull_account(tenant, ads, account, window).await;
            on_account(&report);
            reports.push(report);
        }
        reports
    }

    /// Pulls one account; an error is in the report, with what to do.
    pub async fn pull_account(
        &self,
        tenant: &TenantId,
        ads: &AdsSettings,
        account: Account<'_>,
        window: PullWindow,
    ) -> AccountReport {
        let mut report = AccountReport {
            platform: account.platform().name(),
            account: account.account_id(),
            ..Default::default()
        };
        if let Err(e) = self
            .try_pull(tenant, ads, account, window, &mut report)
            .await
        {
            tracing::warn!(%tenant, platform = report.platform, account = %report.account, error = %e, "ad costs pull failed");
            report.error = Some(e.to_string());
        } else {
            tracing::info!(%tenant, platform = report.platform, account = %report.account, days = report.days_stored, rows = report.cost_rows, "ad costs pulled");
        }
        report
    }

    async fn try_pull(
        &self,
        tenant: &TenantId,
        ads: &AdsSettings,
        account: Account<'_>,
        window: PullWindow,
        report: &mut AccountReport,
    ) -> Result<(), PullError> {
        let platform = account.platform().name();
        let account_id = account.account_id();
        let fail = |reason: String| PullError::Failed {
            platform,
            account: account_id.clone(),
            reason,
        };
        let storage = |source: throughline_lake::Error| PullError::Storage {
            platform,
            account: account_id.clone(),
            source,
        };
        let cursor_name = format!("ads:{platform}:{account_id}");
        let cursor = self
            .state
            .cursor(tenant, &cursor_name)
            .await
            .map_err(|e| fail(format!("cannot read the pull cursor: {e}")))?
            .and_then(|c| NaiveDate::parse_from_str(&c, "%Y-%m-%d").ok());
        let range = window_range(ads, window, cursor).map_err(&fail)?;
        report.from = Some(range.from);
        report.to = Some(range.to);

        let auth = authorize(&self.http, &self.policy, account).await?;
        let fetcher = Fetcher {
            http: &self.http,
            policy: &self.policy,
            account,
            auth,
            max_pages: ads.max_pages,
            refused: Default::default(),
        };
        // The rows this pull owns in a day: its platform's and account's.
        let owner = [("platform", platform), ("account_id", account_id.as_str())];
        let raw_source = format!("ads-{platform}");
        let mut stored_to = cursor;
        for piece in range.chunks(account.max_days_per_report()) {
            let pulled = match fetcher.cost_report(piece).await {
                Ok(pulled) => pulled,
                Err(e) => {
                    self.keep_refused(tenant, &fetcher, &raw_source, piece, &e)
                        .await;
                    return Err(e);
                }
            };
            report.pages += pulled.pages;
            report.retries += pulled.retries;
            report.notes.extend(pulled.notes);
            for (body, extension) in pulled.bodies {
                let path = throughline_lake::raw_file(&raw_source, tenant, extension);
                let kept = fetcher.redacted(body);
                self.lake.put(&path, kept).await.map_err(storage)?;
            }
            // Every row is checked before any day is replaced: a bad report stores nothing.
            let by_day = cost_rows(account, piece, &pulled.costs).map_err(&fail)?;
            for day in piece.days() {
                let day = days_since_epoch(day);
                let rows = by_day.get(&day).map_or(&[][..], Vec::as_slice);
                self.lake
                    .replace_rows(Table::AdCosts, tenant, day, &owner, rows)
                    .await
                    .map_err(storage)?;
                report.days_stored += 1;
                report.cost_rows += rows.len();
            }
            if let Account::GoogleAds(settings) = account {
                match self
                    .pull_clicks(tenant, &fetcher, settings, piece, window.today, &owner)
                    .await
                {
                    Ok(rows) => report.click_rows += rows,
                    Err(e) => {
                        self.keep_refused(tenant, &fetcher, &raw_source, piece, &e)
                            .await;
                        return Err(e);
                    }
                }
            }
            // The cursor moves only forward, and only past stored days.
            if stored_to.is_none_or(|c| c < piece.to) {
                self.state
                    .set_cursor(tenant, &cursor_name, &piece.to.to_string())
                    .await
                    .map_err(|e| fail(format!("stored, but the cursor was not saved: {e}")))?;
                stored_to = Some(piece.to);
            }
            tracing::info!(%tenant, platform, account = %account_id, from = %piece.from, to = %piece.to, rows = report.cost_rows, "stored");
        }
        Ok(())
    }

    /// Keeps the answer that failed a pull (redacted) under `quarantine/ads-<platform>/`,
    /// with the error, so a refused or malformed report can be diagnosed. Nothing is kept
    /// when the failure had no answer (a network error); a failure to keep it is logged.
    async fn keep_refused(
        &self,
        tenant: &TenantId,
        fetcher: &Fetcher<'_>,
        source: &str,
        piece: DateRange,
        error: &PullError,
    ) {
        let Some(body) = fetcher
            .refused
            .lock()
            .expect("no panics while locked")
            .take()
        else {
            return;
        };
        let entry = serde_json::json!({
            "platform": fetcher.account.platform().name(),
            "account": fetcher.account.account_id(),
            "from": piece.from.to_string(),
            "to": piece.to.to_string(),
            "error": error.to_string(),
            "body": String::from_utf8_lossy(&body),
        });
        let entry = fetcher.redacted(Bytes::from(
            serde_json::to_vec_pretty(&entry).expect("an entry serialises"),
        ));
        if let Err(e) = self
            .lake
            .quarantine_file(source, tenant, "refused.json", entry)
            .await
        {
            tracing::warn!(%tenant, source, error = %e, "could not keep the refused answer");
        }
    }

    /// Google Ads `click_view`, one day per request, for the days of `piece` Google still
    /// keeps: which campaign and ad group each gclid belongs to.
    async fn pull_clicks(
        &self,
        tenant: &TenantId,
        fetcher: &Fetcher<'_>,
        settings: &google_ads::Settings,
        piece: DateRange,
        today: NaiveDate,
        owner: &[(&str, &str)],
    ) -> Result<usize, PullError> {
        let account_id = fetcher.account.account_id();
        let mut stored = 0;
        for day in piece.days() {
            if (today - day).num_days() >= CLICK_VIEW_DAYS {
                continue;
            }
            let (body, _) = fetcher
                .send(&google_ads::click_view_request(settings, day))
                .await?;
            let clicks = google_ads::read_click_view(&body)?;
            let mut rows = Vec::with_capacity(clicks.len());
            for click in clicks {
                let record: HashMap<String, String> = [
                    ("date", Some(click.date.to_string())),
                    ("platform", Some(Platform::GoogleAds.name().to_owned())),
                    ("account_id", Some(account_id.clone())),
                    ("click_id", Some(click.gclid)),
                    ("campaign_id", Some(click.campaign_id)),
                    ("ad_group_id", click.ad_group_id),
                ]
                .into_iter()
                .filter_map(|(k, v)| Some((k.to_owned(), v?)))
                .collect();
                let row = Table::AdClicks
                    .parse(&record, &ParseOptions::default())
                    .map_err(|e| PullError::Failed {
                        platform: Platform::GoogleAds.name(),
                        account: account_id.clone(),
                        reason: format!("click_view of {day}: {e}"),
                    })?;
                if row.date == days_since_epoch(day) {
                    rows.push(row);
                }
            }
            self.lake
                .replace_rows(Table::AdClicks, tenant, days_since_epoch(day), owner, &rows)
                .await
                .map_err(|source| PullError::Storage {
                    platform: Platform::GoogleAds.name(),
                    account: account_id.clone(),
                    source,
                })?;
            stored += rows.len();
        }
        Ok(stored)
    }
}

/// The days to read (see [`PullWindow`]).
fn window_range(
    ads: &AdsSettings,
    window: PullWindow,
    cursor: Option<NaiveDate>,
) -> Result<DateRange, String> {
    let to = window.to.unwrap_or(window.today);
    let days_before = |n: u32| to - chrono::Days::new(u64::from(n.max(1)) - 1);
    let from = window.from.unwrap_or_else(|| match cursor {
        Some(last) => last
            .succ_opt()
            .unwrap_or(last)
            .min(days_before(ads.lookback_days)),
        None => days_before(ads.backfill_days),
    });
    if from > to {
        return Err(format!("the window starts {from}, after its end {to}"));
    }
    Ok(DateRange { from, to })
}

/// Validates a report's rows as `ad_costs` rows of this account and range, by day.
fn cost_rows(
    account: Account<'_>,
    range: DateRange,
    costs: &[CostRecord],
) -> Result<BTreeMap<i32, Vec<Row>>, String> {
    let (first, last) = (days_since_epoch(range.from), days_since_epoch(range.to));
    let account_id = account.account_id();
    let mut by_day: BTreeMap<i32, Vec<Row>> = BTreeMap::new();
    for (i, record) in costs.iter().enumerate() {
        let fields: HashMap<String, String> = record.clone().into_iter().collect();
        let row = Table::AdCosts
            .parse(&fields, &ParseOptions::default())
            .map_err(|e| format!("row {} of the report: {e}; nothing was stored", i + 1))?;
        if row.date < first || row.date > last {
            return Err(format!(
                "row {} is dated {}, outside the range asked for ({}..{}); nothing was stored",
                i + 1,
                record.get("date").map_or("", String::as_str),
                range.from,
                range.to
            ));
        }
        if record.get("account_id") != Some(&account_id) {
            return Err(format!(
                "row {} belongs to account {:?}, not {account_id}; nothing was stored",
                i + 1,
                record.get("account_id")
            ));
        }
        by_day.entry(row.date).or_default().push(row);
    }
    Ok(by_day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn windows_reread_recent_days_and_backfill_new_accounts() {
        let ads = AdsSettings::default();
        let window = PullWindow {
            from: None,
            to: None,
            today: day(24),
        };
        let range = |cursor| window_range(&ads, window, cursor).unwrap();
        assert_eq!(range(None).from, day(24) - chrono::Days::new(29));
        assert_eq!(range(None).to, day(24));
        // Pulled up to yesterday: the lookback still re-reads a week.
        assert_eq!(range(Some(day(23))).from, day(18));
        // Last pulled long ago: catch up from the day after.
        assert_eq!(range(Some(day(2))).from, day(3));
        let explicit = PullWindow {
            from: Some(day(5)),
            to: Some(day(6)),
            today: day(24),
        };
        assert_eq!(
            window_range(&ads, explicit, Some(day(23))).unwrap(),
            DateRange {
                from: day(5),
                to: day(6)
            }
        );
        let backwards = PullWindow {
            from: Some(day(7)),
            to: Some(day(6)),
            today: day(24),
        };
        assert!(window_range(&ads, backwards, None).is_err());
    }
}
