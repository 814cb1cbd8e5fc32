//! The plan: a curve per channel from its series, the split of the budget under bounds,
//! each channel's marginal ROI before and after, and the uplift with a range from
//! refitting the curves on resampled weeks. docs/PLANNER.md defines every column.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use throughline_model::field::parse_date;

use crate::Error;
use crate::allocate::{Allocatable, Infeasible, allocate};
use crate::curve::{Curve, fit, refit};
use crate::series::{ChannelDays, Series};

/// The planned period when none is given, in days.
pub const DEFAULT_PERIOD_DAYS: usize = 28;

/// No proposal goes past this multiple of the highest spend per step ever seen: the
/// curve is not known beyond the data.
pub const DATA_CAP: f64 = 1.3;

/// What the curves are fitted on: each day, or each week (7 days ending on the data's
/// last day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Grain {
    #[default]
    Day,
    Week,
}

impl Grain {
    pub fn days(self) -> usize {
        match self {
            Grain::Day => 1,
            Grain::Week => 7,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Grain::Day => "day",
            Grain::Week => "week",
        }
    }

    pub fn parse(text: &str) -> Result<Grain, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "day" => Ok(Grain::Day),
            "week" => Ok(Grain::Week),
            other => Err(format!("grain {other:?}: use day or week")),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlanRequest {
    /// Money to split over the planned period, in the series' currency.
    pub budget: f64,
    pub period_days: usize,
    pub grain: Grain,
    /// Each channel between these multiples of its current spend.
    pub bounds: (f64, f64),
    /// Per channel, a lower or upper bound on the period's spend in place of the multiple.
    pub min_spend: BTreeMap<String, f64>,
    pub max_spend: BTreeMap<String, f64>,
    /// Fewer weeks with spend than this: held at current spend.
    pub min_weeks: usize,
    /// Spend per step varying less than this (coefficient of variation): held.
    pub min_variation: f64,
    /// A fit below this R² is flagged.
    pub poor_fit_r2: f64,
    /// Bootstrap refits for the uplift's range (0: no range).
    pub resamples: usize,
    pub seed: u64,
}

impl Default for PlanRequest {
    fn default() -> Self {
        Self {
            budget: 0.0,
            period_days: DEFAULT_PERIOD_DAYS,
            grain: Grain::Day,
            bounds: (0.7, 1.3),
            min_spend: BTreeMap::new(),
            max_spend: BTreeMap::new(),
            min_weeks: 8,
            min_variation: 0.10,
            poor_fit_r2: 0.3,
            resamples: 100,
            seed: 1,
        }
    }
}

impl PlanRequest {
    /// `2026-12-01..2026-12-31` (inclusive) or a number of days: the period's length.
    pub fn parse_period(text: &str) -> Result<usize, String> {
        let text = text.trim();
        if let Ok(days) = text.parse::<usize>() {
            return (days > 0)
                .then_some(days)
                .ok_or_else(|| "period: give at least 1 day".to_owned());
        }
        let usage = || {
            format!(
                "period {text:?}: give FROM..TO (e.g. 2026-12-01..2026-12-31) or a number of days"
            )
        };
        let (from, to) = text.split_once("..").ok_or_else(usage)?;
        let from = parse_date("period", from.trim()).map_err(|_| usage())?;
        let to = parse_date("period", to.trim()).map_err(|_| usage())?;
        if to < from {
            return Err(format!("period {text:?}: its end is before its start"));
        }
        Ok((to - from + 1) as usize)
    }

    /// `0.7..1.3`: the multiples of current spend each channel stays between.
    pub fn parse_bounds(text: &str) -> Result<(f64, f64), String> {
        let usage =
            || format!("bounds {text:?}: give LOW..HIGH multiples of current spend, e.g. 0.7..1.3");
        let (lo, hi) = text.split_once("..").ok_or_else(usage)?;
        let lo = lo.trim().parse::<f64>().map_err(|_| usage())?;
        let hi = hi.trim().parse::<f64>().map_err(|_| usage())?;
        Ok((lo, hi))
    }

    /// `NAME=AMOUNT` (split at the last `=`: names may hold one).
    pub fn parse_channel_amount(text: &str) -> Result<(String, f64), String> {
        let usage = || format!("{text:?}: give CHANNEL=AMOUNT, e.g. \"Paid Search=12000\"");
        let (name, amount) = text.rsplit_once('=').ok_or_else(usage)?;
        let amount = amount.trim().parse::<f64>().map_err(|_| usage())?;
        Ok((name.trim().to_owned(), amount))
    }

