//! What a user can name in a report: the attribution models and the groupings of the KPI
//! and funnel reports. One list each; the CLI, the query API, the SQL and the error
//! messages all read these (docs/MODELS.md documents the models).

use std::sync::Arc;

use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use crate::{Error, Result};

/// An attribution model: rows of the `attribution` table carry its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Model {
    /// The stable name, e.g. `position_based`.
    pub name: &'static str,
    /// What it credits, in a line (docs/MODELS.md has the full definition).
    pub summary: &'static str,
}

/// Every model the job computes, in the order reports list them. Each one's credit is
/// written in sql/attribution.sql (`touch_models` and the cumulative credit); a test holds
/// the two together.
pub const MODELS: [Model; 6] = [
    Model {
        name: "first_touch",
        summary: "1 to the first touch",
    },
    Model {
        name: "last_touch",
        summary: "1 to the last touch",
    },
    Model {
        name: "last_non_direct",
        summary: "1 to the last touch whose channel is not Direct (all Direct: the last touch)",
    },
    Model {
        name: "linear",
        summary: "1/n to each of n touches",
    },
    Model {
        name: "position_based",
        summary: "40% first, 40% last, 20% shared by the middle; 2 touches 50/50",
    },
    Model {
        name: "time_decay",
        summary: "2^(-days before the conversion / half-life) per touch, normalised",
    },
];

/// The model KPIs use when none is asked for.
pub const DEFAULT_MODEL: &str = "last_non_direct";

/// The model of that name.
pub fn model(name: &str) -> Result<&'static Model> {
    MODELS
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| Error::UnknownModel(name.to_owned()))
}

/// `first_touch, last_touch, …`: for help texts and error messages.
pub fn model_names() -> String {
    MODELS.map(|m| m.name).join(", ")
}

/// Registers `attribution_models` (one `model` row per model), which attribution.sql reads
/// for conversions without any touch.
pub fn register_models(ctx: &SessionContext) -> Result<()> {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "model",
        DataType::Utf8,
        false,
    )]));
    let names = StringArray::from(MODELS.map(|m| m.name).to_vec());
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(names)])?;
    ctx.register_table(
        "attribution_models",
        Arc::new(MemTable::try_new(schema, vec![vec![batch]])?),
    )?;
    Ok(())
}

/// A grouping a user can ask for by name. Names are written with `_`; `-` is accepted in
/// their place (`source-medium`), as command-line users type them.
pub trait Grouping: Sized + Copy + 'static {
    const ALL: &'static [Self];
    /// What the report asks of its grouping (e.g. `KPIs`), for error messages.
    const WHAT: &'static str;

    fn name(self) -> &'static str;

    fn parse(text: &str) -> std::result::Result<Self, String> {
        let wanted = text.trim().replace('-', "_").to_ascii_lowercase();
        Self::ALL
            .iter()
            .copied()
            .find(|g| g.name() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|g| g.name()).collect();
                format!(
                    "cannot group {} by {text:?}: use {}",
                    Self::WHAT,
                    names.join(", ")
                )
            })
    }
}

/// How KPIs are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KpiGroup {
    #[default]
    Channel,
    SourceMedium,
    Campaign,
    /// `<campaign> / <ad group> [platform]`.
    AdGroup,
    Platform,
}

impl Grouping for KpiGroup {
    const ALL: &'static [Self] = &[
        KpiGroup::Channel,
        KpiGroup::SourceMedium,
        KpiGroup::Campaign,
        KpiGroup::AdGroup,
        KpiGroup::Platform,
    ];
    const WHAT: &'static str = "KPIs";

    /// The name, also the `group_by` value kpi.sql and rollups.sql read.
    fn name(self) -> &'static str {
        match self {
            KpiGroup::Channel => "channel",
            KpiGroup::SourceMedium => "source_medium",
            KpiGroup::Campaign => "campaign",
            KpiGroup::AdGroup => "ad_group",
            KpiGroup::Platform => "platform",
        }
    }
}

/// How the funnel is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FunnelGroup {
    #[default]
    All,
    Channel,
    Manager,
}

impl Grouping for FunnelGroup {
    const ALL: &'static [Self] = &[FunnelGroup::All, FunnelGroup::Channel, FunnelGroup::Manager];
    const WHAT: &'static str = "the funnel";

    /// The name, also the `group_by` value funnel.sql reads.
    fn name(self) -> &'static str {
        match self {
            FunnelGroup::All => "all",
            FunnelGroup::Channel => "channel",
            FunnelGroup::Manager => "manager",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqlFile;

    #[test]
    fn the_sql_credits_exactly_the_registered_models() {
        let sql = SqlFile::Attribution.text();
        let mut in_sql: Vec<&str> = sql
            .match_indices("' AS model")
            .map(|(end, _)| {
                let start = sql[..end].rfind('\'').expect("a quoted name") + 1;
                &sql[start..end]
            })
            .collect();
        in_sql.sort_unstable();
        let mut registered = MODELS.map(|m| m.name);
        registered.sort_unstable();
        assert_eq!(in_sql, registered);
        assert!(model(DEFAULT_MODEL).is_ok());
    }

    #[test]
    fn groupings_take_either_spelling_and_name_the_choices() {
        assert_eq!(KpiGroup::parse("source-medium"), Ok(KpiGroup::SourceMedium));
        assert_eq!(KpiGroup::parse("source_medium"), Ok(KpiGroup::SourceMedium));
        assert_eq!(KpiGroup::parse("Ad-Group"), Ok(KpiGroup::AdGroup));
        assert_eq!(FunnelGroup::parse("manager"), Ok(FunnelGroup::Manager));
        let e = KpiGroup::parse("week").unwrap_err();
        assert!(
            e.contains("channel, source_medium, campaign, ad_group, platform"),
            "{e}"
        );
        for group in KpiGroup::ALL {
            assert_eq!(KpiGroup::parse(group.name()), Ok(*group));
        }
        let e = model("markov").unwrap_err().to_string();
        assert!(e.contains(&model_names()), "{e}");
    }
}
