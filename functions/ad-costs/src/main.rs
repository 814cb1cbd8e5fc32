//! `ad-costs`: on its schedule, pulls every tenant's ad accounts and imports the lake
//! inbox's cost and exchange-rate files ([`pull_every_tenant`]). A failed account fails
//! the invocation, so EventBridge retries it and finally dead-letters it.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use throughline_costs::{PullPolicy, Puller, pull_every_tenant};
use throughline_settings::Settings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    throughline_http::runtime::init_json_logs();
    let settings = Settings::from_env()?;
    let ingestor = throughline_http::runtime::ingestor(&settings).await?;
    let puller = Arc::new(Puller::new(
        ingestor.lake.clone(),
        ingestor.state.clone(),
        PullPolicy::from_settings(&settings.ads),
    )?);
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
        let (ingestor, puller) = (ingestor.clone(), puller.clone());
        async move {
            let today = chrono::Utc::now().date_naive();
            let tenants = pull_every_tenant(&ingestor, &puller, today).await?;
            Ok::<Value, Error>(json!({ "tenants": tenants }))
        }
    }))
    .await
}
