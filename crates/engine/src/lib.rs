//! Throughline's job and reports on DataFusion: identity, journeys, the attribution
//! models, KPIs and the funnel. The logic is the SQL in `sql/`; this crate registers the
//! lake's tables and the channel-rule functions, runs that SQL and publishes results.

mod built_size;
mod error;
mod job;
mod registry;
mod reports;
mod rollups;
mod scheduled;
mod session;
mod sql_files;
mod udf;
mod views;

pub use error::{Error, Result};
pub use job::{AttributionReport, JobSettings, attribute_tenant};
pub use registry::{
    DEFAULT_MODEL, FunnelGroup, Grouping, KpiGroup, MODELS, Model, model, model_names,
    register_models,
};
pub use reports::{FunnelReport, KPI_LOOKUPS, KpiQuery};
pub use rollups::RollupReport;
pub use scheduled::ScheduledAttribution;
pub use session::{Engine, session_config};
pub use sql_files::{SqlFile, install_sql};
pub use udf::register_channel_functions;
