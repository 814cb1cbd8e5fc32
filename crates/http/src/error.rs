//! Errors as HTTP answers: 4xx with a reason for the sender to fix, 401 that reveals
//! nothing, 5xx when storage failed so the sender retries. Never a 2xx for data not stored.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

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
    /// Unknown key, wrong scope or unknown tenant: one answer for all.
    #[error("unauthorized")]
    Unauthorized,
    /// A webhook whose signature, token or credentials do not verify (or too old).
    #[error("{0}")]
    Unverified(String),
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
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({ "error": "missing or invalid API key" }),
            ),
            ApiError::Unverified(reason) => (StatusCode::UNAUTHORIZED, json!({ "error": reason })),
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
            // The same answer as an unknown path: no probing for tenants.
            IngestError::NotConfigured(_) => ApiError::NotFound("not found".into()),
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
