//! The split of a budget that maximises total predicted margin, each channel between its
//! bounds. With a price λ on each unit of spend, every channel's best spend is where its
//! marginal margin falls to λ (or a bound); the total of those is non-increasing in λ, so
//! bisection on λ finds the split that spends the budget. For curves concave within their
//! bounds this is the exact optimum (the Karush–Kuhn–Tucker conditions); an S-shaped
//! curve can jump past the budget at one λ; the split is then the better of filling up
//! the split just under the budget and trimming the one just over it, by small steps of
//! marginal margin ([`Allocation::exact`] is false).

use crate::curve::Curve;

/// A channel to allocate: its curve, the period's length in steps, and bounds on the
/// period's spend.
#[derive(Debug, Clone, Copy)]
pub struct Allocatable {
    pub curve: Curve,
    pub steps: f64,
    pub lower: f64,
    pub upper: f64,
}

impl Allocatable {
    /// Predicted margin over the period when `spend` is spread evenly over it.
    pub fn margin(&self, spend: f64) -> f64 {
        self.steps * self.curve.steady_margin(spend / self.steps)
    }

    /// d margin / d spend over the period (the same as per step).
    pub fn marginal(&self, spend: f64) -> f64 {
        self.curve.steady_marginal(spend / self.steps)
    }

