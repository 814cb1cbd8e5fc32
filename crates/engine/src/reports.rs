//! The answers: KPIs by channel / source-medium / campaign / ad group / platform in one
//! reporting currency, the funnel with loss reasons, and read-only SQL. Each runs SQL from
//! `sql/` with a one-row parameter table.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Date32Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::DFParser;
use throughline_model::field::parse_currency;

use crate::registry::{DEFAULT_MODEL, FunnelGroup, Grouping, KpiGroup, model};
use crate::sql_files::{SqlFile, install_materializing, install_sql};
use crate::views::{SHARED, file_of, with_dependencies};
use crate::{Engine, Error, Result};

/// The lookups rollups.sql and kpi.sql read through views of their own, and what each
/// stands for: ad groups (journeys.sql) and exchange rates. The engine makes each one empty when a query cannot
/// need it ([`Engine::kpi`]).
pub const KPI_LOOKUPS: [(&str, &str); 3] = [
    ("kpi_ad_groups", "ad_groups"),
    ("kpi_touch_ad_groups", "touchpoint_campaign_ad_groups"),
    ("kpi_fx_rates", "fx_rates"),
];

/// Where the currencies of money are found: the tables, or the rollups written from them.
#[derive(Debug, Clone, Copy)]
struct MoneySources {
    rates: &'static str,
    costs: &'static str,
    conversions: &'static str,
}

const TABLE_SOURCES: MoneySources = MoneySources {
    rates: "fx_rates",
    costs: "ad_costs",
    conversions: "attribution",
};

const ROLLUP_SOURCES: MoneySources = MoneySources {
    rates: "kpi_fx_rates",
    costs: "kpi_cost_days",
    conversions: "kpi_conversion_days",
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpiQuery {
    pub model: String,
    pub group_by: KpiGroup,
    /// Inclusive UTC dates, days since epoch.
    pub from: Option<i32>,
    pub to: Option<i32>,
    /// The reporting currency (ISO 4217). `None`: the single base of the tenant's
    /// `fx_rates`, else the one currency of all its costs and conversions
    /// ([`Engine::reporting_currency`]).
    pub currency: Option<String>,
    /// Compute from the tables even when current rollups exist (e.g. costs imported after
    /// the last job are not in the rollups until the next run).
    pub live: bool,
}

impl Default for KpiQuery {
    fn default() -> Self {
        Self {
            model: DEFAULT_MODEL.into(),
            group_by: KpiGroup::Channel,
            from: None,
            to: None,
            currency: None,
            live: false,
        }
    }
}

impl KpiQuery {
    pub(crate) fn params_batch(&self) -> Result<(&'static str, RecordBatch)> {
        model(&self.model)?;
        let schema = Arc::new(Schema::new(vec![
            Field::new("model", DataType::Utf8, false),
            Field::new("group_by", DataType::Utf8, false),
            Field::new("from_date", DataType::Date32, true),
            Field::new("to_date", DataType::Date32, true),
            Field::new("currency", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![self.model.as_str()])),
                Arc::new(StringArray::from(vec![self.group_by.name()])),
                Arc::new(Date32Array::from(vec![self.from])),
                Arc::new(Date32Array::from(vec![self.to])),
                Arc::new(StringArray::from(vec![self.currency.as_deref()])),
            ],
        )?;
        Ok(("kpi_params", batch))
    }
}

pub(crate) fn funnel_params(group_by: FunnelGroup) -> Result<(&'static str, RecordBatch)> {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "group_by",
        DataType::Utf8,
        false,
    )]));
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(StringArray::from(vec![group_by.name()]))],
    )?;
    Ok(("funnel_params", batch))
}

/// The funnel by stage and the loss reasons, as record batches ready to print.
#[derive(Debug, Clone)]
pub struct FunnelReport {
    pub stages: Vec<RecordBatch>,
    pub loss_reasons: Vec<RecordBatch>,
}

