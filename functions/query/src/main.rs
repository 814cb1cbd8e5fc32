//! `query`: KPI/ROI, funnel and LTV answers for BI tools (see crates/query).

use std::sync::Arc;

use throughline_query::{QueryService, query_router};
use throughline_settings::Settings;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    throughline_http::runtime::init_json_logs();
    let settings = Settings::from_env()?;
    let (lake, state) = throughline_http::runtime::lake_and_state(&settings).await?;
    let service = Arc::new(QueryService {
        rules: settings.channel_rules(&lake).await?,
        lake,
        state,
        limits: settings.engine,
    });
    lambda_http::run(query_router(service)).await
}