    fn check(&self) -> Result<(), Error> {
        let bad = |reason: String| Err(Error::Request(reason));
        if !(self.budget.is_finite() && self.budget > 0.0) {
            return bad(format!("budget {}: give a positive amount", self.budget));
        }
        if self.period_days < self.grain.days() {
            return bad(format!(
                "period of {} days: at least one {} is needed",
                self.period_days,
                self.grain.name()
            ));
        }
        let (lo, hi) = self.bounds;
        if !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo <= hi) {
            return bad(format!(
                "bounds {lo}..{hi}: give two multiples of current spend, low first (e.g. 0.7..1.3)"
            ));
        }
        for (name, amount) in self.min_spend.iter().chain(&self.max_spend) {
            if !(amount.is_finite() && *amount >= 0.0) {
                return bad(format!("{name}={amount}: give an amount of 0 or more"));
            }
        }
        Ok(())
    }
}

/// One channel's line of the plan. Money is for the whole period.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelPlan {
    pub channel: String,
    pub current_spend: f64,
    pub proposed_spend: f64,
    /// Predicted by the curve at current and proposed spend; for a held channel, the
    /// margin attributed in the current stretch, unchanged.
    pub margin_current: f64,
    pub margin_proposed: f64,
    /// Margin the next unit of spend brings, minus that unit (0: break-even).
    pub mroi_current: Option<f64>,
    pub mroi_proposed: Option<f64>,
    /// The margin attributed to the channel over the current stretch, from the data.
    pub margin_attributed: f64,
    /// (Attributed margin − spend) / spend over the current stretch.
    pub roi_average: Option<f64>,
    pub r2: Option<f64>,
    pub held: bool,
    pub reason: String,
    /// For the picture: the curve, the bounds and each week's spend and margin scaled
    /// to the period.
    pub curve: Curve,
    pub steps: f64,
    pub lower: f64,
    pub upper: f64,
    pub weeks: Vec<(f64, f64)>,
}

/// How the proposal changes when the curves follow another model's margin.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    pub model: String,
    /// Each channel's proposed spend, or why that model gives no plan.
    pub proposal: Result<Vec<(String, f64)>, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub channels: Vec<ChannelPlan>,
    pub budget: f64,
    pub period_days: usize,
    pub grain: Grain,
    /// The days the curves were fitted on (days since 1970-01-01).
    pub data_from: i32,
    pub data_to: i32,
    pub uplift: f64,
    /// 5th and 95th percentile of the uplift over the bootstrap refits.
    pub uplift_range: Option<(f64, f64)>,
    pub resamples: usize,
    /// False when an S-shaped curve made the split a close step-by-step answer.
    pub exact: bool,
    /// The attribution model the margin follows (None: the user's own series).
    pub model: Option<String>,
    pub currency: Option<String>,
    pub alternatives: Vec<Alternative>,
    pub costs_without_rate: i64,
    pub conversions_without_rate: f64,
}

/// Sums over the channels, for the `(total)` row and the page's footer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Totals {
    pub current_spend: f64,
    pub proposed_spend: f64,
    pub margin_current: f64,
    pub margin_proposed: f64,
    pub margin_attributed: f64,
}

impl Plan {
    pub fn totals(&self) -> Totals {
        let sum = |f: fn(&ChannelPlan) -> f64| -> f64 { self.channels.iter().map(f).sum() };
        Totals {
            current_spend: sum(|r| r.current_spend),
            proposed_spend: sum(|r| r.proposed_spend),
            margin_current: sum(|r| r.margin_current),
            margin_proposed: sum(|r| r.margin_proposed),
            margin_attributed: sum(|r| r.margin_attributed),
        }
    }
}

/// A free channel: planned within its bounds.
struct Free {
    row: usize,
    spend_steps: Vec<f64>,
    margin_steps: Vec<f64>,
    channel: Allocatable,
}

