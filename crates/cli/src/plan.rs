//! `throughline plan`: the budget planner's wiring (the planner is throughline-planner).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::ValueEnum;
use throughline_engine::KpiGroup;
use throughline_planner::{Grain, LakePlan, Plan, PlanRequest, Series};

use crate::output::{self, Format};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Table,
    Csv,
    Json,
    /// A self-contained page with each channel's curve (no external requests).
    Html,
}

#[derive(clap::Args)]
pub struct PlanArgs {
    /// Money to split over the period, in the reporting currency.
    #[arg(long)]
    budget: f64,
    /// The planned period, FROM..TO (e.g. 2026-12-01..2026-12-31), or a number of days.
    /// Its length is also the stretch "current spend" is measured over [default: 28 days].
    #[arg(long)]
    period: Option<String>,
    /// The attribution model whose margin the curves follow (docs/MODELS.md).
    #[arg(long, default_value = throughline_engine::DEFAULT_MODEL)]
    model: String,
    /// channel or campaign.
    #[arg(long, default_value = "channel", value_parser = LakePlan::group_by)]
    group_by: KpiGroup,
    /// Each channel stays between these multiples of its current spend.
    #[arg(long, default_value = "0.7..1.3")]
    bounds: String,
    /// A channel's least spend for the period, in place of the lower bound: NAME=AMOUNT
    /// (repeat for several).
    #[arg(long, value_name = "NAME=AMOUNT")]
    min: Vec<String>,
    /// A channel's most spend for the period, in place of the upper bound.
    #[arg(long, value_name = "NAME=AMOUNT")]
    max: Vec<String>,
    /// Reporting currency (ISO 4217); by default as for `kpi`.
    #[arg(long)]
    currency: Option<String>,
    /// Plan from this CSV (date,channel,spend,margin or revenue) instead of the lake:
    /// your own attribution or media-mix output.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Fit the curves per day or per week.
    #[arg(long, default_value = "day", value_parser = Grain::parse)]
    grain: Grain,
    /// A channel with spend in fewer weeks than this keeps its current spend.
    #[arg(long, default_value_t = PlanRequest::default().min_weeks)]
    min_weeks: usize,
    /// Bootstrap refits for the uplift's range (0 for none).
    #[arg(long, default_value_t = PlanRequest::default().resamples)]
    bootstrap: usize,
    #[arg(long, value_enum, default_value_t = PlanFormat::Table)]
    format: PlanFormat,
    /// Write the answer to this file instead of standard output (e.g. the HTML page).
    #[arg(long)]
    out: Option<PathBuf>,
}

impl PlanArgs {
    pub fn input(&self) -> Option<&PathBuf> {
        self.input.as_ref()
    }

    pub fn request(&self) -> Result<PlanRequest> {
        let amounts = |texts: &[String]| -> Result<_> {
            texts
                .iter()
                .map(|t| PlanRequest::parse_channel_amount(t).map_err(anyhow::Error::msg))
                .collect::<Result<_>>()
        };
        Ok(PlanRequest {
            budget: self.budget,
            period_days: match &self.period {
                Some(text) => PlanRequest::parse_period(text).map_err(anyhow::Error::msg)?,
                None => PlanRequest::default().period_days,
            },
            grain: self.grain,
            bounds: PlanRequest::parse_bounds(&self.bounds).map_err(anyhow::Error::msg)?,
            min_spend: amounts(&self.min)?,
            max_spend: amounts(&self.max)?,
            resamples: self.bootstrap,
            min_weeks: self.min_weeks,
            ..PlanRequest::default()
        })
    }

    pub fn lake_plan(&self) -> LakePlan {
        LakePlan {
            model: self.model.clone(),
            group_by: self.group_by,
            currency: self.currency.clone(),
        }
    }

    /// The plan from `--input`.
    pub fn plan_from_file(&self, file: &std::path::Path) -> Result<Plan> {
        let series = Series::read_csv(file)?;
        let mut plan = throughline_planner::plan(&series, &self.request()?)?;
        plan.currency = self.currency.clone();
        Ok(plan)
    }

    /// Prints (or writes to `--out`) the plan and its caveats.
    pub fn print(&self, plan: &Plan, title: &str) -> Result<()> {
        let format = match self.format {
            PlanFormat::Html => {
                let page = throughline_planner::render_html(plan, title);
                return match &self.out {
                    Some(path) => {
                        std::fs::write(path, page)
                            .with_context(|| format!("cannot write {}", path.display()))?;
                        eprintln!("plan written to {}", path.display());
                        Ok(())
                    }
                    None => {
                        print!("{page}");
                        Ok(())
                    }
                };
            }
            PlanFormat::Table => Format::Table,
            PlanFormat::Csv => Format::Csv,
            PlanFormat::Json => Format::Json,
        };
        let batch = plan.to_batch()?;
        match &self.out {
            Some(path) => output::write_to(path, &[batch], format)?,
            None => output::print(&[batch], format)?,
        }
        output::print_caveats(&plan.caveats(), format);
        Ok(())
    }
}
