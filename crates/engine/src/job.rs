//! The attribution job: run the journey and model SQL for a window of conversion dates
//! and publish the result as the tenant's `attribution` table in one atomic commit.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, Date32Array, Float64Array, Int64Array, TimestampMicrosecondArray, UInt32Array,
};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::DFParser;
use throughline_model::field::utc_date_of;

use crate::session::ATTRIBUTION_TABLE;
use crate::sql_files::{SqlFile, install_sql};
use crate::{Engine, Error, Result};

/// Settings of one job run (documented in docs/MODELS.md).
#[derive(Debug, Clone, PartialEq)]
pub struct JobSettings {
    /// Touchpoints older than this before the conversion are not in its journey.
    pub lookback_days: i64,
    /// Half-life of the time-decay model.
    pub half_life_days: f64,
    /// Conversion dates (UTC, inclusive, days since epoch) to recompute; `None` = all.
    pub window: Option<(i32, i32)>,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            lookback_days: 30,
            half_life_days: 7.0,
            window: None,
        }
    }
}

impl JobSettings {
    /// The window for optional first and last dates: `None` when both are open (all
    /// dates), else the given bounds with an open side reaching as far as any date can.
    pub fn window_between(from: Option<i32>, to: Option<i32>) -> Option<(i32, i32)> {
        match (from, to) {
            (None, None) => None,
            (from, to) => Some((from.unwrap_or(i32::MIN / 2), to.unwrap_or(i32::MAX / 2))),
        }
    }

    pub(crate) fn params_batch(&self) -> Result<(&'static str, RecordBatch)> {
        if self.lookback_days < 0 {
            return Err(Error::Settings("lookback days must be 0 or more".into()));
        }
        if !(self.half_life_days > 0.0 && self.half_life_days.is_finite()) {
            return Err(Error::Settings(
                "half-life days must be a positive number".into(),
            ));
        }
        if let Some((from, to)) = self.window
            && from > to
        {
            return Err(Error::Settings("--from is after --to".into()));
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("lookback_days", DataType::Int64, false),
            Field::new("half_life_days", DataType::Float64, false),
            Field::new("from_date", DataType::Date32, true),
            Field::new("to_date", DataType::Date32, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![self.lookback_days])),
                Arc::new(Float64Array::from(vec![self.half_life_days])),
                Arc::new(Date32Array::from(vec![self.window.map(|w| w.0)])),
                Arc::new(Date32Array::from(vec![self.window.map(|w| w.1)])),
            ],
        )?;
        Ok(("job_params", batch))
    }
}

/// What a job run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributionReport {
    pub rows: usize,
    pub conversions: usize,
    pub partitions: usize,
    pub manifest_version: u64,
}

impl Engine {
    /// Computes attribution for every model and replaces the window's partitions of the
    /// `attribution` table atomically.
    pub async fn run_attribution(&mut self, settings: &JobSettings) -> Result<AttributionReport> {
        // Ingest writes a file per request: merge them (dropping retried duplicates) first.
        for table in throughline_model::table::Table::ALL {
            self.lake.compact(table, &self.tenant).await?;
        }
        self.set_params(settings.params_batch()?)?;
        let outcome = self.attribute().await;
        // Put the views back (the reports read them live) and free the job's tables.
        install_sql(&self.ctx, SqlFile::Journeys).await?;
        install_sql(&self.ctx, SqlFile::Attribution).await?;
        let (batches, conversions) = outcome?;
        let by_date = split_by_conversion_date(&batches)?;
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        let partitions = by_date.len();
        let manifest = self
            .lake
            .commit_replace(ATTRIBUTION_TABLE, &self.tenant, settings.window, by_date)
            .await?;
        tracing::info!(tenant = %self.tenant, rows, conversions, partitions, version = manifest.version, "attribution committed");
        self.register_attribution().await?;
        Ok(AttributionReport {
            rows,
            conversions,
            partitions,
            manifest_version: manifest.version,
        })
    }

    /// The job's result rows and its number of conversions. The views that later views
    /// read more than once (or that cut the data down) are computed once, into memory, as
    /// the SQL is installed, so DataFusion does not plan them again at every use.
    async fn attribute(&self) -> Result<(Vec<RecordBatch>, usize)> {
        install_materializing(&self.ctx, SqlFile::Journeys).await?;
        install_materializing(&self.ctx, SqlFile::Attribution).await?;
        let batches = self
            .ctx
            .sql("SELECT * FROM attribution_result ORDER BY conversion_ts, conversion_id, model, position")
            .await?
            .collect()
            .await?;
        let conversions = self
            .ctx
            .sql("SELECT count(*) FROM window_conversions")
            .await?
            .collect()
            .await?
            .first()
            .and_then(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .map(|a| a.value(0))
            })
            .unwrap_or(0) as usize;
        Ok((batches, conversions))
    }
}