impl Engine {
    /// KPIs per group and a `(total)` row, money in the reporting currency (the `currency`
    /// column). Whatever the model, total cost is the window's `ad_costs` converted and
    /// total revenue the won deals' amounts converted; rows without a rate for their day
    /// are left out of the money and counted (`costs_without_rate`,
    /// `conversions_without_rate`).
    ///
    /// Before the first attribution job (or `as_of` before it) the cost side still answers:
    /// leads, deals and revenue are 0 and [`Engine::kpi_caveats`] says why.
    pub async fn kpi(&self, query: &KpiQuery) -> Result<Vec<RecordBatch>> {
        // The groups feed both the rows and the total: computed once.
        let scope = self.kpi_scope(query, &["kpi_groups"]).await?;
        let report = scope
            .sql(
                "SELECT * EXCLUDE (is_total) FROM kpi_report \
                 ORDER BY is_total, revenue DESC, cost DESC, \"group\"",
            )
            .await?
            .collect()
            .await?;
        Ok(report)
    }

    /// Spend, revenue and margin per day and group under `query`'s model, money in its
    /// reporting currency (kpi.sql's `kpi_group_days`; `from`/`to` bound the days): the
    /// series the budget planner fits. Columns `date, group, cost, revenue, margin,
    /// costs_without_rate, conversions_without_rate, currency`, ordered by group and date.
    pub async fn kpi_days(&self, query: &KpiQuery) -> Result<Vec<RecordBatch>> {
        let scope = self.kpi_scope(query, &[]).await?;
        let days = scope
            .sql("SELECT * FROM kpi_group_days ORDER BY \"group\", \"date\"")
            .await?
            .collect()
            .await?;
        Ok(days)
    }

    /// What a reader of [`Engine::kpi`]'s answer must know to read it right, one sentence
    /// each (the CLI prints them under the table; HTTP sends them as `Throughline-Caveat`).
    pub fn kpi_caveats(&self) -> Vec<String> {
        let mut caveats = Vec::new();
        if !self.has_attribution() {
            caveats.push(format!(
                "no attribution job has run for tenant {tenant} (as of the data read): cost, \
                 impressions and clicks are the ad costs', but leads, deals won, revenue and \
                 margin are 0 until `throughline attribute --tenant {tenant}` runs",
                tenant = self.tenant
            ));
        }
        caveats
    }

    /// A scope with kpi.sql installed for `query`: over the current rollups unless `live`
    /// or there are none. The views named in `computed` are computed once at install.
    async fn kpi_scope(&self, query: &KpiQuery, computed: &[&str]) -> Result<SessionContext> {
        // Checks the model before looking at the data for a currency.
        query.params_batch()?;
        let scope = self.scope()?;
        let rollups = match query.live {
            true => None,
            false => self.current_rollups().await?,
        };
        if let Some(rollups) = &rollups {
            self.register_rollups(&scope, rollups).await?;
        }
        self.install_kpi(&scope, query, rollups.is_none(), computed)
            .await?;
        Ok(scope)
    }

    /// Installs kpi.sql in `scope` for `query`, its currency resolved: over the registered
    /// rollup files, or `live` over the tables (rollups.sql's views and their lookups);
    /// the views named in `computed` are computed once at install.
    async fn install_kpi(
        &self,
        scope: &SessionContext,
        query: &KpiQuery,
        live: bool,
        computed: &[&str],
    ) -> Result<()> {
        let sources = if live { TABLE_SOURCES } else { ROLLUP_SOURCES };
        let (currency, may_convert) =
            resolve_currency(scope, query.currency.as_deref(), sources).await?;
        let query = KpiQuery {
            currency,
            ..query.clone()
        };
        set_params(scope, query.params_batch()?)?;
        if live {
            self.views().await?;
            install_lookups(scope, query.group_by == KpiGroup::AdGroup, may_convert).await?;
            install_sql(scope, SqlFile::Rollups).await?;
        }
        install_materializing(scope, SqlFile::Kpi, computed).await
    }

