//! The SQL of the job and the reports, compiled in from `sql/` so the binary needs no
//! files at run time. Each file is a list of `CREATE OR REPLACE VIEW` statements.

use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::DFParser;

use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlFile {
    Journeys,
    Attribution,
    Rollups,
    Kpi,
    Funnel,
    Customers,
}

impl SqlFile {
    pub fn text(self) -> &'static str {
        match self {
            SqlFile::Journeys => include_str!("../../../sql/journeys.sql"),
            SqlFile::Attribution => include_str!("../../../sql/attribution.sql"),
            SqlFile::Rollups => include_str!("../../../sql/rollups.sql"),
            SqlFile::Kpi => include_str!("../../../sql/kpi.sql"),
            SqlFile::Funnel => include_str!("../../../sql/funnel.sql"),
            SqlFile::Customers => include_str!("../../../sql/customers.sql"),
        }
    }
}

/// Runs every statement of a SQL file (views are planned now, executed when queried).
pub async fn install_sql(ctx: &SessionContext, file: SqlFile) -> Result<()> {
    for statement in DFParser::parse_sql(file.text())? {
        let plan = ctx.state().statement_to_plan(statement).await?;
        ctx.execute_logical_plan(plan).await?.collect().await?;
    }
    Ok(())
}

/// Installs a SQL file like `install_sql`, but replaces each view named in `computed` by an
/// in-memory table of its rows as soon as it is created, so the views after it (which
/// bind their tables when created) read the rows instead of planning it again at each use.
pub(crate) async fn install_materializing(
    ctx: &SessionContext,
    file: SqlFile,
    computed: &[&str],
) -> Result<()> {
    for statement in DFParser::parse_sql(file.text())? {
        let plan = ctx.state().statement_to_plan(statement).await?;
        let created = match &plan {
            LogicalPlan::Ddl(DdlStatement::CreateView(view)) => Some(view.name.clone()),
            _ => None,
        };
        ctx.execute_logical_plan(plan).await?.collect().await?;
        if let Some(name) = created.filter(|n| computed.contains(&n.table())) {
            let started = std::time::Instant::now();
            let frame = ctx.table(name.clone()).await?;
            let schema = Arc::new(frame.schema().as_arrow().clone());
            let partitions = frame.collect_partitioned().await?;
            let rows: usize = partitions.iter().flatten().map(RecordBatch::num_rows).sum();
            // Where a job's time goes, per step, in the function's logs.
            tracing::debug!(view = %name, rows, ms = started.elapsed().as_millis() as u64, "view computed");
            let table = MemTable::try_new(schema, partitions)?;
            ctx.deregister_table(name.clone())?;
            ctx.register_table(name, Arc::new(table))?;
        }
    }
    Ok(())
}
