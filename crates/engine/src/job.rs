//! The attribution job: run the journey and model SQL for a window of conversion dates
//! and publish the result as the tenant's `attribution` table in one atomic commit.
//!
//! The result is never held whole (about 30M rows at 100M touchpoints): it is streamed in
//! conversion-time order, so its UTC conversion dates ascend, and each date's rows are
//! written to their part file as soon as a later date appears (`PartWriter`). The files
//! are committed together once the stream has ended; until then readers see the previous
//! version. A job that fails after writing some files commits nothing and leaves those
//! files behind unreferenced (see `throughline_lake`'s manifest commit).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, Date32Array, Float64Array, Int64Array, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use futures::TryStreamExt;
use throughline_lake::{ATTRIBUTION_TABLE, DataFile, Lake};
use throughline_model::TenantId;
use throughline_model::field::utc_date_of;

use crate::sql_files::{SqlFile, install_materializing, install_sql};
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
    /// Write the KPI rollups after the attribution commit (`Engine::write_kpi_rollups`).
    pub rollups: bool,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            lookback_days: 30,
            half_life_days: 7.0,
            window: None,
            rollups: true,
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
    /// The version of the `attribution` table the run committed.
    pub version: u64,
    /// The KPI rollups written after the commit; `None` when not asked for or when an
    /// import of costs or rates committed first (KPIs are then computed from the tables).
    pub rollups: Option<crate::RollupReport>,
}

impl Engine {
    /// Computes attribution for every model and replaces the window's partitions of the
    /// `attribution` table atomically.
    pub async fn run_attribution(&mut self, settings: &JobSettings) -> Result<AttributionReport> {
        // Ingest writes a file per request: merge them (dropping retried duplicates) first,
        // then read the tables as compacted.
        for table in throughline_model::table::Table::ALL {
            self.lake.compact(table, &self.tenant).await?;
        }
        self.register_inputs().await?;
        crate::reports::set_params(&self.ctx, settings.params_batch()?)?;
        // Writes the result's files; the stream has ended (or failed) when it returns.
        let outcome = self.attribute().await;
        // Put the views back (the reports read them live) and free the job's tables: the
        // two files the job replaced parts of, or all the views if none was installed yet.
        if self.views.initialized() {
            install_sql(&self.ctx, SqlFile::Journeys).await?;
            install_sql(&self.ctx, SqlFile::Attribution).await?;
        } else {
            self.views().await?;
        }
        let (mut written, conversions) = outcome?;
        // A run that credits nothing still adds a file (with no rows) for its tenant: the
        // tenant then reads as attributed, and the next run over that date replaces it.
        if written.files.is_empty() {
            let date = settings.window.map_or(0, |(from, _)| from);
            let empty = RecordBatch::new_empty(written.schema.clone());
            let marker = self
                .lake
                .write_data_file(ATTRIBUTION_TABLE, &self.tenant, Some(date), &[empty])
                .await?;
            written.files.push(marker);
        }
        let rows = written.rows;
        let partitions = written.files.len();
        let version = self
            .lake
            .commit_files(
                ATTRIBUTION_TABLE,
                &self.tenant,
                &written.schema,
                settings.window,
                &written.files,
            )
            .await?;
        tracing::info!(tenant = %self.tenant, rows, conversions, partitions, version, "attribution committed");
        self.register_attribution().await?;
        let rollups = match settings.rollups {
            true => self.write_kpi_rollups().await?,
            false => None,
        };
        Ok(AttributionReport {
            rows,
            conversions,
            partitions,
            version,
            rollups,
        })
    }

    /// Writes the job's result rows as uncommitted part files, one per conversion date, and
    /// counts its conversions. The views that later views read more than once (or that
    /// cut the data down) are computed once, into memory, as the SQL is installed, so
    /// DataFusion does not plan them again at every use.
    async fn attribute(&self) -> Result<(WrittenParts, usize)> {
        install_materializing(&self.ctx, SqlFile::Journeys, MATERIALIZED_VIEWS).await?;
        install_materializing(&self.ctx, SqlFile::Attribution, MATERIALIZED_VIEWS).await?;
        // The result reads touch_weights and the conversions: the journey steps before
        // them (tables and the views that hold them) can go, and their memory with them.
        for name in RELEASED_AFTER_INSTALL {
            self.ctx.deregister_table(*name)?;
        }
        let started = std::time::Instant::now();
        let mut stream = self
            .ctx
            .sql("SELECT * FROM attribution_result ORDER BY conversion_ts, conversion_id, model, position")
            .await?
            .execute_stream()
            .await?;
        let mut writer = PartWriter::new(&self.lake, &self.tenant, &stream.schema())?;
        while let Some(batch) = stream.try_next().await? {
            writer.push(batch).await?;
        }
        let written = writer.finish().await?;
        tracing::info!(
            rows = written.rows,
            files = written.files.len(),
            ms = started.elapsed().as_millis() as u64,
            "result written"
        );
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
        Ok((written, conversions))
    }
}

