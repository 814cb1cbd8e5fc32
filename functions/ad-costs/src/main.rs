//! `ad-costs`: on its schedule, for every tenant, pulls the ad accounts of its config
//! (`[tenants.<id>.ads]`: Google Ads, Meta, TikTok, Microsoft Advertising — each day of the
//! window replaces that day's costs) and imports the files of the lake inbox: costs
//! (`inbox/ad_costs/tenant=<id>/`) and exchange rates (`inbox/fx_rates/tenant=<id>/`: CSV or
//! the NBU's JSON/XML), which the KPI report converts costs with. An account that fails is reported and the others go on;
//! the invocation then fails, so EventBridge retries it (pulls and imports are idempotent)
//! and finally dead-letters it.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use throughline_costs::{PullPolicy, PullWindow, Puller};
use throughline_model::TenantId;
use throughline_model::table::Table;

#[tokio::main]
async fn main() -> Result<(), Error> {
    throughline_http::runtime::init_json_logs();
    let ingestor = throughline_http::runtime::ingestor_from_env().await?;
    let puller = std::sync::Arc::new(Puller::new(
        ingestor.lake.clone(),
        ingestor.state.clone(),
        PullPolicy::from_env(),
    )?);
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
        let (ingestor, puller) = (ingestor.clone(), puller.clone());
        async move {
            let window = PullWindow {
                from: None,
                to: None,
                today: chrono::Utc::now().date_naive(),
            };
            let mut tenants = Vec::new();
            let mut failed = Vec::new();
            for tenant in ingestor.state.tenants().await? {
                let id = TenantId::parse(&tenant.id)?;
                let pulls = match ingestor.config.tenant(id.as_str()) {
                    Some(settings) => puller.pull(&id, &settings.ads, None, window, |_| {}).await,
                    None => Vec::new(),
                };
                failed.extend(
                    pulls
                        .iter()
                        .filter_map(|r| r.error.as_ref().map(|e| format!("{id}: {e}"))),
                );
                let import = ingestor.import_inbox(&id, Table::AdCosts).await?;
                let fx_import = ingestor.import_inbox(&id, Table::FxRates).await?;
                tracing::info!(tenant = %id, ?import, ?fx_import, accounts = pulls.len(), "ad costs done");
                tenants.push(json!({
                    "tenant": id.as_str(),
                    "pulls": pulls,
                    "import": import,
                    "fx_rates_import": fx_import,
                }));
            }
            if !failed.is_empty() {
                return Err(Error::from(format!(
                    "{} ad account pull(s) failed (the others are stored): {}",
                    failed.len(),
                    failed.join("; ")
                )));
            }
            Ok::<Value, Error>(json!({ "tenants": tenants }))
        }
    }))
    .await
}
