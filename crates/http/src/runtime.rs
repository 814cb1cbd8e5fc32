//! What every deployed function does at start, once, before its first request: JSON logs,
//! and the lake and state store named by the environment (see infra/README.md).

use std::sync::Arc;

use throughline_lake::Lake;
use throughline_lake::state::StateStore;
use throughline_model::table::ParseOptions;

use crate::Ingestor;
use crate::config::IngestConfig;

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

/// `THROUGHLINE_LAKE` (required) and the state store (`THROUGHLINE_STATE_TABLE`, else embedded).
pub async fn lake_and_state_from_env() -> Result<(Lake, Arc<dyn StateStore>), String> {
    let location = std::env::var("THROUGHLINE_LAKE").map_err(|_| {
        "THROUGHLINE_LAKE is not set: give s3://bucket/prefix or a directory".to_owned()
    })?;
    let lake = Lake::open(&location).map_err(|e| e.to_string())?;
    let state = throughline_lake::state_from_env(&lake).await;
    Ok((lake, state))
}

/// The ingest service with settings from the environment (`THROUGHLINE_PHONE_COUNTRY`)
/// and the tenants' config (`THROUGHLINE_CONFIG`, else the lake's copy).
pub async fn ingestor_from_env() -> Result<Arc<Ingestor>, String> {
    let (lake, state) = lake_and_state_from_env().await?;
    let options = ParseOptions {
        default_country_code: std::env::var("THROUGHLINE_PHONE_COUNTRY")
            .ok()
            .filter(|c| !c.is_empty()),
    };
    let config = IngestConfig::from_env_or_lake(&lake)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(
        Ingestor::new(lake, state, options).with_config(config),
    ))
}