/// Plans `request.budget` over the channels of `series` with spend, on the days from the
/// first to the last with any spend.
pub fn plan(series: &Series, request: &PlanRequest) -> Result<Plan, Error> {
    request.check()?;
    let series = &series.spend_days();
    let spenders: Vec<&ChannelDays> = series
        .channels
        .iter()
        .filter(|c| c.spend.iter().any(|s| *s > 0.0))
        .collect();
    if spenders.is_empty() {
        return Err(Error::NoSpend);
    }
    let days = series.days();
    if days < request.period_days {
        return Err(Error::Request(format!(
            "the data covers {days} days, fewer than the planned period of {}: plan a shorter period",
            request.period_days
        )));
    }
    for name in request.min_spend.keys().chain(request.max_spend.keys()) {
        if !spenders.iter().any(|c| &c.channel == name) {
            let names: Vec<&str> = spenders.iter().map(|c| c.channel.as_str()).collect();
            return Err(Error::Request(format!(
                "no channel with spend is named {name:?}: the channels are {}",
                names.join(", ")
            )));
        }
    }
    let period = request.period_days;
    let steps = period as f64 / request.grain.days() as f64;
    let stepped: Vec<(Vec<f64>, Vec<f64>)> = spenders
        .iter()
        .map(|c| {
            (
                by_grain(&c.spend, request.grain),
                by_grain(&c.margin, request.grain),
            )
        })
        .collect();
    // The fits are the work: one channel per core at a time.
    let curves = parallel_map(&stepped, |(spend, margin)| {
        fit(spend, margin, &vec![1.0; spend.len()])
    });
    let mut rows = Vec::new();
    let mut free = Vec::new();
    for ((channel, curve), (spend_steps, margin_steps)) in
        spenders.into_iter().zip(curves).zip(stepped)
    {
        let recent = days - period..days;
        let current: f64 = channel.spend[recent.clone()].iter().sum();
        let attributed: f64 = channel.margin[recent].iter().sum();
        let highest = spend_steps.iter().copied().fold(0.0, f64::max) * steps;
        let weeks = by_grain(&channel.spend, Grain::Week)
            .iter()
            .zip(by_grain(&channel.margin, Grain::Week))
            .map(|(s, m)| (s * period as f64 / 7.0, m * period as f64 / 7.0))
            .collect::<Vec<_>>();
        let weeks_with_spend = weeks.iter().filter(|(s, _)| *s > 0.0).count();
        let variation = variation(&spend_steps);
        let held = if current <= 0.0 {
            Some(format!(
                "held: no spend in the last {period} days, so nothing to scale"
            ))
        } else if weeks_with_spend < request.min_weeks {
            Some(format!(
                "held: spend in only {weeks_with_spend} weeks (fewer than {}), too little data for a curve",
                request.min_weeks
            ))
        } else if variation < request.min_variation {
            Some(format!(
                "held: spend hardly varied (coefficient of variation {:.0}%, under {:.0}%), so the data cannot show how margin responds to it",
                variation * 100.0,
                request.min_variation * 100.0
            ))
        } else {
            None
        };
        let mut row = ChannelPlan {
            channel: channel.channel.clone(),
            current_spend: current,
            proposed_spend: current,
            margin_current: attributed,
            margin_proposed: attributed,
            mroi_current: None,
            mroi_proposed: None,
            margin_attributed: attributed,
            roi_average: (current > 0.0).then(|| (attributed - current) / current),
            r2: Some(curve.r2),
            held: held.is_some(),
            reason: held.unwrap_or_default(),
            curve,
            steps,
            lower: current,
            upper: current,
            weeks,
        };
        if !row.held {
            let (lo, hi) = request.bounds;
            let name = &channel.channel;
            let lower = request.min_spend.get(name).copied().unwrap_or(lo * current);
            let cap = DATA_CAP * highest;
            let upper = request
                .max_spend
                .get(name)
                .copied()
                .unwrap_or(hi * current)
                .min(cap);
            if lower > upper {
                return Err(Error::Request(format!(
                    "{name}: its lower bound {lower:.2} is above its upper bound {upper:.2} \
                     (never more than {DATA_CAP} times the highest spend seen, {cap:.2} for the period): \
                     lower --min or the first of --bounds"
                )));
            }
            row.lower = lower;
            row.upper = upper;
            free.push(Free {
                row: rows.len(),
                spend_steps,
                margin_steps,
                channel: Allocatable {
                    curve,
                    steps,
                    lower,
                    upper,
                },
            });
        }
        rows.push(row);
    }
    let held_spend: f64 = rows
        .iter()
        .filter(|r| r.held)
        .map(|r| r.current_spend)
        .sum();
    let to_split = request.budget - held_spend;
    if free.is_empty() && to_split.abs() >= 0.005 {
        let reasons: Vec<String> = rows
            .iter()
            .map(|r| format!("{} ({})", r.channel, r.reason))
            .collect();
        return Err(Error::Request(format!(
            "every channel with spend keeps its current spend, {held_spend:.2} in all, so no other \
             budget can be split: {}",
            reasons.join("; ")
        )));
    }
    let channels: Vec<Allocatable> = free.iter().map(|f| f.channel).collect();
    let allocation = allocate(&channels, to_split.max(0.0)).map_err(|e| {
        let (what, limit) = match e {
            Infeasible::BelowLower { lower } => ("below the least", lower + held_spend),
            Infeasible::AboveUpper { upper } => ("above the most", upper + held_spend),
        };
        Error::Request(format!(
            "the budget {:.2} is {what} the bounds allow, {limit:.2} (held channels at current \
             spend: {held_spend:.2}): change the budget, --bounds, --min or --max",
            request.budget
        ))
    })?;
    let proposed = to_cents(&allocation.spend, to_split);
    for (f, spend) in free.iter().zip(&proposed) {
        let row = &mut rows[f.row];
        let c = &f.channel;
        row.proposed_spend = *spend;
        row.margin_current = c.margin(row.current_spend);
        row.margin_proposed = c.margin(*spend);
        row.mroi_current = Some(c.marginal(row.current_spend) - 1.0);
        row.mroi_proposed = Some(c.marginal(*spend) - 1.0);
        row.reason = notes(row, request);
    }
    let uplift = rows
        .iter()
        .map(|r| r.margin_proposed - r.margin_current)
        .sum();
    let uplift_range = uplift_range(&free, &proposed, &rows, request);
    Ok(Plan {
        channels: rows,
        budget: request.budget,
        period_days: period,
        grain: request.grain,
        data_from: series.first,
        data_to: series.last,
        uplift,
        uplift_range,
        resamples: request.resamples,
        exact: allocation.exact,
        model: None,
        currency: series.currency.clone(),
        alternatives: Vec::new(),
        costs_without_rate: series.costs_without_rate,
        conversions_without_rate: series.conversions_without_rate,
    })
}