/// The part files a job run wrote, not yet committed.
struct WrittenParts {
    /// One per conversion date, in date order.
    files: Vec<DataFile>,
    /// The result's columns (the table's schema at its first commit).
    schema: SchemaRef,
    /// All result rows, with any whose conversion time is null (these are not written).
    rows: usize,
}

/// Cuts the job's result, which arrives sorted by conversion time, into one part file per
/// UTC conversion date, holding only the rows of the date being read and of the few dates
/// being encoded and stored meanwhile (one per CPU, so encoding keeps pace with the query).
struct PartWriter<'a> {
    lake: &'a Lake,
    tenant: &'a TenantId,
    /// Index of `conversion_ts` in the result's batches.
    ts_column: usize,
    /// The date being read and its rows so far (slices of the result's batches).
    current: Option<(i32, Vec<RecordBatch>)>,
    /// Dates being written, each to the key of its file.
    in_flight: tokio::task::JoinSet<Result<DataFile>>,
    max_in_flight: usize,
    written: WrittenParts,
}

impl<'a> PartWriter<'a> {
    fn new(lake: &'a Lake, tenant: &'a TenantId, schema: &Schema) -> Result<Self> {
        let ts_column = schema
            .index_of("conversion_ts")
            .map_err(|_| Error::Settings("attribution_result must have a conversion_ts".into()))?;
        Ok(Self {
            lake,
            tenant,
            ts_column,
            current: None,
            in_flight: tokio::task::JoinSet::new(),
            max_in_flight: std::thread::available_parallelism().map_or(2, |n| n.get()),
            written: WrittenParts {
                files: Vec::new(),
                schema: Arc::new(schema.clone()),
                rows: 0,
            },
        })
    }

    /// Takes the next batch: its runs of rows of one date go to that date's buffer, and
    /// the buffer of an earlier date is written out as soon as a later date begins.
    async fn push(&mut self, batch: RecordBatch) -> Result<()> {
        self.written.rows += batch.num_rows();
        let ts = batch
            .column(self.ts_column)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .ok_or_else(|| {
                Error::Settings("attribution_result must have a microsecond conversion_ts".into())
            })?
            .clone();
        let date_of = |row: usize| (!ts.is_null(row)).then(|| utc_date_of(ts.value(row)));
        let mut start = 0;
        while start < batch.num_rows() {
            let date = date_of(start);
            let mut end = start + 1;
            while end < batch.num_rows() && date_of(end) == date {
                end += 1;
            }
            // Rows without a conversion time belong to no partition (as before streaming).
            if let Some(date) = date {
                if self.current.as_ref().is_some_and(|(d, _)| *d != date) {
                    self.flush().await?;
                }
                self.current
                    .get_or_insert_with(|| (date, Vec::new()))
                    .1
                    .push(batch.slice(start, end - start));
            }
            start = end;
        }
        Ok(())
    }

    /// Starts writing the buffered date's rows to a new part file.
    async fn flush(&mut self) -> Result<()> {
        if let Some((date, batches)) = self.current.take() {
            while self.in_flight.len() >= self.max_in_flight {
                self.collect_one().await?;
            }
            let (lake, tenant) = (self.lake.clone(), self.tenant.clone());
            self.in_flight.spawn(async move {
                Ok(lake
                    .write_data_file(ATTRIBUTION_TABLE, &tenant, Some(date), &batches)
                    .await?)
            });
        }
        Ok(())
    }

    /// Waits for one date's file to be written (an error stops the job: the files already
    /// written are never committed, and dropping the set stops the others).
    async fn collect_one(&mut self) -> Result<()> {
        if let Some(joined) = self.in_flight.join_next().await {
            let file = joined.map_err(|e| Error::PartWrite(e.to_string()))??;
            // Sorted input gives one file per date; out of order, a date would get more.
            self.written.files.push(file);
        }
        Ok(())
    }

