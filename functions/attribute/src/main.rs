//! `attribute`: the attribution job. Invoked with `{"tenant", "from", "to"}` (the Step
//! Functions backfill, or on demand) it runs that window; on its hourly schedule (any other
//! event) it recomputes the last `THROUGHLINE_RECOMPUTE_DAYS` (default 35) for every tenant.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Deserialize;
use serde_json::{Value, json};
use throughline_engine::{JobSettings, attribute_tenant};
use throughline_lake::Lake;
use throughline_lake::state::StateStore;
use throughline_model::TenantId;
use throughline_model::channel::ChannelRules;
use throughline_model::field::parse_date;

#[derive(Deserialize)]
struct Window {
    tenant: String,
    from: Option<String>,
    to: Option<String>,
}

struct Job {
    lake: Lake,
    state: Arc<dyn StateStore>,
    rules: Arc<ChannelRules>,
    recompute_days: i32,
}

impl Job {
    async fn handle(&self, event: Value) -> Result<Value, Error> {
        let windows: Vec<(TenantId, Option<(i32, i32)>)> =
            match serde_json::from_value::<Window>(event) {
                Ok(w) => {
                    let date = |name: &str, d: &Option<String>| {
                        d.as_deref().map(|d| parse_date(name, d)).transpose()
                    };
                    let window =
                        JobSettings::window_between(date("from", &w.from)?, date("to", &w.to)?);
                    vec![(TenantId::parse(&w.tenant)?, window)]
                }
                Err(_) => {
                    let today = (chrono::Utc::now().timestamp() / 86_400) as i32;
                    let window = Some((today - self.recompute_days, today));
                    let mut all = Vec::new();
                    for t in self.state.tenants().await? {
                        all.push((TenantId::parse(&t.id)?, window));
                    }
                    all
                }
            };
        let mut results = Vec::new();
        for (tenant, window) in windows {
            let settings = JobSettings {
                window,
                ..JobSettings::default()
            };
            let report = attribute_tenant(
                &self.lake,
                self.state.as_ref(),
                &tenant,
                self.rules.clone(),
                &settings,
            )
            .await?;
            results.push(json!({
                "tenant": tenant.as_str(),
                "conversions": report.conversions,
                "rows": report.rows,
                "version": report.manifest_version,
            }));
        }
        Ok(json!({ "attributed": results }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    throughline_http::runtime::init_json_logs();
    let (lake, state) = throughline_http::runtime::lake_and_state_from_env().await?;
    let recompute_days = std::env::var("THROUGHLINE_RECOMPUTE_DAYS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(35);
    let job = Arc::new(Job {
        lake,
        state,
        rules: Arc::new(ChannelRules::builtin()),
        recompute_days,
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let job = job.clone();
        async move { job.handle(event.payload).await }
    }))
    .await
}
