//! What every deployed function does at start, once, before its first request: JSON logs,
//! its settings from the environment, and the lake, state store and tenants' config they
//! name (see infra/README.md).

use std::sync::Arc;

use throughline_ingest::Ingestor;
use throughline_lake::Lake;
use throughline_lake::state::StateStore;
use throughline_model::table::ParseOptions;
use throughline_settings::Settings;

/// Structured JSON logs for CloudWatch; level from `THROUGHLINE_LOG` (default `info`).
pub fn init_json_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("THROUGHLINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time() // CloudWatch stamps every line
        .with_target(false)
        .init();
}

/// The lake of `settings` (required) and its state store.
pub async fn lake_and_state(settings: &Settings) -> anyhow::Result<(Lake, Arc<dyn StateStore>)> {
    let lake = settings.open_lake()?;
    let state = throughline_lake::state_store(&lake, settings.state_table.as_deref()).await;
    Ok((lake, state))
}

/// The ingest core for `settings`: its lake and state store, the default phone country,
/// and the tenants' config with its secrets looked up.
pub async fn ingestor(settings: &Settings) -> anyhow::Result<Arc<Ingestor>> {
    let (lake, state) = lake_and_state(settings).await?;
    let options = ParseOptions {
        default_country_code: settings.phone_country.clone(),
    };
    let tenants = settings.tenants(&lake).await?;
    Ok(Arc::new(
        Ingestor::new(lake, state, options).with_config(tenants),
    ))
}