    /// The spend in the bounds that maximises margin − λ · spend.
    fn best_at(&self, lambda: f64) -> f64 {
        let value = |s: f64| self.margin(s) - lambda * s;
        let mut best = self.lower;
        // Past the inflection the marginal margin falls: one root of marginal = λ there.
        let from = self
            .lower
            .max(self.curve.inflection_spend() * self.steps)
            .min(self.upper);
        if self.marginal(from) >= lambda && self.marginal(self.upper) <= lambda {
            let (mut lo, mut hi) = (from, self.upper);
            for _ in 0..100 {
                let mid = (lo + hi) / 2.0;
                if self.marginal(mid) > lambda {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let root = (lo + hi) / 2.0;
            if value(root) > value(best) {
                best = root;
            }
        } else if value(from) > value(best) {
            // Below λ from there on: margin − λ·spend falls past `from`.
            best = from;
        }
        if value(self.upper) > value(best) {
            best = self.upper;
        }
        best
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    /// Each channel's spend for the period, in the order given.
    pub spend: Vec<f64>,
    /// True when the split is the optimum (every curve concave where it was decided).
    pub exact: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Infeasible {
    /// The budget is below the sum of the lower bounds.
    BelowLower { lower: f64 },
    /// The budget is above the sum of the upper bounds.
    AboveUpper { upper: f64 },
}

/// Splits `budget` over `channels`. A budget outside the bounds' sums cannot be split.
pub fn allocate(channels: &[Allocatable], budget: f64) -> Result<Allocation, Infeasible> {
    let lower: f64 = channels.iter().map(|c| c.lower).sum();
    let upper: f64 = channels.iter().map(|c| c.upper).sum();
    // A cent of slack for sums of rounded bounds.
    if budget < lower - 0.005 {
        return Err(Infeasible::BelowLower { lower });
    }
    if budget > upper + 0.005 {
        return Err(Infeasible::AboveUpper { upper });
    }
    let total_at = |lambda: f64| -> f64 { channels.iter().map(|c| c.best_at(lambda)).sum() };
    let steepest = channels
        .iter()
        .flat_map(|c| {
            let knee = (c.curve.inflection_spend() * c.steps).clamp(c.lower, c.upper);
            [c.marginal(c.lower), c.marginal(knee)]
        })
        .fold(0.0, f64::max);
    let (mut lo, mut hi) = (0.0, steepest * 2.0 + 1.0);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if total_at(mid) > budget {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let under: Vec<f64> = channels.iter().map(|c| c.best_at(hi)).collect();
    let exact = (budget - under.iter().sum::<f64>()).abs() <= 1e-6 * budget.max(1.0);
    // What the price could not place (a jump of an S-shaped curve past the budget, or flat
    // curves): fill up from the split just under the budget, and trim down from the one
    // just over it, in small steps to the best (or from the worst) next marginal margin;
    // the better of the two.
    let filled = settle(channels, under, budget);
    let spend = if exact {
        filled
    } else {
        let over: Vec<f64> = channels.iter().map(|c| c.best_at(lo)).collect();
        let trimmed = settle(channels, over, budget);
        let total = |s: &[f64]| -> f64 { channels.iter().zip(s).map(|(c, s)| c.margin(*s)).sum() };
        if total(&trimmed) > total(&filled) {
            trimmed
        } else {
            filled
        }
    };
    Ok(Allocation { spend, exact })
}

const SMALL_STEPS: f64 = 200.0;

/// Moves `spend` to add up to `budget` in small steps: each step to the channel whose
/// next unit brings the most margin (up to its upper bound) when adding, from the one
/// whose last unit brings the least (down to its lower bound) when taking away.
fn settle(channels: &[Allocatable], mut spend: Vec<f64>, budget: f64) -> Vec<f64> {
    let gap = budget - spend.iter().sum::<f64>();
    let adding = gap > 0.0;
    let step = (gap.abs() / SMALL_STEPS).max(1e-9);
    let mut left = gap.abs();
    while left > 1e-9 * budget.max(1.0) {
        let room = |i: usize, spend: &[f64]| match adding {
            true => channels[i].upper - spend[i],
            false => spend[i] - channels[i].lower,
        };
        let next = (0..channels.len())
            .filter(|i| room(*i, &spend) > 0.0)
            .max_by(|a, b| {
                let by_margin = channels[*a]
                    .marginal(spend[*a])
                    .total_cmp(&channels[*b].marginal(spend[*b]));
                let by_margin = if adding {
                    by_margin
                } else {
                    by_margin.reverse()
                };
                by_margin.then(b.cmp(a))
            });
        let Some(i) = next else { break };
        let moved = left.min(step).min(room(i, &spend));
        spend[i] += if adding { moved } else { -moved };
        left -= moved;
    }
    spend
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(beta: f64, gamma: f64, alpha: f64, lower: f64, upper: f64) -> Allocatable {
        Allocatable {
            curve: Curve {
                theta: 0.0,
                alpha,
                gamma,
                beta,
                r2: 1.0,
            },
            steps: 1.0,
            lower,
            upper,
        }
    }

    /// Two channels with α = 1 (margin = β·s / (s + γ)): the optimum on paper. Marginal
    /// margin β·γ / (s + γ)² equal for both with s1 + s2 = B:
    /// √(β1·γ1) / (s1 + γ1) = √(β2·γ2) / (s2 + γ2). With β1 = 400, γ1 = 100, β2 = 100,
    /// γ2 = 100 and B = 300: 200 / (s1 + 100) = 100 / (s2 + 100), s1 + s2 = 300, so
    /// s1 + 100 = 2·(s2 + 100), s1 = 2·s2 + 100, 3·s2 + 100 = 300: s2 = 66.67, s1 = 233.33.
    #[test]
    fn two_concave_channels_meet_at_equal_marginal_margin() {
        let channels = [
            channel(400.0, 100.0, 1.0, 0.0, 1000.0),
            channel(100.0, 100.0, 1.0, 0.0, 1000.0),
        ];
        let split = allocate(&channels, 300.0).unwrap();
        assert!(split.exact);
        assert!((split.spend[0] - 700.0 / 3.0).abs() < 1e-6, "{split:?}");
        assert!((split.spend[1] - 200.0 / 3.0).abs() < 1e-6, "{split:?}");
    }

    /// The same two with the first capped at 150: it takes 150, the second the rest.
    #[test]
    fn a_binding_bound_holds_and_the_rest_goes_elsewhere() {
        let channels = [
            channel(400.0, 100.0, 1.0, 0.0, 150.0),
            channel(100.0, 100.0, 1.0, 0.0, 1000.0),
        ];
        let split = allocate(&channels, 300.0).unwrap();
        assert!((split.spend[0] - 150.0).abs() < 1e-6, "{split:?}");
        assert!((split.spend[1] - 150.0).abs() < 1e-6, "{split:?}");
        // A lower bound that binds: the weak channel must keep 120.
        let channels = [
            channel(400.0, 100.0, 1.0, 0.0, 1000.0),
            channel(100.0, 100.0, 1.0, 120.0, 1000.0),
        ];
        let split = allocate(&channels, 300.0).unwrap();
        assert!((split.spend[1] - 120.0).abs() < 1e-6, "{split:?}");
        assert!((split.spend[0] - 180.0).abs() < 1e-6, "{split:?}");
    }

    #[test]
    fn a_budget_outside_the_bounds_is_refused_with_the_sum() {
        let channels = [
            channel(400.0, 100.0, 1.0, 100.0, 200.0),
            channel(100.0, 100.0, 1.0, 50.0, 80.0),
        ];
        assert_eq!(
            allocate(&channels, 100.0),
            Err(Infeasible::BelowLower { lower: 150.0 })
        );
        assert_eq!(
            allocate(&channels, 500.0),
            Err(Infeasible::AboveUpper { upper: 280.0 })
        );
    }

    /// No split of a grid does better than the one found (concave curves of several
    /// shapes, the budget on a 1-unit grid).
    #[test]
    fn no_split_on_a_grid_beats_the_one_found() {
        let channels = [
            channel(500.0, 80.0, 0.75, 20.0, 200.0),
            channel(300.0, 60.0, 1.0, 10.0, 150.0),
            channel(900.0, 300.0, 0.5, 0.0, 250.0),
        ];
        let budget = 320.0;
        let split = allocate(&channels, budget).unwrap();
        let total = |s: &[f64]| -> f64 { channels.iter().zip(s).map(|(c, s)| c.margin(*s)).sum() };
        let found = total(&split.spend);
        assert!((split.spend.iter().sum::<f64>() - budget).abs() < 1e-6);
        for a in 20..=200 {
            for b in 10..=150 {
                let c = budget - a as f64 - b as f64;
                if (0.0..=250.0).contains(&c) {
                    assert!(total(&[a as f64, b as f64, c]) <= found + 1e-9);
                }
            }
        }
    }

    /// An S-shaped curve (α = 3) whose threshold lies inside its bounds: the split still
    /// spends the budget and beats every point of a grid.
    #[test]
    fn an_s_shaped_curve_is_handled() {
        let channels = [
            channel(1000.0, 100.0, 3.0, 0.0, 300.0),
            channel(200.0, 50.0, 1.0, 0.0, 300.0),
        ];
        let budget = 200.0;
        let split = allocate(&channels, budget).unwrap();
        let total = |s: &[f64]| -> f64 { channels.iter().zip(s).map(|(c, s)| c.margin(*s)).sum() };
        assert!((split.spend.iter().sum::<f64>() - budget).abs() < 1e-6);
        let best_grid = (0..=200)
            .map(|a| total(&[a as f64, budget - a as f64]))
            .fold(f64::MIN, f64::max);
        assert!(total(&split.spend) >= best_grid - 1e-6, "{split:?}");
    }
}