/// Days summed per step: each day, or each 7 days counted back from the last day (an
/// incomplete first week is left out).
fn by_grain(days: &[f64], grain: Grain) -> Vec<f64> {
    let n = grain.days();
    let mut steps: Vec<f64> = days
        .rchunks(n)
        .filter(|c| c.len() == n)
        .map(|c| c.iter().sum())
        .collect();
    steps.reverse();
    steps
}

/// Standard deviation / mean of spend per step, from the first step with spend.
fn variation(spend: &[f64]) -> f64 {
    let Some(start) = spend.iter().position(|s| *s > 0.0) else {
        return 0.0;
    };
    let spend = &spend[start..];
    let n = spend.len() as f64;
    let mean = spend.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return 0.0;
    }
    let var = spend.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / n;
    var.sqrt() / mean
}

/// Rounds each spend to a cent, keeping their sum at `total` rounded: the cents rounding
/// gained or lost go to the largest spend.
fn to_cents(spend: &[f64], total: f64) -> Vec<f64> {
    let mut cents: Vec<i64> = spend.iter().map(|s| (s * 100.0).round() as i64).collect();
    let target = (total * 100.0).round() as i64;
    let diff = target - cents.iter().sum::<i64>();
    if let Some(largest) = (0..cents.len()).max_by_key(|i| cents[*i]) {
        cents[largest] += diff;
    }
    cents.iter().map(|c| *c as f64 / 100.0).collect()
}

