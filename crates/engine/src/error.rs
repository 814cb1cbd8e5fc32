use datafusion::error::DataFusionError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("query failed: {0}")]
    DataFusion(#[from] DataFusionError),
    #[error("arrow error: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error(transparent)]
    Lake(#[from] throughline_lake::Error),
    #[error(transparent)]
    State(#[from] throughline_lake::state::StateError),
    #[error("unknown model {0:?}: use one of {names}", names = crate::registry::model_names())]
    UnknownModel(String),
    #[error("no attribution for tenant {0} yet: run `throughline attribute --tenant {0}` first")]
    NoAttribution(String),
    #[error("invalid job setting: {0}")]
    Settings(String),
    #[error("{0}")]
    ReadOnly(String),
    #[error(
        "the query ran longer than {secs} s, the limit for ad-hoc SQL: narrow it (a date \
         filter, LIMIT) or raise THROUGHLINE_SQL_TIMEOUT (seconds; 0: no limit)",
        secs = .0.as_secs()
    )]
    TimedOut(std::time::Duration),
    #[error("reporting currency: {0}")]
    ReportingCurrency(String),
    #[error("writing a part file of the job's result failed: {0}")]
    PartWrite(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
