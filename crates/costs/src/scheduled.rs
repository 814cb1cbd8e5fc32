//! The `ad-costs` function's run: for every tenant in the state store, pull the ad accounts
//! of its config (`[tenants.<id>.ads]`) and import the files of the lake inbox — costs
//! (`inbox/ad_costs/tenant=<id>/`) and exchange rates (`inbox/fx_rates/tenant=<id>/`: CSV
//! or the NBU's JSON/XML). An account that fails is reported and the others go on; the run
//! then fails as a whole, so the scheduler retries it (pulls and imports are idempotent).

use serde::Serialize;
use throughline_ingest::{InboxReport, IngestError, Ingestor};
use throughline_model::TenantId;
use throughline_model::table::Table;

use crate::{AccountReport, PullWindow, Puller};

/// What one tenant's scheduled run did.
#[derive(Debug, Serialize)]
pub struct TenantCosts {
    pub tenant: String,
    pub pulls: Vec<AccountReport>,
    pub import: InboxReport,
    pub fx_rates_import: InboxReport,
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduledError {
    /// Some accounts failed; the rest (and every inbox file) are stored.
    #[error("{} ad account pull(s) failed (the others are stored): {}", .0.len(), .0.join("; "))]
    Pulls(Vec<String>),
    #[error("tenant {tenant}: {source}")]
    Ingest { tenant: String, source: IngestError },
    #[error("listing tenants: {0}")]
    Tenants(#[from] throughline_lake::state::StateError),
    #[error("tenant id {0:?} in the state store: {1}")]
    TenantId(String, String),
}

/// Pulls and imports every tenant's costs for the window ending `today`.
pub async fn pull_every_tenant(
    ingestor: &Ingestor,
    puller: &Puller,
    today: chrono::NaiveDate,
) -> Result<Vec<TenantCosts>, ScheduledError> {
    let window = PullWindow {
        from: None,
        to: None,
        today,
    };
    let mut tenants = Vec::new();
    let mut failed = Vec::new();
    for record in ingestor.state.tenants().await? {
        let tenant = TenantId::parse(&record.id)
            .map_err(|e| ScheduledError::TenantId(record.id.clone(), e.to_string()))?;
        let pulls = match ingestor.config.tenant(tenant.as_str()) {
            Some(settings) => {
                puller
                    .pull(&tenant, &settings.ads, None, window, |_| {})
                    .await
            }
            None => Vec::new(),
        };
        failed.extend(
            pulls
                .iter()
                .filter_map(|r| r.error.as_ref().map(|e| format!("{tenant}: {e}"))),
        );
        let inbox_error = |source| ScheduledError::Ingest {
            tenant: tenant.to_string(),
            source,
        };
        let import = ingestor
            .import_inbox(&tenant, Table::AdCosts)
            .await
            .map_err(inbox_error)?;
        let fx_rates_import = ingestor
            .import_inbox(&tenant, Table::FxRates)
            .await
            .map_err(inbox_error)?;
        tracing::info!(%tenant, ?import, ?fx_rates_import, accounts = pulls.len(), "ad costs done");
        tenants.push(TenantCosts {
            tenant: tenant.to_string(),
            pulls,
            import,
            fx_rates_import,
        });
    }
    if failed.is_empty() {
        Ok(tenants)
    } else {
        Err(ScheduledError::Pulls(failed))
    }
}
