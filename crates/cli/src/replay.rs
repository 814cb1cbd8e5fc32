//! `throughline replay`: runs kept quarantine entries through the ingest steps again.

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;

use throughline_ingest::{EntryResult, Ingestor};
use throughline_lake::Lake;
use throughline_lake::state::StateStore;
use throughline_model::TenantId;
use throughline_model::contact::check_country_code;
use throughline_model::table::ParseOptions;
use throughline_settings::TenantsConfig;

/// Replays every entry of `source` kept since `from`; `true` when all of them are stored.
pub async fn run(
    lake: Lake,
    state: Arc<dyn StateStore>,
    config: TenantsConfig,
    phone_country: Option<String>,
    source: &str,
    tenant: Option<&TenantId>,
    from: chrono::NaiveDate,
) -> Result<bool> {
    if let Some(code) = &phone_country {
        check_country_code(code)?;
    }
    let options = ParseOptions {
        default_country_code: phone_country,
    };
    let ingestor = Ingestor::new(lake, state, options).with_config(config);
    let entries = ingestor.quarantined(source, tenant, from).await?;
    let progress = ProgressBar::new(entries.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} entries {msg}")
            .expect("a valid template"),
    );
    let (mut stored, mut accepted, mut duplicates, mut failing) = (0, 0, 0, 0);
    for entry in &entries {
        match ingestor.replay_entry(source, entry).await? {
            EntryResult::Stored(outcome) => {
                stored += 1;
                accepted += outcome.accepted;
                duplicates += outcome.duplicates;
            }
            EntryResult::StillFailing(reason) => {
                failing += 1;
                progress.suspend(|| eprintln!("{entry}: still failing: {reason}"));
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    println!(
        "{source}: {} entr{} replayed: {stored} stored ({accepted} rows new, {duplicates} already present), {failing} still failing",
        entries.len(),
        if entries.len() == 1 { "y" } else { "ies" },
    );
    Ok(failing == 0)
}
