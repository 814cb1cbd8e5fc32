//! The SQL of the job and the reports, compiled in from `sql/` so the binary needs no
//! files at run time. Each file is a list of `CREATE OR REPLACE VIEW` statements.

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
