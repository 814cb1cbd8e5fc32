//! Errors as HTTP answers: 4xx with a reason for the sender to fix, 401 that reveals
//! nothing, 5xx when storage failed so the sender retries. Never a 2xx for data not stored.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The one body of every 401: a bad key, a webhook that does not verify, and a webhook for
/// an unknown tenant or a CRM the tenant has not set up all read alike (docs/HTTP.md).
pub const UNAUTHORIZED_ANSWER: &str = "missing or invalid API key or webhook credentials";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// Some records failed validation; they are kept in quarantine.
    #[error("{count} record(s) rejected")]
    Rejected {
        count: usize,
        reasons: Vec<serde_json::Value>,
    },
    /// Unknown key, wrong scope or unknown tenant, and a webhook for a tenant or CRM that is
    /// not set up: one answer for all.
    #[error("unauthorized")]
    Unauthorized,
    /// A webhook whose signature, token or credentials do not verify (or too old). The
    /// reason is logged and kept in quarantine; the sender gets the same answer as
    /// `Unauthorized`, so a stranger cannot tell which CRMs a tenant uses.
    #[error("{0}")]
    Unverified(String),
    /// A good key of a scope that may not do this (a public ingest key writing money).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Storage or state store failed: the sender should retry.
    #[error("storage unavailable, retry later")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Rejected { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::Unverified(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::BadRequest(reason) => (StatusCode::BAD_REQUEST, json!({ "error": reason })),
            ApiError::Rejected { reasons, .. } => (
                StatusCode::BAD_REQUEST,
                json!({ "error": self.to_string(), "rejected": reasons, "kept_for_replay": true }),
            ),
            ApiError::Unauthorized | ApiError::Unverified(_) => (
                StatusCode::UNAUTHORIZED,
                json!({ "error": UNAUTHORIZED_ANSWER }),
            ),
            ApiError::Forbidden(reason) => (StatusCode::FORBIDDEN, json!({ "error": reason })),
            ApiError::NotFound(reason) => (StatusCode::NOT_FOUND, json!({ "error": reason })),
            ApiError::Conflict(reason) => (StatusCode::CONFLICT, json!({ "error": reason })),
            ApiError::Unavailable(detail) => {
                tracing::error!(detail, "storage unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({ "error": self.to_string() }),
                )
            }
            ApiError::Internal(detail) => {
                tracing::error!(detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({ "error": self.to_string() }),
                )
            }
        };
        (status, Json(body)).into_response()
    }
}

/// What an ingest failure means to an HTTP sender. Storage trouble is a 503 whose cause
/// is logged, not shown: it names internals a public sender has no use for.
impl From<throughline_ingest::IngestError> for ApiError {
    fn from(e: throughline_ingest::IngestError) -> Self {
        use throughline_ingest::IngestError;
        match e {
            IngestError::Rejected(rejected) => ApiError::Rejected {
                count: rejected.len(),
                reasons: rejected
                    .iter()
                    .map(|r| serde_json::json!({ "index": r.line - 1, "reason": r.reason }))
                    .collect(),
            },
            IngestError::Invalid(reason) => ApiError::BadRequest(reason),
            IngestError::Unverified(reason) => ApiError::Unverified(reason),
            // The same answer as a bad key or signature: no probing for tenants or CRMs.
            IngestError::NotConfigured(_) => ApiError::Unauthorized,
            e @ (IngestError::Lake(_) | IngestError::State(_) | IngestError::WriterStopped) => {
                ApiError::Unavailable(e.to_string())
            }
        }
    }
}

impl From<throughline_lake::Error> for ApiError {
    fn from(e: throughline_lake::Error) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl From<throughline_lake::state::StateError> for ApiError {
    fn from(e: throughline_lake::state::StateError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}
