//! The query API: what `throughline kpi | funnel | ltv | plan` print, over HTTP for BI
//! tools and shared client reports. `GET /v1/kpi`, `/v1/funnel`, `/v1/ltv`, `/v1/plan`
//! with a tenant's read key;
//! `format=json` (default, an array of row objects) or `format=csv`; `as_of=` (a version of
//! the attribution table, a time or a day) answers from the lake as it was then.

use std::collections::{BTreeMap, HashMap};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use throughline_engine::{DEFAULT_MODEL, Engine, FunnelGroup, Grouping, KpiGroup, KpiQuery};
use throughline_http::ApiError;
use throughline_http::auth::{key_from, tenant_for};
use throughline_lake::state::{KeyScope, StateStore};
use throughline_lake::{AsOf, Lake};
use throughline_model::TenantId;
use throughline_model::channel::ChannelRules;
use throughline_model::field::parse_date;
use throughline_planner::{
    Error as PlannerError, Grain, LakePlan, PlanRequest, plan_for_tenant, render_html,
};
use throughline_settings::EngineSettings;

#[derive(Debug, Clone)]
pub struct QueryService {
    pub lake: Lake,
    pub state: Arc<dyn StateStore>,
    pub rules: Arc<ChannelRules>,
    pub limits: EngineSettings,
}

type Params = Query<HashMap<String, String>>;

/// One header per caveat of an answer (docs/HTTP.md): what the rows alone would mislead on.
pub const CAVEAT_HEADER: &str = "throughline-caveat";

pub fn query_router(service: Arc<QueryService>) -> Router {
    Router::new()
        .route("/v1/kpi", get(kpi))
        .route("/v1/funnel", get(funnel))
        .route("/v1/ltv", get(ltv))
        .route("/v1/plan", get(plan))
        .with_state(service)
}

impl QueryService {
    async fn engine(
        &self,
        headers: &HeaderMap,
        params: &HashMap<String, String>,
    ) -> Result<Engine, ApiError> {
        let tenant: TenantId = tenant_for(
            self.state.as_ref(),
            key_from(headers, params.get("key").map(String::as_str)),
            params.get("tenant").map(String::as_str),
            KeyScope::Read,
        )
        .await?;
        let as_of = match params.get("as_of") {
            Some(text) => text
                .parse::<AsOf>()
                .map_err(|e| ApiError::BadRequest(e.to_string()))?,
            None => AsOf::Latest,
        };
        tracing::info!(%tenant, ?as_of, "answering");
        Engine::open_as_of(&self.lake, &tenant, self.rules.clone(), &self.limits, as_of)
            .await
            .map_err(engine_error)
    }
}

fn engine_error(e: throughline_engine::Error) -> ApiError {
    use throughline_engine::Error as E;
    match e {
        E::UnknownModel(_) | E::Settings(_) | E::ReadOnly(_) | E::ReportingCurrency(_) => {
            ApiError::BadRequest(e.to_string())
        }
        E::NoAttribution(_) => ApiError::Conflict(e.to_string()),
        E::TimedOut(_) => ApiError::BadRequest(e.to_string()),
        // A version or time the lake does not have is the request's mistake.
        E::Lake(throughline_lake::Error::AsOf(_)) => ApiError::BadRequest(e.to_string()),
        E::Lake(inner) => ApiError::Unavailable(inner.to_string()),
        other => ApiError::Internal(other.to_string()),
    }
}

fn date_param(params: &HashMap<String, String>, name: &str) -> Result<Option<i32>, ApiError> {
    params
        .get(name)
        .map(|d| parse_date(name, d).map_err(|e| ApiError::BadRequest(e.to_string())))
        .transpose()
}

/// `group_by=`, by its name in the registry; the report's default when absent.
fn group_param<G: Grouping + Default>(params: &HashMap<String, String>) -> Result<G, ApiError> {
    params
        .get("group_by")
        .map_or(Ok(G::default()), |name| G::parse(name))
        .map_err(ApiError::BadRequest)
}

async fn kpi(
    State(service): State<Arc<QueryService>>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let engine = service.engine(&headers, &params).await?;
    let group_by: KpiGroup = group_param(&params)?;
    let query = KpiQuery {
        model: params
            .get("model")
            .cloned()
            .unwrap_or_else(|| DEFAULT_MODEL.into()),
        group_by,
        from: date_param(&params, "from")?,
        to: date_param(&params, "to")?,
        currency: params.get("currency").cloned(),
        live: match params.get("live").map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "live {other:?}: use true or false"
                )));
            }
        },
    };
    let batches = engine.kpi(&query).await.map_err(engine_error)?;
    let mut answer = respond(&batches, &params)?;
    add_caveats(&mut answer, &engine.kpi_caveats());
    Ok(answer)
}

/// One `Throughline-Caveat` header per caveat. A header value is visible ASCII: any other
/// byte of the text (a channel's name in Ukrainian) is percent-encoded, and so is `%`.
fn add_caveats(answer: &mut Response, caveats: &[String]) {
    const NOT_IN_A_HEADER: &AsciiSet = &CONTROLS.add(b'%');
    for caveat in caveats {
        let encoded = utf8_percent_encode(caveat, NOT_IN_A_HEADER).to_string();
        if let Ok(value) = HeaderValue::from_str(&encoded) {
            answer.headers_mut().append(CAVEAT_HEADER, value);
        }
    }
}

