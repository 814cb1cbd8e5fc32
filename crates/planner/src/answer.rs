//! The plan as the rows a person or a BI tool reads (docs/PLANNER.md, "Columns"), and the
//! caveats that go with them.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Decimal128Array, Float64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use throughline_model::field::date_string;

use crate::plan::{DATA_CAP, Plan};

/// The columns of the plan's CSV and JSON (a public interface).
pub const PLAN_COLUMNS: [&str; 12] = [
    "channel",
    "current_spend",
    "proposed_spend",
    "change",
    "margin_current",
    "margin_proposed",
    "mroi_current",
    "mroi_proposed",
    "roi_average",
    "r2",
    "held",
    "reason",
];

impl Plan {
    /// One row per channel, then `(total)`. Money as decimals to the cent; ROIs and R² to
    /// 4 places.
    pub fn to_batch(&self) -> Result<RecordBatch, ArrowError> {
        let cents = |value: f64| (value * 100.0).round() as i128;
        let places = |value: Option<f64>| value.map(|v| (v * 1e4).round() / 1e4);
        let mut channel = Vec::new();
        let mut money: [Vec<i128>; 5] = Default::default();
        let mut ratios: [Vec<Option<f64>>; 4] = Default::default();
        let mut held = Vec::new();
        let mut reason = Vec::new();
        let mut push = |name: &str,
                        spends: [f64; 5],
                        fractions: [Option<f64>; 4],
                        is_held: Option<bool>,
                        why: String| {
            channel.push(name.to_owned());
            for (column, value) in money.iter_mut().zip(spends) {
                column.push(cents(value));
            }
            for (column, value) in ratios.iter_mut().zip(fractions) {
                column.push(places(value));
            }
            held.push(is_held);
            reason.push(why);
        };
        for row in &self.channels {
            push(
                &row.channel,
                [
                    row.current_spend,
                    row.proposed_spend,
                    row.proposed_spend - row.current_spend,
                    row.margin_current,
                    row.margin_proposed,
                ],
                [row.mroi_current, row.mroi_proposed, row.roi_average, row.r2],
                Some(row.held),
                row.reason.clone(),
            );
        }
        let total = self.totals();
        let current = total.current_spend;
        push(
            "(total)",
            [
                current,
                total.proposed_spend,
                total.proposed_spend - current,
                total.margin_current,
                total.margin_proposed,
            ],
            [
                None,
                None,
                (current > 0.0).then(|| (total.margin_attributed - current) / current),
                None,
            ],
            None,
            self.uplift_text(),
        );
        let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(channel))];
        for column in money {
            columns.push(Arc::new(
                Decimal128Array::from(column).with_precision_and_scale(18, 2)?,
            ));
        }
        columns.extend(
            ratios
                .into_iter()
                .map(|c| Arc::new(Float64Array::from(c)) as ArrayRef),
        );
        columns.push(Arc::new(BooleanArray::from(held)));
        columns.push(Arc::new(StringArray::from(reason)));
        let fields: Vec<Field> = PLAN_COLUMNS
            .iter()
            .map(|name| match *name {
                "channel" | "reason" => Field::new(*name, DataType::Utf8, false),
                "held" => Field::new(*name, DataType::Boolean, true),
                "mroi_current" | "mroi_proposed" | "roi_average" | "r2" => {
                    Field::new(*name, DataType::Float64, true)
                }
                _ => Field::new(*name, DataType::Decimal128(18, 2), true),
            })
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
    }

    /// `predicted uplift …`, the total row's reason.
    pub fn uplift_text(&self) -> String {
        let mut text = format!("predicted uplift {:+.2}", self.uplift);
        if let Some((low, high)) = self.uplift_range {
            text.push_str(&format!(
                " (90% range {low:+.2} to {high:+.2} from {} refits on resampled weeks)",
                self.resamples
            ));
        }
        text
    }

    /// What a reader must know to read the plan right, one sentence each (the CLI prints
    /// them under the table; HTTP sends them as headers; the HTML page shows them).
    pub fn caveats(&self) -> Vec<String> {
        let mut caveats = Vec::new();
        let currency = self.currency.as_deref().unwrap_or("the series' currency");
        caveats.push(format!(
            "money in {currency} for a period of {} days; curves fitted per {} on {} to {}; \
             predictions assume each channel's spend is spread evenly over the period",
            self.period_days,
            self.grain.name(),
            date_string(self.data_from),
            date_string(self.data_to),
        ));
        match &self.model {
            Some(model) => {
                caveats.push(format!(
                    "attribution is not incrementality: the curves follow the margin the {model} \
                     model credits to each channel, not the margin each channel caused; \
                     a test that holds spend back (a geo or holdout experiment) is what shows the latter"
                ));
                caveats.push(
                    "the latest days' margin is what has been won so far: deals still open will \
                     add to it, so recent spend looks less profitable than it will turn out"
                        .to_owned(),
                );
            }
            None => caveats.push(
                "the curves follow the margin of the series given (--input): they are as \
                 causal as whatever produced it"
                    .to_owned(),
            ),
        }
        for other in &self.alternatives {
            caveats.push(match &other.proposal {
                Ok(split) => format!(
                    "under the {} model the proposal would be: {}",
                    other.model,
                    split
                        .iter()
                        .map(|(channel, spend)| {
                            let now = self
                                .channels
                                .iter()
                                .find(|c| &c.channel == channel)
                                .map_or(0.0, |c| c.current_spend);
                            format!("{channel} {spend:.2} ({})", percent_change(now, *spend))
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Err(reason) => {
                    format!("under the {} model there is no plan: {reason}", other.model)
                }
            });
        }
        caveats.push(self.uplift_text());
        if !self.exact {
            caveats.push(
                "an S-shaped curve (spend that only starts to work past a threshold) decided \
                 part of the split: it is the better of two step-by-step fills, close to the \
                 best but not proven to be it"
                    .to_owned(),
            );
        }
        if self
            .channels
            .iter()
            .any(|c| c.upper < c.current_spend * 1.3 - 0.01 && !c.held)
        {
            caveats.push(format!(
                "no channel is proposed past {DATA_CAP} times the highest spend it was ever seen at: \
                 the curve is unknown beyond the data"
            ));
        }
        if self.costs_without_rate > 0 || self.conversions_without_rate > 0.0 {
            caveats.push(format!(
                "{} ad-cost rows and {:.2} conversions had no exchange rate for their day and \
                 are left out of the series: import fx_rates for those days",
                self.costs_without_rate, self.conversions_without_rate
            ));
        }
        caveats
    }
}

/// `+12%`, `-30%`, `new` (from nothing).
pub(crate) fn percent_change(from: f64, to: f64) -> String {
    if from <= 0.0 {
        return if to > 0.0 { "new".into() } else { "+0%".into() };
    }
    format!("{:+.0}%", (to / from - 1.0) * 100.0)
}
