//! `ad-costs`: on its daily schedule, imports every tenant's cost files from the lake inbox
//! (`inbox/ad_costs/tenant=<id>/`). The platform API connectors (Google Ads, Meta, TikTok,
//! Microsoft) plug in here with the ad-costs milestone. A tenant that fails fails the
//! invocation, so EventBridge retries it and then dead-letters it; imports are idempotent.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use throughline_model::TenantId;
use throughline_model::table::Table;

#[tokio::main]
async fn main() -> Result<(), Error> {
    throughline_http::runtime::init_json_logs();
    let ingestor = throughline_http::runtime::ingestor_from_env().await?;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
        let ingestor = ingestor.clone();
        async move {
            let mut reports = Vec::new();
            for tenant in ingestor.state.tenants().await? {
                let id = TenantId::parse(&tenant.id)?;
                let report = ingestor.import_inbox(&id, Table::AdCosts).await?;
                tracing::info!(tenant = %id, ?report, "ad costs imported");
                reports.push(json!({ "tenant": id.as_str(), "report": report }));
            }
            Ok::<Value, Error>(json!({ "tenants": reports }))
        }
    }))
    .await
}