/// The job's views that are computed once per run: read by several later views (each use
/// of a view is planned and executed anew), or much smaller than what they are made from.
/// Narrow projections only: they are held in memory for the rest of the job.
const MATERIALIZED_VIEWS: &[&str] = &[
    "lead_keys",
    "related_leads",
    "lead_clicked_touchpoints",
    "window_conversions",
    "ad_campaigns",
    "journey_events",
    "journey_touchpoint_facts",
    "journey_touches",
];

/// Installs a SQL file like `install_sql`, but replaces each view of
/// `MATERIALIZED_VIEWS` by an in-memory table of its rows as soon as it is created, so
/// the views after it (which bind their tables when created) read the table.
async fn install_materializing(ctx: &SessionContext, file: SqlFile) -> Result<()> {
    for statement in DFParser::parse_sql(file.text())? {
        let plan = ctx.state().statement_to_plan(statement).await?;
        let created = match &plan {
            LogicalPlan::Ddl(DdlStatement::CreateView(view)) => Some(view.name.clone()),
            _ => None,
        };
        ctx.execute_logical_plan(plan).await?.collect().await?;
        if let Some(name) = created.filter(|n| MATERIALIZED_VIEWS.contains(&n.table())) {
            let frame = ctx.table(name.clone()).await?;
            let schema = Arc::new(frame.schema().as_arrow().clone());
            let partitions = frame.collect_partitioned().await?;
            let table = MemTable::try_new(schema, partitions)?;
            ctx.deregister_table(name.clone())?;
            ctx.register_table(name, Arc::new(table))?;
        }
    }
    Ok(())
}

/// The job as deployed: compacts, attributes one tenant's window and records the run in
/// the state store (running, then succeeded or failed with the reason).
pub async fn attribute_tenant(
    lake: &throughline_lake::Lake,
    state: &dyn throughline_lake::state::StateStore,
    tenant: &throughline_model::TenantId,
    rules: Arc<throughline_model::channel::ChannelRules>,
    settings: &JobSettings,
) -> Result<AttributionReport> {
    use throughline_lake::state::JobRun;
    let mut run = JobRun {
        tenant: tenant.to_string(),
        run_id: uuid::Uuid::now_v7().to_string(),
        job: "attribute".into(),
        started_at: chrono::Utc::now().to_rfc3339(),
        finished_at: None,
        status: "running".into(),
        detail: format!("{:?}", settings.window),
    };
    let record = |run: JobRun| async move {
        if let Err(e) = state.put_job_run(&run).await {
            tracing::warn!(error = %e, "could not record the job run");
        }
    };
    record(run.clone()).await;
    let outcome = async {
        let mut engine = Engine::open(lake, tenant, rules).await?;
        engine.run_attribution(settings).await
    }
    .await;
    run.finished_at = Some(chrono::Utc::now().to_rfc3339());
    match &outcome {
        Ok(report) => {
            run.status = "succeeded".into();
            run.detail = format!(
                "{} conversions, {} rows, version {}",
                report.conversions, report.rows, report.manifest_version
            );
        }
        Err(e) => {
            run.status = "failed".into();
            run.detail = e.to_string();
        }
    }
    record(run).await;
    outcome
}

/// Groups result rows by the UTC date of their conversion: the output's partitions.
fn split_by_conversion_date(batches: &[RecordBatch]) -> Result<BTreeMap<i32, Vec<RecordBatch>>> {
    let mut by_date: BTreeMap<i32, Vec<RecordBatch>> = BTreeMap::new();
    for batch in batches {
        let ts = batch
            .column_by_name("conversion_ts")
            .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
            .ok_or_else(|| {
                Error::Settings("attribution_result must have a microsecond conversion_ts".into())
            })?;
        let mut indices: BTreeMap<i32, Vec<u32>> = BTreeMap::new();
        for row in 0..batch.num_rows() {
            if !ts.is_null(row) {
                indices
                    .entry(utc_date_of(ts.value(row)))
                    .or_default()
                    .push(row as u32);
            }
        }
        for (date, rows) in indices {
            let part = take_record_batch(batch, &UInt32Array::from(rows))?;
            by_date.entry(date).or_default().push(part);
        }
    }
    Ok(by_date)
}
