//! Daily KPI rollups (`sql/rollups.sql`): the job writes the rows of `kpi_cost_days`,
//! `kpi_conversion_days` and the exchange rates they were summed with to the lake after
//! every run, committed as one manifest (`kpi_rollups`). KPI answers then read those few
//! files instead of a year of daily tables, as long as the rollups are current: written
//! after the newest attribution commit, and not dropped since by an import of costs or
//! rates (`Lake::drop_rollups`). Otherwise, or when asked (`KpiQuery::live`), the same
//! views are computed from the tables: one SQL, two ways to get its inputs.

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use throughline_lake::{Manifest, ROLLUPS_TABLE, read_parquet_file, write_parquet};

use datafusion::prelude::SessionContext;

use crate::reports::install_lookups;
use crate::sql_files::{SqlFile, install_sql};
use crate::{Engine, Error, Result};

/// The views kpi.sql reads, each written as a rollup file: (name in the manifest and in
/// the session, the query that produces its rows).
pub(crate) const ROLLUPS: [(&str, &str); 3] = [
    ("kpi_cost_days", "SELECT * FROM kpi_cost_days"),
    ("kpi_conversion_days", "SELECT * FROM kpi_conversion_days"),
    // The rates the money was converted with: kpi.sql converts at query time.
    ("kpi_fx_rates", "SELECT * FROM fx_rates"),
];

/// What a rollup refresh wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupReport {
    /// Rows per rollup, in the order of `ROLLUPS`.
    pub rows: Vec<(String, usize)>,
    pub manifest_version: u64,
}

impl Engine {
    /// Computes the KPI rollups from the committed attribution and the current tables and
    /// replaces the tenant's rollups in one commit. Run after each attribution job.
    /// `None` when an import of costs or rates dropped the rollups while they were being
    /// computed: they would miss its rows, so they are not committed.
    pub async fn write_kpi_rollups(&mut self) -> Result<Option<RollupReport>> {
        // Read before the inputs: an import committed after this point supersedes the set.
        let base = self
            .lake
            .current_manifest(ROLLUPS_TABLE, &self.tenant)
            .await?
            .map_or(0, |m| m.version);
        // Every grouping's keys are summed, so the ad group lookups are needed in full.
        self.views().await?;
        let scope = self.scope()?;
        install_lookups(&scope, true, true).await?;
        install_sql(&scope, SqlFile::Rollups).await?;
        let mut files = Vec::new();
        let mut rows = Vec::new();
        for (name, query) in ROLLUPS {
            let frame = scope.sql(query).await?;
            let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
            let mut batches = frame.collect().await?;
            let count = batches.iter().map(|b| b.num_rows()).sum();
            // An empty rollup is still written: its schema is what readers register.
            batches.push(RecordBatch::new_empty(schema));
            files.push((name.to_owned(), write_parquet(&batches)?));
            rows.push((name.to_owned(), count));
        }
        let Some(manifest) = self.lake.commit_rollups(&self.tenant, base, files).await? else {
            tracing::warn!(tenant = %self.tenant, "kpi rollups not committed: costs or rates changed meanwhile");
            return Ok(None);
        };
        tracing::info!(tenant = %self.tenant, ?rows, version = manifest.version, "kpi rollups committed");
        Ok(Some(RollupReport {
            rows,
            manifest_version: manifest.version,
        }))
    }

    /// The rollups KPI answers may read: committed after the newest attribution commit
    /// and not dropped since. `None`: compute from the tables.
    pub(crate) async fn current_rollups(&self) -> Result<Option<Manifest>> {
        let Some(rollups) = self
            .lake
            .current_manifest(ROLLUPS_TABLE, &self.tenant)
            .await?
        else {
            return Ok(None);
        };
        if ROLLUPS
            .iter()
            .any(|(name, _)| rollups.files.get(*name).is_none_or(Vec::is_empty))
        {
            return Ok(None);
        }
        // Against the attribution this engine registered (read when it opened).
        let current = self
            .attribution_committed_at
            .as_deref()
            .is_some_and(|attribution| committed_after(&rollups.committed_at, attribution));
        Ok(current.then_some(rollups))
    }

    /// Registers the rollup files in an answer's scope under the names of the views they
    /// were written from.
    pub(crate) async fn register_rollups(
        &self,
        scope: &SessionContext,
        rollups: &Manifest,
    ) -> Result<()> {
        for (name, _) in ROLLUPS {
            let mut batches = Vec::new();
            let mut schema = None;
            for file in &rollups.files[name] {
                let body = self.lake.get(&file.as_str().into()).await?;
                let (file_schema, file_batches) = read_parquet_file(body)?;
                schema.get_or_insert(file_schema);
                batches.extend(file_batches);
            }
            let schema = schema.ok_or_else(|| {
                Error::Settings(format!("the kpi rollups manifest lists no file for {name}"))
            })?;
            let table: Arc<dyn TableProvider> = Arc::new(MemTable::try_new(schema, vec![batches])?);
            scope.deregister_table(name)?;
            scope.register_table(name, table)?;
        }
        Ok(())
    }
}

/// Whether rollups committed at `rollups` came after attribution committed at
/// `attribution` (RFC 3339; the job writes both, the rollups right after, on one clock).
fn committed_after(rollups: &str, attribution: &str) -> bool {
    match (
        chrono::DateTime::parse_from_rfc3339(rollups),
        chrono::DateTime::parse_from_rfc3339(attribution),
    ) {
        (Ok(r), Ok(a)) => r >= a,
        _ => false,
    }
}