    /// The currency KPIs report money in: `asked` (an ISO 4217 code) if given; else the
    /// single base of the tenant's `fx_rates`; else the one currency every ad cost and
    /// every conversion has. `None` when no cost or conversion carries money at all.
    pub async fn reporting_currency(&self, asked: Option<&str>) -> Result<Option<String>> {
        Ok(resolve_currency(&self.ctx, asked, TABLE_SOURCES).await?.0)
    }

    pub async fn funnel(&self, group_by: FunnelGroup) -> Result<FunnelReport> {
        if group_by == FunnelGroup::Channel {
            self.require_attribution()?;
        }
        self.views().await?;
        let scope = self.scope()?;
        set_params(&scope, funnel_params(group_by)?)?;
        install_sql(&scope, SqlFile::Funnel).await?;
        let stages = scope
            .sql(
                "SELECT \"group\", stage, entered, moved_on, lost, open, conversion_to_next, median_days_in_stage \
                 FROM funnel_report ORDER BY \"group\", stage_position, stage",
            )
            .await?
            .collect()
            .await?;
        let loss_reasons = scope
            .sql(
                "SELECT \"group\", loss_reason, sum(lost_deals) AS lost_deals, \
                 round(CAST(sum(lost_deals) AS DOUBLE) / sum(sum(lost_deals)) OVER (PARTITION BY \"group\"), 4) AS share \
                 FROM loss_reasons GROUP BY \"group\", loss_reason ORDER BY \"group\", lost_deals DESC, loss_reason",
            )
            .await?
            .collect()
            .await?;
        Ok(FunnelReport {
            stages,
            loss_reasons,
        })
    }

    /// Customers, repeat purchases and LTV by acquisition channel (first touch).
    pub async fn ltv(&self) -> Result<Vec<RecordBatch>> {
        self.require_attribution()?;
        self.views().await?;
        let report = self
            .ctx
            .sql("SELECT * FROM ltv_report ORDER BY revenue DESC, acquisition_channel")
            .await?
            .collect()
            .await?;
        Ok(report)
    }

    /// Runs one read-only query over the tenant's tables and views. The views it names are
    /// installed first, with their files' default parameters (the report views, e.g.
    /// `kpi_report`, as `kpi` with no options computes them live); a query of the tables
    /// alone plans no view. It may plan and run for the engine's SQL time limit
    /// (`THROUGHLINE_SQL_TIMEOUT`); past it the query is cancelled.
    pub async fn sql(&self, query: &str) -> Result<Vec<RecordBatch>> {
        let answer = self.sql_unlimited(query);
        match self.sql_time_limit {
            None => answer.await,
            Some(limit) => tokio::time::timeout(limit, answer)
                .await
                .map_err(|_| Error::TimedOut(limit))?,
        }
    }

    async fn sql_unlimited(&self, query: &str) -> Result<Vec<RecordBatch>> {
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let mut statements = DFParser::parse_sql(query)?;
        let (Some(statement), None) = (statements.pop_front(), statements.pop_front()) else {
            return Err(Error::ReadOnly("give exactly one SQL statement".into()));
        };
        let scope = self.scope()?;
        let named = scope.state().resolve_table_references(&statement)?;
        let files = with_dependencies(named.iter().filter_map(|t| file_of(t.table())));
        if files.iter().any(|f| SHARED.contains(f)) {
            self.views().await?;
        }
        if files.contains(&SqlFile::Kpi) {
            self.install_kpi(&scope, &KpiQuery::default(), true, &["kpi_groups"])
                .await?;
        } else if files.contains(&SqlFile::Rollups) {
            install_lookups(&scope, true, true).await?;
            install_sql(&scope, SqlFile::Rollups).await?;
        }
        if files.contains(&SqlFile::Funnel) {
            set_params(&scope, funnel_params(FunnelGroup::default())?)?;
            install_sql(&scope, SqlFile::Funnel).await?;
        }
        let planned = async {
            let plan = scope.state().statement_to_plan(statement).await?;
            options.verify_plan(&plan)?;
            scope.execute_logical_plan(plan).await
        };
        let frame = planned.await.map_err(|e| match e {
            datafusion::error::DataFusionError::Plan(m) if m.contains("not supported") => {
                Error::ReadOnly(format!("only read-only queries are allowed: {m}"))
            }
            other => Error::DataFusion(other),
        })?;
        Ok(frame.collect().await?)
    }
}

