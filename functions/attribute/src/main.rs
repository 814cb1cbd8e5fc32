//! `attribute`: the attribution job ([`ScheduledAttribution`]: a window on demand, or the
//! last `THROUGHLINE_RECOMPUTE_DAYS` of every tenant on its schedule).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use throughline_engine::ScheduledAttribution;
use throughline_settings::Settings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    throughline_http::runtime::init_json_logs();
    let settings = Settings::from_env()?;
    let (lake, state) = throughline_http::runtime::lake_and_state(&settings).await?;
    let job = Arc::new(ScheduledAttribution {
        rules: settings.channel_rules(&lake).await?,
        lake,
        state,
        limits: settings.engine.clone(),
        recompute_days: settings.recompute_days,
        vacuum_retention: settings.vacuum_retention(),
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let job = job.clone();
        async move {
            let today = (chrono::Utc::now().timestamp() / 86_400) as i32;
            Ok::<Value, Error>(job.handle(event.payload, today).await?)
        }
    }))
    .await
}
