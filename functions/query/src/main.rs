//! `query`: KPI/ROI, funnel and LTV answers for BI tools (see crates/query).

use std::sync::Arc;

use throughline_model::channel::ChannelRules;
use throughline_query::{QueryService, query_router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    throughline_http::runtime::init_json_logs();
    let (lake, state) = throughline_http::runtime::lake_and_state_from_env().await?;
    let service = Arc::new(QueryService {
        lake,
        state,
        rules: Arc::new(ChannelRules::builtin()),
    });
    lambda_http::run(query_router(service)).await
}
