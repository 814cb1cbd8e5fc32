//! `throughline serve`: the same routers the Lambda functions run, on one local port.

use std::sync::Arc;

use anyhow::{Context, Result};
use throughline_http::ingest_router;
use throughline_http::listener::{ConnectionLimits, serve};
use throughline_ingest::Ingestor;
use throughline_lake::Lake;
use throughline_lake::state::StateStore;
use throughline_model::channel::ChannelRules;
use throughline_model::contact::check_country_code;
use throughline_model::table::ParseOptions;
use throughline_query::{QueryService, query_router};
use throughline_settings::{EngineSettings, TenantsConfig};

#[allow(clippy::too_many_arguments)] // one per setting of the command, named at the call
pub async fn run(
    lake: Lake,
    state: Arc<dyn StateStore>,
    addr: &str,
    rules: Arc<ChannelRules>,
    limits: EngineSettings,
    phone_country: Option<String>,
    config: TenantsConfig,
    connections: ConnectionLimits,
) -> Result<()> {
    if let Some(code) = &phone_country {
        check_country_code(code)?;
    }
    let options = ParseOptions {
        default_country_code: phone_country,
    };
    let ingestor =
        Arc::new(Ingestor::new(lake.clone(), state.clone(), options).with_config(config));
    let query = Arc::new(QueryService {
        lake: lake.clone(),
        state,
        rules,
        limits,
    });
    let app = ingest_router(ingestor).merge(query_router(query));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    // Tests bind port 0 and read the real address from this line.
    println!("listening on http://{}", listener.local_addr()?);
    serve(listener, app, connections).await;
    Ok(())
}
