//! Routes of the ingest API. Handlers only translate HTTP to [`Ingestor::ingest`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use throughline_lake::state::KeyScope;
use throughline_model::TenantId;
use throughline_model::contact::sha256_hex;
use throughline_model::table::Table;

use crate::auth::{key_from, tenant_for};
use crate::{ApiError, Ingestor};

/// Largest accepted request body; larger ones get 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A 1×1 transparent GIF, the tracking pixel's answer.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

type Shared = State<Arc<Ingestor>>;
type Params = Query<HashMap<String, String>>;

/// Tracking: `POST /v1/events`, `GET /v1/t.gif`, `POST /v1/leads` (the `collect` function).
pub fn collect_router(ingestor: Arc<Ingestor>) -> Router {
    Router::new()
        .route("/v1/events", post(post_events))
        .route("/v1/t.gif", get(get_pixel))
        .route("/v1/leads", post(post_leads))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(ingestor)
}

/// CRM webhooks: `POST /v1/webhooks/{crm}` (the `crm-webhook` function).
pub fn webhook_router(ingestor: Arc<Ingestor>) -> Router {
    Router::new()
        .route("/v1/webhooks/{crm}", post(post_webhook))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(ingestor)
}

/// Both, as the local server mounts them.
pub fn ingest_router(ingestor: Arc<Ingestor>) -> Router {
    collect_router(ingestor.clone()).merge(webhook_router(ingestor))
}

/// The tenant an ingest request may write to, from its key (and `tenant=`, if given).
async fn ingest_tenant(
    ingestor: &Ingestor,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<TenantId, ApiError> {
    tenant_for(
        ingestor.state.as_ref(),
        key_from(headers, params.get("key").map(String::as_str)),
        params.get("tenant").map(String::as_str),
        KeyScope::Ingest,
    )
    .await
}

async fn post_events(
    state: Shared,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    post_records(
        state,
        params,
        headers,
        body,
        Table::Touchpoints,
        "collect-events",
        ("event_id", "evt"),
    )
    .await
}

async fn post_leads(
    state: Shared,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    post_records(
        state,
        params,
        headers,
        body,
        Table::Leads,
        "collect-leads",
        ("lead_id", "lead"),
    )
    .await
}

/// A JSON object or array of records for `table`; `(id column, prefix)` names the id that
/// is derived from the payload when absent.
async fn post_records(
    State(ingestor): Shared,
    Query(params): Params,
    headers: HeaderMap,
    body: Bytes,
    table: Table,
    source: &str,
    (id_column, prefix): (&str, &str),
) -> Result<Json<crate::IngestOutcome>, ApiError> {
    let tenant = ingest_tenant(&ingestor, &params, &headers).await?;
    let records = json_records(&body)?
        .into_iter()
        .map(|r| with_defaults(r, id_column, prefix))
        .collect();
    Ok(Json(
        ingestor
            .ingest(&tenant, table, source, body, records)
            .await?,
    ))
}

/// The pixel carries its event in the query: `url`, `ref`, `vid`, optional `eid`, `ts`.
async fn get_pixel(
    State(ingestor): Shared,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = ingest_tenant(&ingestor, &params, &headers).await?;
    let mut record = HashMap::new();
    for (param, column) in [
        ("url", "url"),
        ("ref", "referrer"),
        ("vid", "visitor_id"),
        ("eid", "event_id"),
        ("ts", "ts"),
    ] {
        if let Some(v) = params.get(param) {
            record.insert(column.to_owned(), v.clone());
        }
    }
    let raw = Bytes::from(serde_json::to_vec(&record).expect("a map serialises"));
    let record = with_defaults(record, "event_id", "evt");
    ingestor
        .ingest(
            &tenant,
            Table::Touchpoints,
            "collect-pixel",
            raw,
            vec![record],
        )
        .await?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PIXEL,
    ))
}

/// `generic`: `{"table": "leads" | "deal_events" | "orders", "records": [...]}` (or `"record": {...}`)
/// in the import columns. Vendor formats (HubSpot, Pipedrive, …) are added as connectors.
async fn post_webhook(
    State(ingestor): Shared,
    Path(crm): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = ingest_tenant(&ingestor, &params, &headers).await?;
    if crm != "generic" {
        return Err(ApiError::NotFound(format!(
            "unknown CRM {crm:?}; supported: generic"
        )));
    }
    let envelope: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    let table = match envelope.get("table").and_then(|t| t.as_str()) {
        Some(name @ ("leads" | "deal_events" | "orders")) => {
            Table::from_name(name).expect("known table")
        }
        _ => {
            return Err(ApiError::BadRequest(
                "\"table\" must be one of leads, deal_events, orders".into(),
            ));
        }
    };
    let records = match (envelope.get("records"), envelope.get("record")) {
        (Some(list), None) => json_values(list)?,
        (None, Some(one)) => json_values(one)?,
        _ => {
            return Err(ApiError::BadRequest(
                "give either \"records\" (an array) or \"record\" (an object)".into(),
            ));
        }
    };
    let outcome = ingestor
        .ingest(&tenant, table, "webhook-generic", body, records)
        .await?;
    Ok(Json(outcome))
}

fn json_records(body: &[u8]) -> Result<Vec<HashMap<String, String>>, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    json_values(&value)
}

/// A JSON object or an array of objects, with scalar values, as import records.
fn json_values(value: &serde_json::Value) -> Result<Vec<HashMap<String, String>>, ApiError> {
    let objects: Vec<&serde_json::Value> = match value {
        serde_json::Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    if objects.is_empty() {
        return Err(ApiError::BadRequest("no records in the body".into()));
    }
    objects
        .into_iter()
        .enumerate()
        .map(|(i, object)| {
            let map = object.as_object().ok_or_else(|| {
                ApiError::BadRequest(format!("record {i}: expected a JSON object"))
            })?;
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => Ok((k.to_ascii_lowercase(), s.clone())),
                    serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {
                        Ok((k.to_ascii_lowercase(), v.to_string()))
                    }
                    _ => Err(ApiError::BadRequest(format!(
                        "record {i}: {k} must be a plain value"
                    ))),
                })
                .collect()
        })
        .collect()
}

/// Beacons and forms may omit their id and time: the id is then derived from the payload,
/// so a retried delivery of the same payload gets the same id and is stored once; the time
/// is when it arrived.
fn with_defaults(
    mut record: HashMap<String, String>,
    id_column: &str,
    prefix: &str,
) -> HashMap<String, String> {
    if record.get(id_column).is_none_or(|v| v.trim().is_empty()) {
        let canonical: std::collections::BTreeMap<&String, &String> = record.iter().collect();
        let digest = sha256_hex(&serde_json::to_string(&canonical).expect("a map serialises"));
        record.insert(id_column.to_owned(), format!("{prefix}-{}", &digest[..32]));
    }
    if record.get("ts").is_none_or(|v| v.trim().is_empty()) {
        record.insert("ts".to_owned(), chrono::Utc::now().to_rfc3339());
    }
    record
}
