//! Routes of the ingest API. Handlers only translate HTTP to [`Ingestor::ingest`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use throughline_lake::state::KeyScope;
use throughline_model::TenantId;
use throughline_model::contact::sha256_hex;
use throughline_model::table::Table;
use throughline_sources::crm::{Crm, Delivery};

use throughline_ingest::{IngestOutcome, Ingestor};

use crate::ApiError;
use crate::api::{IngestApi, Shared, store_touchpoints};
use crate::auth::key_from;
use crate::links::follow_link;

/// The tracking snippet (docs/SNIPPET.md).
const SNIPPET: &str = include_str!("../assets/throughline.js");

/// Largest accepted request body; larger ones get 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A 1×1 transparent GIF, the tracking pixel's answer.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

type Params = Query<HashMap<String, String>>;

/// Tracking: `POST /v1/events`, `GET /v1/t.gif`, `POST /v1/leads`, `GET /r/{code}`,
/// `GET /v1/throughline.js` (the `collect` function).
pub fn collect_router(ingestor: Arc<Ingestor>) -> Router {
    Router::new()
        .route("/v1/events", post(post_events))
        .route("/v1/t.gif", get(get_pixel))
        .route("/v1/leads", post(post_leads))
        .route("/r/{code}", get(follow_link))
        .route("/v1/throughline.js", get(get_snippet))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(IngestApi::shared(ingestor))
}

/// CRM webhooks: `POST /v1/webhooks/{crm}` (the `crm-webhook` function).
pub fn webhook_router(ingestor: Arc<Ingestor>) -> Router {
    Router::new()
        .route("/v1/webhooks/{crm}", post(post_webhook))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(IngestApi::shared(ingestor))
}

/// Both, as the local server mounts them.
pub fn ingest_router(ingestor: Arc<Ingestor>) -> Router {
    collect_router(ingestor.clone()).merge(webhook_router(ingestor))
}

