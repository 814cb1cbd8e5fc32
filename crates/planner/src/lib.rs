//! The budget planner for executives: where next period's money goes. Per channel (or
//! campaign) a response curve — geometric adstock and Hill saturation — is fitted to daily
//! spend and the margin an attribution model credits; the budget is split to maximise
//! predicted margin under bounds; the answer carries its caveats (docs/PLANNER.md).
//!
//! The series comes from the lake ([`plan_for_tenant`]: the KPI report's daily series) or
//! from the user's own CSV ([`Series::read_csv`]); the rest is plain arithmetic on it.

mod allocate;
mod answer;
pub mod curve;
mod html;
mod plan;
mod series;

pub use allocate::{Allocatable, Allocation, Infeasible, allocate};
pub use answer::PLAN_COLUMNS;
pub use html::render_html;
pub use plan::{
    Alternative, ChannelPlan, DATA_CAP, DEFAULT_PERIOD_DAYS, Grain, Plan, PlanRequest, Totals, plan,
};
pub use series::{ChannelDays, DayRow, Series};

use throughline_engine::{DEFAULT_MODEL, Engine, KpiGroup, KpiQuery, model};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request the data or the bounds cannot answer; the message says what to change.
    #[error("{0}")]
    Request(String),
    #[error(
        "no channel has spend in the data: import ad_costs (or give --input with a spend column) before planning"
    )]
    NoSpend,
    #[error("{file}:{line}: {reason}")]
    Input {
        file: String,
        line: u64,
        reason: String,
    },
    #[error(transparent)]
    Engine(#[from] throughline_engine::Error),
    #[error("reading the daily series: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// The two models a plan is compared under: the first two of these that are not its own.
const COMPARED_MODELS: [&str; 3] = ["last_non_direct", "linear", "first_touch"];

/// What to plan from the lake: the model whose margin the curves follow, the grouping
/// (channel or campaign) and the reporting currency.
#[derive(Debug, Clone, PartialEq)]
pub struct LakePlan {
    pub model: String,
    pub group_by: KpiGroup,
    pub currency: Option<String>,
}

impl Default for LakePlan {
    fn default() -> Self {
        Self {
            model: DEFAULT_MODEL.into(),
            group_by: KpiGroup::Channel,
            currency: None,
        }
    }
}

impl LakePlan {
    /// Channel or campaign: the groupings spend can be set by.
    pub fn group_by(text: &str) -> Result<KpiGroup, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "channel" => Ok(KpiGroup::Channel),
            "campaign" => Ok(KpiGroup::Campaign),
            other => Err(format!("cannot plan by {other:?}: use channel or campaign")),
        }
    }
}

/// [`plan`] on a blocking thread: the fits take a core each for up to a second, which
/// must not stall a server's other requests on the async runtime.
async fn plan_apart(series: Series, request: PlanRequest) -> Result<Plan, Error> {
    tokio::task::spawn_blocking(move || plan(&series, &request))
        .await
        .unwrap_or_else(|stopped| std::panic::resume_unwind(stopped.into_panic()))
}

/// The plan for a tenant's lake: its daily spend and `lake.model`'s attributed margin per
/// group in one currency, then the same budget under two other models for comparison.
pub async fn plan_for_tenant(
    engine: &Engine,
    lake: &LakePlan,
    request: &PlanRequest,
) -> Result<Plan, Error> {
    model(&lake.model)?;
    let series_of = |model: &str| {
        let query = KpiQuery {
            model: model.to_owned(),
            group_by: lake.group_by,
            currency: lake.currency.clone(),
            ..KpiQuery::default()
        };
        async move { Series::from_kpi_days(&engine.kpi_days(&query).await?) }
    };
    let mut answer = plan_apart(series_of(&lake.model).await?, request.clone()).await?;
    answer.model = Some(lake.model.clone());
    let quick = PlanRequest {
        resamples: 0,
        ..request.clone()
    };
    for other in COMPARED_MODELS.iter().filter(|m| **m != lake.model).take(2) {
        let proposal = match plan_apart(series_of(other).await?, quick.clone()).await {
            Ok(p) => Ok(p
                .channels
                .into_iter()
                .map(|c| (c.channel, c.proposed_spend))
                .collect()),
            Err(e) => Err(e.to_string()),
        };
        answer.alternatives.push(Alternative {
            model: (*other).to_owned(),
            proposal,
        });
    }
    Ok(answer)
}