/// Replaces a one-row parameter table (`job_params`, `kpi_params`, `funnel_params`) of a
/// session. Views bind their tables when created: install the SQL that reads it after.
pub(crate) fn set_params(ctx: &SessionContext, (name, batch): (&str, RecordBatch)) -> Result<()> {
    let table = datafusion::datasource::MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}

/// The lookups of rollups.sql and kpi.sql ([`KPI_LOOKUPS`]): the ad group ones only when
/// grouping by ad group (they read every touchpoint), the rates only when some money may
/// need converting. An unneeded one is its view `WHERE false`, which planning removes with
/// the scans below it; a filter on the `kpi_params` table would not be known there.
pub(crate) async fn install_lookups(
    ctx: &SessionContext,
    ad_groups: bool,
    rates: bool,
) -> Result<()> {
    for (view, source) in KPI_LOOKUPS {
        let wanted = if view == "kpi_fx_rates" {
            rates
        } else {
            ad_groups
        };
        let filter = if wanted { "" } else { " WHERE false" };
        ctx.sql(&format!(
            "CREATE OR REPLACE VIEW {view} AS SELECT * FROM {source}{filter}"
        ))
        .await?
        .collect()
        .await?;
    }
    Ok(())
}

/// The reporting currency, and whether any money may be in another currency (false when
/// it was chosen as the one currency of all the money).
async fn resolve_currency(
    ctx: &SessionContext,
    asked: Option<&str>,
    sources: MoneySources,
) -> Result<(Option<String>, bool)> {
    if let Some(code) = asked {
        return parse_currency("currency", code)
            .map(|code| (Some(code), true))
            .map_err(|e| Error::ReportingCurrency(e.reason));
    }
    let bases = texts(
        ctx,
        &format!("SELECT DISTINCT base FROM {} ORDER BY 1", sources.rates),
    )
    .await?;
    if let [base] = bases.as_slice() {
        return Ok((Some(base.clone()), true));
    }
    let found = texts(
        ctx,
        &format!(
            "SELECT currency FROM {} UNION \
             SELECT currency FROM {} WHERE currency IS NOT NULL ORDER BY 1",
            sources.costs, sources.conversions
        ),
    )
    .await?;
    match found.as_slice() {
        [] => Ok((None, false)),
        [one] => Ok((Some(one.clone()), false)),
        many => Err(Error::ReportingCurrency(format!(
            "none can be chosen: costs and conversions are in {}, and fx_rates has {}; \
             pass currency= (CLI: --currency) with the currency to report in, and import \
             fx_rates (e.g. the NBU's rates) for the days of the costs and conversions",
            many.join(", "),
            match bases.as_slice() {
                [] => "no rates".to_owned(),
                several => format!("rates into several bases ({})", several.join(", ")),
            }
        ))),
    }
}

/// The first column of a query's rows as text, nulls left out.
async fn texts(ctx: &SessionContext, query: &str) -> Result<Vec<String>> {
    let batches = ctx.sql(query).await?.collect().await?;
    let mut out = Vec::new();
    for batch in &batches {
        let column = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
        let column = column.as_string::<i32>();
        out.extend(
            (0..column.len())
                .filter(|i| column.is_valid(*i))
                .map(|i| column.value(i).to_owned()),
        );
    }
    Ok(out)
}
