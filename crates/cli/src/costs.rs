//! `throughline costs pull`: the ad platforms' costs of one tenant into the lake, the same
//! pull the `ad-costs` function runs on its schedule.

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use throughline_costs::{PullWindow, Puller};
use throughline_model::TenantId;
use throughline_settings::TenantsConfig;
use throughline_sources::ads::Platform;

/// Pulls every configured account of the tenant (or of one platform); `true` when none failed.
pub async fn pull(
    puller: Puller,
    config: &TenantsConfig,
    tenant: &TenantId,
    platform: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<bool> {
    let platform = platform
        .map(|name| {
            Platform::from_name(name).with_context(|| {
                let known: Vec<&str> = Platform::ALL.iter().map(|p| p.name()).collect();
                format!("--platform {name:?}: expected one of {}", known.join(", "))
            })
        })
        .transpose()?;
    let date = |flag: &str, text: Option<&str>| -> Result<Option<NaiveDate>> {
        text.map(|t| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .with_context(|| format!("--{flag} {t:?}: give a date as YYYY-MM-DD"))
        })
        .transpose()
    };
    let window = PullWindow {
        from: date("from", from)?,
        to: date("to", to)?,
        today: chrono::Utc::now().date_naive(),
    };
    let Some(ads) = config.tenant(tenant.as_str()).map(|t| &t.ads) else {
        bail!(
            "tenant {tenant} has no section in the config: add [tenants.{tenant}.ads] (docs/ads/README.md)"
        );
    };
    let accounts = ads
        .accounts()
        .into_iter()
        .filter(|a| platform.is_none_or(|p| p == a.platform()))
        .count();
    if accounts == 0 {
        bail!(
            "tenant {tenant} has no {}ad accounts in the config: add [[tenants.{tenant}.ads.<platform>]] (docs/ads/README.md)",
            platform
                .map(|p| format!("{} ", p.name()))
                .unwrap_or_default()
        );
    }
    let progress = ProgressBar::new(accounts as u64).with_style(
        ProgressStyle::with_template("{spinner} {bar:30} {pos}/{len} accounts {msg}")
            .expect("a valid template"),
    );
    progress.enable_steady_tick(std::time::Duration::from_millis(200));
    let reports = puller
        .pull(tenant, ads, platform, window, |report| {
            progress.inc(1);
            progress.set_message(format!("{} {}", report.platform, report.account));
        })
        .await;
    progress.finish_and_clear();
    for report in &reports {
        let range = match (report.from, report.to) {
            (Some(from), Some(to)) => format!("{from}..{to}"),
            _ => "-".into(),
        };
        match &report.error {
            None => println!(
                "{} {}: {range}: {} days replaced, {} cost rows{}, {} pages, {} retries",
                report.platform,
                report.account,
                report.days_stored,
                report.cost_rows,
                if report.click_rows > 0 {
                    format!(", {} gclid clicks", report.click_rows)
                } else {
                    String::new()
                },
                report.pages,
                report.retries
            ),
            Some(error) => println!(
                "{} {}: {range}: FAILED after {} days replaced: {error}",
                report.platform, report.account, report.days_stored
            ),
        }
        for note in &report.notes {
            println!("  note: {note}");
        }
    }
    Ok(reports.iter().all(|r| !r.failed()))
}