/// The tenant an ingest request may write to, from its key (and `tenant=`, if given).
async fn ingest_tenant(
    ingestor: &IngestApi,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<TenantId, ApiError> {
    scoped_tenant(ingestor, params, headers, KeyScope::Ingest).await
}

async fn scoped_tenant(
    ingestor: &IngestApi,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
    scope: KeyScope,
) -> Result<TenantId, ApiError> {
    ingestor
        .keys
        .tenant_for(
            ingestor.state.as_ref(),
            key_from(headers, params.get("key").map(String::as_str)),
            params.get("tenant").map(String::as_str),
            scope,
        )
        .await
}

/// The tenant of a key that may write `table`: deal events and orders (money) need a
/// server key; a public ingest key gets 403 saying so.
async fn writer_tenant(
    ingestor: &IngestApi,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
    table: Table,
) -> Result<TenantId, ApiError> {
    if !matches!(table, Table::DealEvents | Table::Orders) {
        return ingest_tenant(ingestor, params, headers).await;
    }
    match scoped_tenant(ingestor, params, headers, KeyScope::Server).await {
        Err(ApiError::Unauthorized) if ingest_tenant(ingestor, params, headers).await.is_ok() => {
            Err(ApiError::Forbidden(format!(
                "{} need a server key (throughline keys create --scope server): the ingest key a web page carries may add touchpoints and leads only",
                table.name()
            )))
        }
        other => other,
    }
}

async fn post_events(
    state: Shared,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<IngestOutcome>, ApiError> {
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
    source: &'static str,
    (id_column, prefix): (&str, &str),
) -> Result<Json<IngestOutcome>, ApiError> {
    let tenant = ingest_tenant(&ingestor, &params, &headers).await?;
    let records = json_records(&body)?
        .into_iter()
        .map(|r| with_defaults(without_unconsented_contacts(r), id_column, prefix))
        .collect();
    let outcome = match table {
        Table::Touchpoints => {
            store_touchpoints(&ingestor, &tenant, &headers, source, body, records).await?
        }
        _ => {
            ingestor
                .ingest(&tenant, table, source, body, records)
                .await?
        }
    };
    Ok(Json(outcome))
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
    store_touchpoints(
        &ingestor,
        &tenant,
        &headers,
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

async fn get_snippet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SNIPPET,
    )
}

/// `POST /v1/webhooks/{crm}?tenant=T`: a vendor's delivery, verified with the tenant's
/// settings (docs/WEBHOOKS.md). An unknown tenant, or one without this CRM set up, gets
/// the same 401 as a delivery that does not verify, so nobody learns which CRMs a tenant
/// uses; an unknown CRM name is an unknown path (404). `generic` without settings takes
/// the import-column envelope with an ingest key (docs/HTTP.md).
async fn post_webhook(
    State(ingestor): Shared,
    Path(crm_name): Path<String>,
    Query(params): Params,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let crm = Crm::from_name(&crm_name).ok_or_else(|| ApiError::NotFound("not found".into()))?;
    let configured = params
        .get("tenant")
        .and_then(|t| ingestor.config.tenant(t).map(|c| (t, c)))
        .filter(|(_, settings)| settings.crm.has(crm));
    let Some((tenant, _)) = configured else {
        if crm == Crm::Generic {
            return Ok(post_generic_envelope(&ingestor, &params, &headers, body)
                .await?
                .into_response());
        }
        return Err(ApiError::Unauthorized);
    };
    let tenant = TenantId::parse(tenant).map_err(|_| ApiError::Unauthorized)?;
    let header_pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(name, value)| {
            value
                .to_str()
                .ok()
                .map(|v| (name.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    let url = public_url(&headers, &uri);
    let delivery = Delivery {
        method: method.as_str(),
        url: &url,
        headers: &header_pairs,
        body: &body,
    };
    let outcome = ingestor.receive_webhook(&tenant, crm, &delivery).await?;
    Ok(Json(outcome).into_response())
}

/// The URL as the sender called it (HubSpot signs it): the scheme from the proxy in front
/// (API Gateway sets `X-Forwarded-Proto`), the `Host` header, the path and query.
fn public_url(headers: &HeaderMap, uri: &Uri) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = header("x-forwarded-proto")
        .or(uri.scheme_str())
        .unwrap_or("http");
    let host = header("host")
        .or(uri.authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    format!("{scheme}://{host}{path}")
}

/// `{"table": "leads" | "deal_events" | "orders", "records": [...]}` (or `"record": {...}`)
/// in the import columns, with an ingest key.
async fn post_generic_envelope(
    ingestor: &IngestApi,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Json<IngestOutcome>, ApiError> {
    // Any ingest or server key first: a stranger learns nothing about the body's checks.
    ingest_tenant(ingestor, params, headers).await?;
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
    let tenant = writer_tenant(ingestor, params, headers, table).await?;
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

/// A form sent with `"consent": false` keeps its lead but not the person's e-mail and phone:
/// without consent they are not hashed, stored or used to match the person.
fn without_unconsented_contacts(mut record: HashMap<String, String>) -> HashMap<String, String> {
    let refused = record
        .remove("consent")
        .is_some_and(|c| matches!(c.trim().to_ascii_lowercase().as_str(), "false" | "0" | "no"));
    if refused {
        record.remove("email");
        record.remove("phone");
    }
    record
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

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn contacts_without_consent_are_dropped() {
        let refused = without_unconsented_contacts(form(&[
            ("lead_id", "l1"),
            ("email", "a@b.example"),
            ("phone", "+380501234567"),
            ("consent", "false"),
        ]));
        assert_eq!(refused, form(&[("lead_id", "l1")]));
        let given =
            without_unconsented_contacts(form(&[("email", "a@b.example"), ("consent", "true")]));
        assert_eq!(given, form(&[("email", "a@b.example")]));
    }
}
