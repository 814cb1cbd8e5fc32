#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("lake storage error: {0}")]
    Store(#[from] object_store::Error),
    #[error("parquet error: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("corrupt manifest {path}: {reason}")]
    Manifest { path: String, reason: String },
    #[error(
        "could not commit {table} for tenant {tenant}: another job kept committing first; run the job again"
    )]
    CommitConflict { table: String, tenant: String },
    #[error("cannot open lake {location:?}: {reason}")]
    Open { location: String, reason: String },
    #[error("lake file {path} does not match the schema of {table}: {reason}")]
    Schema {
        path: String,
        table: String,
        reason: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
