//! What can go wrong while storing data, with its cause. Callers decide what it means to
//! them: the HTTP crate answers 400 / 401 / 404 / 503, the CLI prints it and exits 1.

use std::sync::Arc;

use throughline_lake::state::StateError;
use throughline_model::Rejected;

#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    /// Some records failed validation; they are kept under `quarantine/` for replay.
    #[error("{} record(s) rejected", .0.len())]
    Rejected(Vec<Rejected>),
    /// The input cannot be read at all (malformed JSON, a quarantine entry that is not one,
    /// an unknown source); the message says what to fix.
    #[error("{0}")]
    Invalid(String),
    /// A delivery whose signature, token or credentials do not verify, or that is too old.
    #[error("{0}")]
    Unverified(String),
    /// The tenant has not set this sender up (no such CRM in its config, no such link).
    #[error("{0}")]
    NotConfigured(String),
    /// The lake could not be read or written: the sender should retry.
    #[error("the lake could not be read or written: {0}")]
    Lake(Arc<throughline_lake::Error>),
    /// The state store (idempotency keys, tenants) could not be reached: retry.
    #[error("{0}")]
    State(Arc<StateError>),
    /// The touchpoint writer task is gone (the process is shutting down): retry.
    #[error("the touchpoint writer stopped: retry the request")]
    WriterStopped,
}

impl IngestError {
    /// Whether a retry of the same input may succeed (storage trouble), as opposed to input
    /// that needs fixing first.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Lake(_) | Self::State(_) | Self::WriterStopped)
    }

    /// What kind of failure it is, in words the quarantine keeps: `rejected`, `invalid`,
    /// `unverified`, `not_configured`, `storage`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Rejected(_) => "rejected",
            Self::Invalid(_) => "invalid",
            Self::Unverified(_) => "unverified",
            Self::NotConfigured(_) => "not_configured",
            Self::Lake(_) | Self::State(_) | Self::WriterStopped => "storage",
        }
    }

    /// The message with each rejected record's line and reason, for people and for the
    /// quarantine entry of a delivery.
    pub fn detailed(&self) -> String {
        match self {
            Self::Rejected(rejected) => format!(
                "{self}: {}",
                rejected
                    .iter()
                    .map(|r| r.reason.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            other => other.to_string(),
        }
    }
}

impl From<throughline_lake::Error> for IngestError {
    fn from(e: throughline_lake::Error) -> Self {
        Self::Lake(Arc::new(e))
    }
}

impl From<object_store::Error> for IngestError {
    fn from(e: object_store::Error) -> Self {
        Self::Lake(Arc::new(e.into()))
    }
}

impl From<StateError> for IngestError {
    fn from(e: StateError) -> Self {
        Self::State(Arc::new(e))
    }
}

pub type Result<T, E = IngestError> = std::result::Result<T, E>;
