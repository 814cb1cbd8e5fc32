#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("lake storage error: {0}")]
    Store(#[from] object_store::Error),
    #[error("parquet error: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("Delta table {table}: {source}")]
    Delta {
        table: String,
        #[source]
        source: Box<deltalake_core::DeltaTableError>,
    },
    #[error(
        "could not commit {table} for tenant {tenant}: other commits kept conflicting with it; run it again"
    )]
    CommitConflict { table: String, tenant: String },
    #[error(
        "cannot read the lake as of {0:?}: give a version of the attribution table (e.g. 12), a time (2026-11-30T18:00:00Z) or a day (2026-11-30)"
    )]
    AsOf(String),
    /// An operation the table does not offer, with what to do instead.
    #[error("{0}")]
    Unsupported(String),
    #[error("invalid retention period: {0}")]
    Retention(String),
    #[error("cannot migrate {path}: {reason}")]
    Migration { path: String, reason: String },
    #[error("cannot open lake {location:?}: {reason}")]
    Open { location: String, reason: String },
    #[error("lake file {path} does not match the schema of {table}: {reason}")]
    Schema {
        path: String,
        table: String,
        reason: String,
    },
}

impl Error {
    pub(crate) fn delta(table: &str, source: deltalake_core::DeltaTableError) -> Self {
        Self::Delta {
            table: table.to_owned(),
            source: Box::new(source),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
