//! Serving a router on a TCP port with the limits a public endpoint needs (`throughline
//! serve`; behind API Gateway the Lambda functions have the gateway's). Without them, idle
//! or slowly trickling connections stay open for ever and, past the process's open-file
//! limit, every new client times out.
//!
//! - **Connection cap**: at most `max_connections` at once; past it new connections wait in
//!   the listen backlog until one closes, so the process never runs out of descriptors.
//! - **Header and idle timeout**: a request's head must arrive within `header_timeout`,
//!   counted from when the connection is ready for it, so a keep-alive connection idle that
//!   long is closed too.
//! - **Body timeout**: a request body must arrive, all of it, within `body_timeout` of its
//!   head (else `408` with a reason, and the connection closes).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::BODY_LIMIT;

/// The connection limits of a server (docs/HTTP.md, "Connections").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
}

impl Default for ConnectionLimits {
    /// Half of the usual soft limit of 1,024 open files, leaving the rest to the lake's
    /// files and sockets; 10 s for a head (and idle keep-alive), 30 s for a 1 MiB body.
    fn default() -> Self {
        Self {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` until the process ends, within `limits`.
pub async fn serve(listener: TcpListener, app: Router, limits: ConnectionLimits) {
    let body_timeout = limits.body_timeout;
    let app = app.layer(axum::middleware::from_fn(move |request, next| {
        body_within(body_timeout, request, next)
    }));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return; // the semaphore is never closed
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors or a connection reset before it was accepted: wait a
                // little and go on; the server stays up.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection closed");
            }
            drop(slot);
        });
    }
}

/// Reads the whole body (at most [`BODY_LIMIT`]) within `deadline`, then hands the request
/// on. A body that trickles in slower is refused, however often its bytes arrive.
async fn body_within(deadline: Duration, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, BODY_LIMIT)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(e)) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|cause| cause.is::<http_body_util::LengthLimitError>());
            let (status, reason) = if too_large {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is over {BODY_LIMIT} bytes: send smaller batches"),
                )
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    format!("reading the body failed: {e}"),
                )
            };
            (status, axum::Json(json!({ "error": reason }))).into_response()
        }
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            [(axum::http::header::CONNECTION, "close")],
            axum::Json(json!({
                "error": format!(
                    "the body did not arrive within {} s of the request's head",
                    deadline.as_secs()
                )
            })),
        )
            .into_response(),
    }
}
