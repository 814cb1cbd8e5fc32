//! The answers: KPIs by channel / source-medium / campaign / platform, the funnel with
//! loss reasons, and read-only SQL. Each runs SQL from `sql/` with a one-row parameter table.

use std::sync::Arc;

use datafusion::arrow::array::{Date32Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::context::SQLOptions;

use crate::sql_files::{SqlFile, install_sql};
use crate::{Engine, Error, Result};

pub const MODELS: [&str; 6] = [
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "position_based",
    "time_decay",
];

/// The model KPIs use when none is asked for.
pub const DEFAULT_MODEL: &str = "last_non_direct";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KpiGroup {
    #[default]
    Channel,
    SourceMedium,
    Campaign,
    Platform,
}

impl KpiGroup {
    fn sql_name(self) -> &'static str {
        match self {
            KpiGroup::Channel => "channel",
            KpiGroup::SourceMedium => "source_medium",
            KpiGroup::Campaign => "campaign",
            KpiGroup::Platform => "platform",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpiQuery {
    pub model: String,
    pub group_by: KpiGroup,
    /// Inclusive UTC dates, days since epoch.
    pub from: Option<i32>,
    pub to: Option<i32>,
}

impl Default for KpiQuery {
    fn default() -> Self {
        Self {
            model: DEFAULT_MODEL.into(),
            group_by: KpiGroup::Channel,
            from: None,
            to: None,
        }
    }
}

impl KpiQuery {
    pub(crate) fn params_batch(&self) -> Result<(&'static str, RecordBatch)> {
        if !MODELS.contains(&self.model.as_str()) {
            return Err(Error::UnknownModel(self.model.clone()));
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("model", DataType::Utf8, false),
            Field::new("group_by", DataType::Utf8, false),
            Field::new("from_date", DataType::Date32, true),
            Field::new("to_date", DataType::Date32, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![self.model.as_str()])),
                Arc::new(StringArray::from(vec![self.group_by.sql_name()])),
                Arc::new(Date32Array::from(vec![self.from])),
                Arc::new(Date32Array::from(vec![self.to])),
            ],
        )?;
        Ok(("kpi_params", batch))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FunnelGroup {
    #[default]
    All,
    Channel,
    Manager,
}

pub(crate) fn funnel_params(group_by: &str) -> Result<(&'static str, RecordBatch)> {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "group_by",
        DataType::Utf8,
        false,
    )]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec![group_by]))])?;
    Ok(("funnel_params", batch))
}

/// The funnel by stage and the loss reasons, as record batches ready to print.
#[derive(Debug, Clone)]
pub struct FunnelReport {
    pub stages: Vec<RecordBatch>,
    pub loss_reasons: Vec<RecordBatch>,
}

impl Engine {
    /// KPIs per group and a `(total)` row. Total cost always equals the `ad_costs` total and
    /// total revenue the won deals' amounts in the window, whatever the model.
    pub async fn kpi(&self, query: &KpiQuery) -> Result<Vec<RecordBatch>> {
        self.require_attribution()?;
        self.set_params(query.params_batch()?)?;
        install_sql(&self.ctx, SqlFile::Kpi).await?;
        let report = self
            .ctx
            .sql(
                "SELECT * EXCLUDE (is_total) FROM kpi_report \
                 ORDER BY is_total, revenue DESC, cost DESC, \"group\"",
            )
            .await?
            .collect()
            .await?;
        Ok(report)
    }

    pub async fn funnel(&self, group_by: FunnelGroup) -> Result<FunnelReport> {
        let name = match group_by {
            FunnelGroup::All => "all",
            FunnelGroup::Channel => {
                self.require_attribution()?;
                "channel"
            }
            FunnelGroup::Manager => "manager",
        };
        self.set_params(funnel_params(name)?)?;
        install_sql(&self.ctx, SqlFile::Funnel).await?;
        let stages = self
            .ctx
            .sql(
                "SELECT \"group\", stage, entered, moved_on, lost, open, conversion_to_next, median_days_in_stage \
                 FROM funnel_report ORDER BY \"group\", stage_position, stage",
            )
            .await?
            .collect()
            .await?;
        let loss_reasons = self
            .ctx
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
        let report = self
            .ctx
            .sql("SELECT * FROM ltv_report ORDER BY revenue DESC, acquisition_channel")
            .await?
            .collect()
            .await?;
        Ok(report)
    }

    /// Runs one read-only query over the tenant's tables and views.
    pub async fn sql(&self, query: &str) -> Result<Vec<RecordBatch>> {
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let frame = self
            .ctx
            .sql_with_options(query, options)
            .await
            .map_err(|e| match e {
                datafusion::error::DataFusionError::Plan(m) if m.contains("not supported") => {
                    Error::ReadOnly(format!("only read-only queries are allowed: {m}"))
                }
                other => Error::DataFusion(other),
            })?;
        Ok(frame.collect().await?)
    }
}
