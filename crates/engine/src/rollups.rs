//! Daily KPI rollups (`sql/rollups.sql`): the job writes the rows of `kpi_cost_days`,
//! `kpi_conversion_days` and the exchange rates they were summed with to the lake after
//! every run, one Delta table each (one file per tenant). KPI answers then read those few
//! files instead of a year of daily tables, as long as the rollups are current: computed
//! from exactly the tenant's files of `attribution` and the rolled-up inputs
//! ([`throughline_lake::ROLLED_UP_TABLES`]) that this session reads, which the rollup
//! files' names record ([`throughline_lake::rollup_inputs`]). Otherwise (a job, an import
//! of costs or rates since, or a session reading an older version), or when asked
//! (`KpiQuery::live`), the same views are computed from the tables: one SQL, two ways to
//! get its inputs.

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use object_store::path::Path;
use throughline_lake::{
    ATTRIBUTION_TABLE, AsOf, ROLLED_UP_TABLES, read_parquet_file, rollup_inputs,
};

use datafusion::prelude::SessionContext;

use crate::reports::install_lookups;
use crate::sql_files::{SqlFile, install_sql};
use crate::{Engine, Result};

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
    /// The versions of the rollup tables committed, in the order of `ROLLUPS`.
    pub versions: Vec<u64>,
}

impl Engine {
    /// Computes the KPI rollups from the attribution and the tables this session reads and
    /// replaces the tenant's rollups. Run after each attribution job.
    pub async fn write_kpi_rollups(&mut self) -> Result<Option<RollupReport>> {
        if self.as_of != AsOf::Latest {
            return Ok(None);
        }
        let inputs = self.rollup_inputs();
        // Every grouping's keys are summed, so the ad group lookups are needed in full.
        self.views().await?;
        let scope = self.scope()?;
        install_lookups(&scope, true, true).await?;
        install_sql(&scope, SqlFile::Rollups).await?;
        let mut rollups = Vec::new();
        let mut rows = Vec::new();
        for (name, query) in ROLLUPS {
            let frame = scope.sql(query).await?;
            let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
            let mut batches = frame.collect().await?;
            let count = batches.iter().map(|b| b.num_rows()).sum();
            // An empty rollup is still written: its schema is what readers register.
            batches.push(RecordBatch::new_empty(schema));
            rollups.push((name, batches));
            rows.push((name.to_owned(), count));
        }
        let versions = self
            .lake
            .commit_rollups(&self.tenant, &inputs, &rollups)
            .await?;
        tracing::info!(tenant = %self.tenant, ?rows, ?versions, inputs, "kpi rollups committed");
        Ok(Some(RollupReport { rows, versions }))
    }

    /// What the rollups for this session must have been computed from.
    fn rollup_inputs(&self) -> String {
        let tables =
            std::iter::once(ATTRIBUTION_TABLE).chain(ROLLED_UP_TABLES.iter().map(|t| t.name()));
        rollup_inputs(tables.filter_map(|name| self.files.get(name).map(|files| (name, files))))
    }

    /// The rollup files KPI answers may read: computed from what this session reads (the
    /// newest version only). `None`: compute from the tables.
    pub(crate) async fn current_rollups(&self) -> Result<Option<Vec<Path>>> {
        if self.as_of != AsOf::Latest || self.attribution_version().is_none() {
            return Ok(None);
        }
        let names: Vec<&str> = ROLLUPS.iter().map(|(name, _)| *name).collect();
        Ok(self
            .lake
            .current_rollups(&self.tenant, &names, &self.rollup_inputs())
            .await?)
    }

    /// Registers the rollup files (one per rollup, in the order of `ROLLUPS`) in an
    /// answer's scope under the names of the views they were written from.
    pub(crate) async fn register_rollups(
        &self,
        scope: &SessionContext,
        rollups: &[Path],
    ) -> Result<()> {
        for ((name, _), file) in ROLLUPS.iter().zip(rollups) {
            let (schema, batches) = read_parquet_file(self.lake.get(file).await?)?;
            let table: Arc<dyn TableProvider> = Arc::new(MemTable::try_new(schema, vec![batches])?);
            scope.deregister_table(*name)?;
            scope.register_table(*name, table)?;
        }
        Ok(())
    }
}