/// What a reader of a planned channel's line must know: a bound that decided its spend,
/// a poor fit.
fn notes(row: &ChannelPlan, request: &PlanRequest) -> String {
    let curve = &row.curve;
    let mut notes = Vec::new();
    let at = |bound: f64| (row.proposed_spend - bound).abs() <= 0.01;
    if at(row.upper) && row.upper < row.current_spend * request.bounds.1 - 0.01 {
        if request.max_spend.contains_key(&row.channel) {
            notes.push("at its --max".to_owned());
        } else {
            notes.push(format!(
                "at {DATA_CAP} times the highest spend seen (the curve is unknown beyond)"
            ));
        }
    } else if at(row.upper) {
        notes.push(format!(
            "at its upper bound ({} times current)",
            request.bounds.1
        ));
    } else if at(row.lower) {
        if request.min_spend.contains_key(&row.channel) {
            notes.push("at its --min".to_owned());
        } else {
            notes.push(format!(
                "at its lower bound ({} times current)",
                request.bounds.0
            ));
        }
    }
    if curve.beta == 0.0 {
        notes.push("margin did not rise with spend in the data".to_owned());
    }
    if curve.r2 < request.poor_fit_r2 {
        notes.push(format!(
            "poor fit (R² {:.2}, under {}): the curve explains little of the margin's ups and downs",
            curve.r2, request.poor_fit_r2
        ));
    }
    notes.join("; ")
}

/// The uplift of the same proposal under curves refitted on resampled weeks (drawn with
/// replacement, the same weeks for every channel): its 5th and 95th percentiles.
fn uplift_range(
    free: &[Free],
    proposed: &[f64],
    rows: &[ChannelPlan],
    request: &PlanRequest,
) -> Option<(f64, f64)> {
    let steps = free.first()?.spend_steps.len();
    if request.resamples == 0 || steps == 0 {
        return None;
    }
    let block = 7 / request.grain.days();
    let blocks = steps.div_ceil(block);
    let mut rng = StdRng::seed_from_u64(request.seed);
    // Drawn before any refit, in order: the same seed gives the same range on any
    // number of threads.
    let draws: Vec<Vec<f64>> = (0..request.resamples)
        .map(|_| {
            let mut weights = vec![0.0; steps];
            for _ in 0..blocks {
                let b = rng.random_range(0..blocks);
                for w in &mut weights[b * block..((b + 1) * block).min(steps)] {
                    *w += 1.0;
                }
            }
            weights
        })
        .collect();
    let uplift_of = |weights: &Vec<f64>| -> f64 {
        free.iter()
            .zip(proposed)
            .map(|(f, spend)| {
                let curve = refit(&f.channel.curve, &f.spend_steps, &f.margin_steps, weights);
                let channel = Allocatable { curve, ..f.channel };
                channel.margin(*spend) - channel.margin(rows[f.row].current_spend)
            })
            .sum()
    };
    let mut uplifts = parallel_map(&draws, uplift_of);
    uplifts.sort_by(f64::total_cmp);
    let at = |q: f64| uplifts[((uplifts.len() - 1) as f64 * q).round() as usize];
    Some((at(0.05), at(0.95)))
}

