//! The SQL of the job and the reports, compiled in from `sql/` so the binary needs no
//! files at run time. Each file is a list of `CREATE OR REPLACE VIEW` statements.
//!
//! A view family used over more than one set of rows is written once, as a template, and
//! instantiated by a line `-- @include <template> key=value …` (see
//! sql/touchpoint_facts.sql): each `{key}` of the template becomes its value; `drop` is a
//! comma-separated list of columns, given to the template as `, a, b`.

use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::DFParser;

use crate::Result;

/// In install order: a file's views read only views of files before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SqlFile {
    Journeys,
    Attribution,
    Rollups,
    Kpi,
    Funnel,
    Customers,
}

impl SqlFile {
    pub const ALL: [SqlFile; 6] = [
        SqlFile::Journeys,
        SqlFile::Attribution,
        SqlFile::Rollups,
        SqlFile::Kpi,
        SqlFile::Funnel,
        SqlFile::Customers,
    ];

    /// The file's statements, its `@include` lines expanded.
    pub fn text(self) -> &'static str {
        static TEXTS: [std::sync::OnceLock<String>; SqlFile::ALL.len()] =
            [const { std::sync::OnceLock::new() }; SqlFile::ALL.len()];
        TEXTS[self as usize].get_or_init(|| {
            expand_includes(self.source())
                .unwrap_or_else(|e| panic!("sql/ compiled into the binary: {e}"))
        })
    }

    fn source(self) -> &'static str {
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

/// The templates `@include` lines may name.
fn template(name: &str) -> Option<&'static str> {
    match name {
        "touchpoint_facts.sql" => Some(include_str!("../../../sql/touchpoint_facts.sql")),
        _ => None,
    }
}

/// The text with every `-- @include <template> key=value …` line replaced by the template,
/// its `{key}` placeholders filled in.
fn expand_includes(source: &str) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(source.len() * 2);
    for line in source.lines() {
        let Some(include) = line.trim_start().strip_prefix("-- @include ") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let mut words = include.split_whitespace();
        let name = words.next().unwrap_or_default();
        let mut text = template(name)
            .ok_or_else(|| format!("@include {name:?}: no such template"))?
            .to_owned();
        let mut drop = String::new();
        for pair in words {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("@include {name}: {pair:?} is not key=value"))?;
            if key == "drop" {
                drop = value.split(',').map(|c| format!(", {c}")).collect();
            } else {
                text = text.replace(&format!("{{{key}}}"), value);
            }
        }
        text = text.replace("{drop}", &drop);
        if let Some(start) = text.find('{').filter(|&i| text[i..].contains('}')) {
            let end = start + text[start..].find('}').unwrap_or(0);
            return Err(format!(
                "@include {name}: {} is not given",
                &text[start..=end]
            ));
        }
        out.push_str(&text);
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_expands_and_templates_check_their_parameters() {
        for file in SqlFile::ALL {
            let left = file
                .text()
                .lines()
                .any(|l| l.trim_start().starts_with("-- @include "));
            assert!(!left, "{file:?}");
        }
        let journeys = SqlFile::Journeys.text();
        for view in [
            "VIEW touchpoint_facts AS",
            "VIEW touchpoint_campaigns AS",
            "VIEW journey_touchpoint_facts AS",
            "VIEW journey_touchpoint_campaigns AS",
        ] {
            assert_eq!(journeys.matches(view).count(), 1, "{view}");
        }
        assert!(journeys.contains("EXCLUDE (facts, url, referrer"));
        let e = expand_includes("-- @include touchpoint_facts.sql prefix=x").unwrap_err();
        assert!(e.contains("{touchpoints}"), "{e}");
        let e = expand_includes("-- @include nope.sql").unwrap_err();
        assert!(e.contains("no such template"), "{e}");
    }
}
