//! The attribution job as the `attribute` function runs it: invoked with
//! `{"tenant", "from", "to"}` (the Step Functions backfill, or on demand) it runs that
//! window for that tenant; any other event (its hourly schedule) recomputes the last
//! `recompute_days` for every tenant in the state store.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use throughline_lake::Lake;
use throughline_lake::state::StateStore;
use throughline_model::TenantId;
use throughline_model::channel::ChannelRules;
use throughline_model::field::parse_date;
use throughline_settings::EngineSettings;

use crate::{Error, JobSettings, Result, attribute_tenant};

/// One tenant's window, as the backfill and on-demand invocations give it.
#[derive(Deserialize)]
struct WindowEvent {
    tenant: String,
    from: Option<String>,
    to: Option<String>,
}

/// What the scheduled job needs, built once per process.
pub struct ScheduledAttribution {
    pub lake: Lake,
    pub state: Arc<dyn StateStore>,
    pub rules: Arc<ChannelRules>,
    pub limits: EngineSettings,
    /// Days the scheduled run recomputes, up to today.
    pub recompute_days: i32,
    /// How long the scheduled run's VACUUM keeps files of older versions.
    pub vacuum_retention: std::time::Duration,
}

impl ScheduledAttribution {
    /// Runs the job an event asks for (see the module's doc) and answers what each tenant's
    /// run did. `today` is days since the epoch (UTC).
    pub async fn handle(&self, event: Value, today: i32) -> Result<Value> {
        let asked = serde_json::from_value::<WindowEvent>(event);
        let scheduled = asked.is_err();
        let windows = match asked {
            Ok(asked) => {
                let date = |name: &str, d: &Option<String>| {
                    d.as_deref()
                        .map(|d| parse_date(name, d))
                        .transpose()
                        .map_err(|e| Error::Settings(e.to_string()))
                };
                let window =
                    JobSettings::window_between(date("from", &asked.from)?, date("to", &asked.to)?);
                vec![(tenant_id(&asked.tenant)?, window)]
            }
            Err(_) => {
                let window = Some((today - self.recompute_days, today));
                let mut all = Vec::new();
                for tenant in self.state.tenants().await? {
                    all.push((tenant_id(&tenant.id)?, window));
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
                &self.limits,
                &settings,
            )
            .await?;
            results.push(json!({
                "tenant": tenant.as_str(),
                "conversions": report.conversions,
                "rows": report.rows,
                "version": report.version,
            }));
        }
        // The scheduled run also deletes what no version within the retention needs (the
        // job compacted each tenant's tables before attributing it).
        let mut vacuumed = Vec::new();
        if scheduled {
            for table in self.lake.table_names().await? {
                let report = self.lake.vacuum(&table, self.vacuum_retention).await?;
                vacuumed
                    .push(json!({ "table": report.table, "files_deleted": report.files_deleted }));
            }
        }
        Ok(json!({ "attributed": results, "vacuumed": vacuumed }))
    }
}

fn tenant_id(id: &str) -> Result<TenantId> {
    TenantId::parse(id).map_err(|e| Error::Settings(format!("tenant {id:?}: {e}")))
}