    /// Writes the last date's rows and waits for all; the files to commit.
    async fn finish(mut self) -> Result<WrittenParts> {
        self.flush().await?;
        while !self.in_flight.is_empty() {
            self.collect_one().await?;
        }
        self.written.files.sort_by_key(|f| f.date);
        Ok(self.written)
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
    "touch_weights",
];

/// Every view the job names (checked against sql/ by a test).
#[cfg(test)]
pub(crate) const NAMED_VIEWS: [&[&str]; 2] = [MATERIALIZED_VIEWS, RELEASED_AFTER_INSTALL];

/// Job steps that nothing reads once `touch_weights` is computed (the final query's views
/// are bound by then): dropped before the final query runs.
const RELEASED_AFTER_INSTALL: &[&str] = &[
    "journey_events",
    "journey_touchpoint_facts",
    "journey_touchpoint_campaigns",
    "journey_touches",
    "ranked_touches",
];

/// The job as deployed: compacts, attributes one tenant's window and records the run in
/// the state store (running, then succeeded or failed with the reason).
pub async fn attribute_tenant(
    lake: &throughline_lake::Lake,
    state: &dyn throughline_lake::state::StateStore,
    tenant: &throughline_model::TenantId,
    rules: Arc<throughline_model::channel::ChannelRules>,
    limits: &throughline_settings::EngineSettings,
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
        let mut engine = Engine::open(lake, tenant, rules, limits).await?;
        engine.run_attribution(settings).await
    }
    .await;
    run.finished_at = Some(chrono::Utc::now().to_rfc3339());
    match &outcome {
        Ok(report) => {
            run.status = "succeeded".into();
            run.detail = format!(
                "{} conversions, {} rows, version {}",
                report.conversions, report.rows, report.version
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

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::TimeUnit;

    const DAY: i64 = 86_400_000_000;

    fn batch(rows: &[(Option<i64>, &str)]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("conversion_id", DataType::Utf8, false),
            Field::new(
                "conversion_ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(
                    TimestampMicrosecondArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())
                        .with_timezone("UTC"),
                ),
            ],
        )
        .unwrap()
    }

    async fn ids_in(lake: &Lake, file: &DataFile) -> Vec<String> {
        let body = lake.get(&file.key()).await.unwrap();
        throughline_lake::read_parquet(body, Some(&["conversion_id"]))
            .unwrap()
            .iter()
            .flat_map(|b| {
                let ids = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
                ids.iter()
                    .map(|v| v.unwrap().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[tokio::test]
    async fn sorted_rows_are_cut_into_one_uncommitted_file_per_date() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let tenant = TenantId::parse("t1").unwrap();
        let schema = batch(&[]).schema();
        let mut writer = PartWriter::new(&lake, &tenant, &schema).unwrap();
        // Day 1 spans two batches, the second batch crosses into day 2 and day 4; day 3
        // has no rows; a null conversion time is counted but written nowhere.
        writer
            .push(batch(&[(Some(DAY + 1), "a"), (Some(DAY + 2), "b")]))
            .await
            .unwrap();
        writer
            .push(batch(&[
                (Some(2 * DAY - 1), "c"),
                (Some(2 * DAY), "d"),
                (Some(4 * DAY + 5), "e"),
            ]))
            .await
            .unwrap();
        writer.push(batch(&[])).await.unwrap();
        writer
            .push(batch(&[(Some(4 * DAY + 6), "f"), (None, "g")]))
            .await
            .unwrap();
        let written = writer.finish().await.unwrap();

        assert_eq!(written.rows, 7);
        let dates: Vec<Option<i32>> = written.files.iter().map(|f| f.date).collect();
        assert_eq!(dates, [Some(1), Some(2), Some(4)], "one file per date");
        let mut ids = Vec::new();
        for file in &written.files {
            ids.push(ids_in(&lake, file).await);
        }
        assert_eq!(ids, [vec!["a", "b", "c"], vec!["d"], vec!["e", "f"]]);
        assert_eq!(
            lake.table_files(ATTRIBUTION_TABLE, &tenant, &throughline_lake::AsOf::Latest)
                .await
                .unwrap()
                .version,
            None,
            "written, not committed"
        );
    }
}