/// `GET /v1/plan`: the budget planner over the tenant's lake (docs/PLANNER.md). `budget`
/// is required; `min.NAME=AMOUNT` and `max.NAME=AMOUNT` override one channel's bounds.
async fn plan(
    State(service): State<Arc<QueryService>>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let engine = service.engine(&headers, &params).await?;
    let html = match params.get("format").map(String::as_str) {
        None | Some("json") | Some("csv") => false,
        Some("html") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format {other:?}: use json, csv or html"
            )));
        }
    };
    let (request, lake) = plan_params(&params)?;
    let answer = plan_for_tenant(&engine, &lake, &request)
        .await
        .map_err(|e| match e {
            PlannerError::Engine(inner) => engine_error(inner),
            PlannerError::Arrow(inner) => ApiError::Internal(inner.to_string()),
            other => ApiError::BadRequest(other.to_string()),
        })?;
    let mut response = if html {
        let title = format!("Budget plan for {}", engine.tenant());
        let page = render_html(&answer, &title);
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
    } else {
        let batch = answer
            .to_batch()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        respond(&[batch], &params)?
    };
    add_caveats(&mut response, &answer.caveats());
    Ok(response)
}

/// A plan's request and lake settings from its query parameters (docs/HTTP.md).
fn plan_params(params: &HashMap<String, String>) -> Result<(PlanRequest, LakePlan), ApiError> {
    let defaults = PlanRequest::default();
    let whole = |what: &'static str| {
        move |text: &str| {
            text.parse::<usize>()
                .map_err(|_| format!("{what}: give a whole number"))
        }
    };
    let overrides = |prefix: &str| -> Result<BTreeMap<String, f64>, ApiError> {
        params
            .iter()
            .filter_map(|(key, value)| key.strip_prefix(prefix).map(|name| (name, value)))
            .map(|(name, value)| {
                PlanRequest::parse_channel_amount(&format!("{name}={value}"))
                    .map_err(ApiError::BadRequest)
            })
            .collect()
    };
    let request = PlanRequest {
        budget: parsed(params, "budget", None, |text| {
            text.parse::<f64>()
                .map(Some)
                .map_err(|_| "budget: not a number".to_owned())
        })?
        .ok_or_else(|| {
            ApiError::BadRequest("budget: give the amount to split, e.g. budget=250000".into())
        })?,
        period_days: parsed(
            params,
            "period",
            defaults.period_days,
            PlanRequest::parse_period,
        )?,
        grain: parsed(params, "grain", defaults.grain, Grain::parse)?,
        bounds: parsed(params, "bounds", defaults.bounds, PlanRequest::parse_bounds)?,
        min_spend: overrides("min.")?,
        max_spend: overrides("max.")?,
        resamples: parsed(params, "bootstrap", defaults.resamples, whole("bootstrap"))?
            .min(MAX_BOOTSTRAP),
        min_weeks: parsed(params, "min_weeks", defaults.min_weeks, whole("min_weeks"))?,
        ..defaults
    };
    let lake = LakePlan {
        model: parsed(params, "model", DEFAULT_MODEL.into(), |m| Ok(m.to_owned()))?,
        group_by: parsed(params, "group_by", KpiGroup::Channel, LakePlan::group_by)?,
        currency: params.get("currency").cloned(),
    };
    Ok((request, lake))
}

/// `name=` read by `parse`, or `default` when absent; a value it refuses is a 400 with its
/// reason.
fn parsed<T>(
    params: &HashMap<String, String>,
    name: &str,
    default: T,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, ApiError> {
    params
        .get(name)
        .map_or(Ok(default), |text| parse(text))
        .map_err(ApiError::BadRequest)
}

/// Refits a request may ask for: each costs a pass over every channel's days.
const MAX_BOOTSTRAP: usize = 1000;

async fn funnel(
    State(service): State<Arc<QueryService>>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let engine = service.engine(&headers, &params).await?;
    let group_by: FunnelGroup = group_param(&params)?;
    let report = engine.funnel(group_by).await.map_err(engine_error)?;
    match params.get("part").map(String::as_str) {
        None | Some("stages") => respond(&report.stages, &params),
        Some("loss_reasons") => respond(&report.loss_reasons, &params),
        Some(other) => Err(ApiError::BadRequest(format!(
            "part {other:?}: use stages or loss_reasons"
        ))),
    }
}

async fn ltv(
    State(service): State<Arc<QueryService>>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let engine = service.engine(&headers, &params).await?;
    let batches = engine.ltv().await.map_err(engine_error)?;
    respond(&batches, &params)
}

fn respond(
    batches: &[RecordBatch],
    params: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let internal = |e: arrow::error::ArrowError| ApiError::Internal(e.to_string());
    let mut body = Vec::new();
    match params.get("format").map(String::as_str) {
        None | Some("json") => {
            let mut writer = arrow::json::ArrayWriter::new(&mut body);
            for batch in batches {
                writer.write(batch).map_err(internal)?;
            }
            writer.finish().map_err(internal)?;
            if body.is_empty() {
                body.extend_from_slice(b"[]");
            }
            Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
        }
        Some("csv") => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut body);
            for batch in batches {
                writer.write(batch).map_err(internal)?;
            }
            drop(writer);
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response())
        }
        Some(other) => Err(ApiError::BadRequest(format!(
            "format {other:?}: use json or csv"
        ))),
    }
}