/// `f` over `items` on every core, in order.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|inputs| scope.spawn(move || inputs.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a planner thread panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curve::adstock;
    use crate::series::DayRow;

    #[test]
    fn periods_bounds_and_overrides_parse_or_say_how() {
        assert_eq!(PlanRequest::parse_period("2026-12-01..2026-12-31"), Ok(31));
        assert_eq!(PlanRequest::parse_period("28"), Ok(28));
        assert!(
            PlanRequest::parse_period("2026-12-31..2026-12-01")
                .unwrap_err()
                .contains("before")
        );
        assert!(
            PlanRequest::parse_period("december")
                .unwrap_err()
                .contains("FROM..TO")
        );
        assert_eq!(PlanRequest::parse_bounds("0.5..1.5"), Ok((0.5, 1.5)));
        assert!(
            PlanRequest::parse_bounds("1.3")
                .unwrap_err()
                .contains("LOW..HIGH")
        );
        assert_eq!(
            PlanRequest::parse_channel_amount("Paid Search = 1200.5"),
            Ok(("Paid Search".to_owned(), 1200.5))
        );
        assert!(
            PlanRequest::parse_channel_amount("Paid Search")
                .unwrap_err()
                .contains("CHANNEL=AMOUNT")
        );
    }

    #[test]
    fn weeks_are_counted_back_from_the_last_day() {
        let days: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(
            by_grain(&days, Grain::Week),
            vec![4.0 + 5.0 + 6.0 + 7.0 + 8.0 + 9.0 + 10.0]
        );
        assert_eq!(by_grain(&days, Grain::Day), days);
        assert_eq!(to_cents(&[1.004, 2.004, 3.004], 6.01), vec![1.0, 2.0, 3.01]);
        assert!((variation(&[0.0, 10.0, 10.0]) - 0.0).abs() < 1e-12);
    }

    fn series_of(channels: &[(&str, Vec<f64>, Vec<f64>)]) -> Series {
        Series::from_rows(channels.iter().flat_map(|(name, spend, margin)| {
            spend
                .iter()
                .zip(margin)
                .enumerate()
                .map(|(d, (s, m))| DayRow {
                    date: 20_000 + d as i32,
                    channel: (*name).to_owned(),
                    spend: *s,
                    margin: *m,
                })
        }))
    }

    /// Spend that swings between 40 and 160 a day.
    fn wave(days: usize) -> Vec<f64> {
        (0..days)
            .map(|d| 100.0 + 60.0 * (d as f64 * 0.3).sin())
            .collect()
    }

    /// A channel at one spend level, one with four weeks of data and one that never spent
    /// lately are held with their reasons, and keep their spend; the budget's rest goes to
    /// the planned channel.
    #[test]
    fn channels_the_data_cannot_judge_are_held_and_say_why() {
        let days = 84;
        let wave = wave(days);
        let margin: Vec<f64> = adstock(&wave, 0.2)
            .iter()
            .map(|a| 3.0 * a / (a + 150.0) * 100.0)
            .collect();
        let flat = vec![50.0; days];
        let late: Vec<f64> = (0..days)
            .map(|d| {
                if d >= days - 28 {
                    40.0 + (d % 3) as f64 * 20.0
                } else {
                    0.0
                }
            })
            .collect();
        let gone: Vec<f64> = (0..days)
            .map(|d| {
                if d < 40 {
                    30.0 + (d % 5) as f64 * 10.0
                } else {
                    0.0
                }
            })
            .collect();
        let series = series_of(&[
            ("Search", wave.clone(), margin),
            ("Flat", flat.clone(), vec![20.0; days]),
            ("Late", late.clone(), vec![10.0; days]),
            ("Gone", gone, vec![0.0; days]),
        ]);
        let current: f64 = wave[days - 28..].iter().sum();
        let request = PlanRequest {
            budget: current + 50.0 * 28.0 + late[days - 28..].iter().sum::<f64>(),
            ..PlanRequest::default()
        };
        let plan = plan(&series, &request).unwrap();
        let row = |name: &str| plan.channels.iter().find(|r| r.channel == name).unwrap();
        assert!(
            row("Flat").held && row("Flat").reason.contains("hardly varied"),
            "{:?}",
            row("Flat")
        );
        assert!(
            row("Late").held && row("Late").reason.contains("only 4 weeks"),
            "{:?}",
            row("Late")
        );
        assert!(row("Gone").held && row("Gone").reason.contains("no spend in the last 28 days"));
        assert_eq!(row("Flat").proposed_spend, 50.0 * 28.0);
        assert!(!row("Search").held);
        assert!((row("Search").proposed_spend - current).abs() < 0.011);
        let total: f64 = plan.channels.iter().map(|r| r.proposed_spend).sum();
        assert!((total - request.budget).abs() < 0.005);
    }

    #[test]
    fn a_budget_the_bounds_cannot_meet_is_refused_with_what_they_allow() {
        let days = 84;
        let wave = wave(days);
        let margin: Vec<f64> = wave.iter().map(|s| s * 2.0).collect();
        let series = series_of(&[("Search", wave.clone(), margin)]);
        let current: f64 = wave[days - 28..].iter().sum();
        let e = plan(
            &series,
            &PlanRequest {
                budget: current * 0.5,
                ..PlanRequest::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("below the least the bounds allow"), "{e}");
        let e = plan(
            &series,
            &PlanRequest {
                budget: current * 1.1,
                min_weeks: 20,
                ..PlanRequest::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("every channel with spend keeps its current spend")
                && e.contains("Search (held: spend in only 12 weeks (fewer than 20)"),
            "{e}"
        );
        let e = plan(
            &series,
            &PlanRequest {
                budget: current,
                max_spend: BTreeMap::from([("Social".to_owned(), 10.0)]),
                ..PlanRequest::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("no channel with spend is named \"Social\": the channels are Search"),
            "{e}"
        );
    }
}
