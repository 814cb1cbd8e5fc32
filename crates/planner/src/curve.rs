//! A channel's response curve: margin per step (a day or a week) as a function of spend,
//! with carry-over (geometric adstock) and saturation (a Hill curve), fitted
//! deterministically: a fixed grid over the carry-over θ and the shape α, and for each
//! the half-saturation point γ by a grid then golden-section search, with the scale β by
//! least squares in closed form. No random start, no iteration limit that depends on the
//! data: the same series gives the same curve on any machine.
//!
//! margin_t = β · a_t^α / (a_t^α + γ^α), a_t = spend_t + θ · a_(t−1).

/// Carry-over rates tried: the share of a step's adstocked spend carried into the next.
pub const THETAS: [f64; 19] = [
    0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8,
    0.85, 0.9,
];

/// Shapes tried: α ≤ 1 is concave from the first unit; α > 1 is S-shaped (a threshold
/// before spend starts to work).
pub const ALPHAS: [f64; 11] = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0];

/// Half-saturation points tried first, as multiples of the highest adstocked spend seen.
/// The best is refined between its neighbours; a γ far beyond the data is a curve that
/// has not started to saturate, which the data cannot tell from a straight line.
const GAMMA_GRID: [f64; 16] = [
    0.02, 0.035, 0.06, 0.1, 0.16, 0.25, 0.4, 0.6, 0.85, 1.2, 1.7, 2.4, 3.4, 4.8, 6.5, 8.0,
];

const GOLDEN_STEPS: usize = 40;

/// A fitted curve. Spend and margin are per step, in the reporting currency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Curve {
    pub theta: f64,
    pub alpha: f64,
    /// Half-saturation point, in adstocked spend per step.
    pub gamma: f64,
    /// The margin per step the curve tends to at unlimited spend.
    pub beta: f64,
    /// 1 − residual / total sum of squares on the steps fitted (0 when margin never varied).
    pub r2: f64,
}

impl Curve {
    /// A curve that answers 0 margin at any spend (a channel with no spend to fit).
    pub const FLAT: Curve = Curve {
        theta: 0.0,
        alpha: 1.0,
        gamma: 1.0,
        beta: 0.0,
        r2: 0.0,
    };

    fn saturation(&self, adstock: f64) -> f64 {
        if adstock <= 0.0 {
            return 0.0;
        }
        let p = (adstock / self.gamma).powf(self.alpha);
        p / (1.0 + p)
    }

    /// d saturation / d adstock.
    fn saturation_slope(&self, adstock: f64) -> f64 {
        if self.beta == 0.0 {
            return 0.0;
        }
        // At 0 the slope of α < 1 is unbounded: a cent past zero stands for it.
        let a = adstock.max(self.gamma * 1e-9);
        let p = (a / self.gamma).powf(self.alpha);
        self.alpha * p / (a * (1.0 + p) * (1.0 + p))
    }

    /// Margin per step when `spend` is spent in every step (the steady state, where
    /// adstock is spend / (1 − θ)).
    pub fn steady_margin(&self, spend: f64) -> f64 {
        self.beta * self.saturation(spend / (1.0 - self.theta))
    }

    /// The margin the next unit of spend per step brings, in the steady state.
    pub fn steady_marginal(&self, spend: f64) -> f64 {
        self.beta * self.saturation_slope(spend / (1.0 - self.theta)) / (1.0 - self.theta)
    }

    /// The spend per step past which each further unit brings less than the one before
    /// (0 for a curve concave from the start, α ≤ 1).
    pub fn inflection_spend(&self) -> f64 {
        if self.alpha <= 1.0 {
            return 0.0;
        }
        let ratio: f64 = (self.alpha - 1.0) / (self.alpha + 1.0);
        self.gamma * ratio.powf(1.0 / self.alpha) * (1.0 - self.theta)
    }
}

/// Geometric adstock: each step's spend plus θ times the previous step's adstock.
pub fn adstock(spend: &[f64], theta: f64) -> Vec<f64> {
    let mut carried = 0.0;
    spend
        .iter()
        .map(|x| {
            carried = x + theta * carried;
            carried
        })
        .collect()
}

/// The best curve over the whole grid, every step weighted `weights[t]` (1 for a plain
/// fit; a bootstrap passes how many times each step was drawn).
pub fn fit(spend: &[f64], margin: &[f64], weights: &[f64]) -> Curve {
    best_over(spend, margin, weights, &THETAS, &ALPHAS)
}

/// `curve`'s carry-over and shape, with γ and β fitted again to `weights`: what a
/// bootstrap resample refits (the grid over θ and α is 209 times the work).
pub fn refit(curve: &Curve, spend: &[f64], margin: &[f64], weights: &[f64]) -> Curve {
    best_over(spend, margin, weights, &[curve.theta], &[curve.alpha])
}

fn best_over(
    spend: &[f64],
    margin: &[f64],
    weights: &[f64],
    thetas: &[f64],
    alphas: &[f64],
) -> Curve {
    let totals = Totals::of(margin, weights);
    let mut best: Option<(f64, Curve)> = None;
    for &theta in thetas {
        let stocked = adstock(spend, theta);
        let scale = stocked.iter().copied().fold(0.0, f64::max);
        if scale <= 0.0 {
            return Curve::FLAT;
        }
        for &alpha in alphas {
            // Spend below 0 (a platform's refund) counts as none.
            let powered: Vec<f64> = stocked
                .iter()
                .map(|a| (a.max(0.0) / scale).powf(alpha))
                .collect();
            let shape = Shape {
                powered: &powered,
                margin,
                weights,
                alpha,
            };
            let (g, beta, sse) = shape.best_gamma();
            if best.as_ref().is_none_or(|(best_sse, _)| sse < *best_sse) {
                let r2 = if totals.sst > 0.0 {
                    1.0 - sse / totals.sst
                } else {
                    0.0
                };
                let curve = Curve {
                    theta,
                    alpha,
                    gamma: g * scale,
                    beta,
                    r2,
                };
                best = Some((sse, curve));
            }
        }
    }
    best.map_or(Curve::FLAT, |(_, curve)| curve)
}

struct Totals {
    sst: f64,
}

impl Totals {
    fn of(margin: &[f64], weights: &[f64]) -> Totals {
        let w: f64 = weights.iter().sum();
        if w <= 0.0 {
            return Totals { sst: 0.0 };
        }
        let mean = margin.iter().zip(weights).map(|(y, w)| y * w).sum::<f64>() / w;
        let sst = margin
            .iter()
            .zip(weights)
            .map(|(y, w)| w * (y - mean) * (y - mean))
            .sum();
        Totals { sst }
    }
}

/// One (θ, α): the adstock normalised to its maximum and raised to α.
struct Shape<'a> {
    powered: &'a [f64],
    margin: &'a [f64],
    weights: &'a [f64],
    alpha: f64,
}

impl Shape<'_> {
    /// β and the residual sum of squares at half-saturation `g` (normalised units), β
    /// by least squares and never negative (more spend never costs margin).
    fn at(&self, g: f64) -> (f64, f64) {
        let g_pow = g.powf(self.alpha);
        let (mut hy, mut hh, mut yy) = (0.0, 0.0, 0.0);
        for ((p, y), w) in self.powered.iter().zip(self.margin).zip(self.weights) {
            let h = p / (p + g_pow);
            hy += w * h * y;
            hh += w * h * h;
            yy += w * y * y;
        }
        let beta = if hh > 0.0 { (hy / hh).max(0.0) } else { 0.0 };
        (beta, yy - 2.0 * beta * hy + beta * beta * hh)
    }

    /// The grid's best γ, refined by golden-section search (in log γ) between its
    /// neighbours: (γ, β, residual).
    fn best_gamma(&self) -> (f64, f64, f64) {
        let scored: Vec<f64> = GAMMA_GRID.iter().map(|g| self.at(*g).1).collect();
        let best = (0..scored.len())
            .min_by(|a, b| scored[*a].total_cmp(&scored[*b]))
            .unwrap_or(0);
        let mut lo = GAMMA_GRID[best.saturating_sub(1)].ln();
        let mut hi = GAMMA_GRID[(best + 1).min(GAMMA_GRID.len() - 1)].ln();
        let ratio = (5f64.sqrt() - 1.0) / 2.0;
        let mut x1 = hi - ratio * (hi - lo);
        let mut x2 = lo + ratio * (hi - lo);
        let (mut f1, mut f2) = (self.at(x1.exp()).1, self.at(x2.exp()).1);
        for _ in 0..GOLDEN_STEPS {
            if f1 <= f2 {
                hi = x2;
                (x2, f2) = (x1, f1);
                x1 = hi - ratio * (hi - lo);
                f1 = self.at(x1.exp()).1;
            } else {
                lo = x1;
                (x1, f1) = (x2, f2);
                x2 = lo + ratio * (hi - lo);
                f2 = self.at(x2.exp()).1;
            }
        }
        let refined = ((lo + hi) / 2.0).exp();
        let (beta, sse) = self.at(refined);
        // The search stays between the grid's neighbours, so it never does worse than
        // the grid point it started from.
        let grid_g = GAMMA_GRID[best];
        let (grid_beta, grid_sse) = self.at(grid_g);
        if grid_sse < sse {
            (grid_g, grid_beta, grid_sse)
        } else {
            (refined, beta, sse)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adstock_carries_the_given_share_into_the_next_step() {
        assert_eq!(adstock(&[100.0, 0.0, 0.0], 0.5), vec![100.0, 50.0, 25.0]);
        assert_eq!(adstock(&[10.0, 10.0], 0.0), vec![10.0, 10.0]);
    }

    #[test]
    fn the_curve_answers_half_its_ceiling_at_gamma() {
        let curve = Curve {
            theta: 0.5,
            alpha: 2.0,
            gamma: 200.0,
            beta: 1000.0,
            r2: 1.0,
        };
        // Steady spend 100 per step is adstock 200 = γ: half of β.
        assert!((curve.steady_margin(100.0) - 500.0).abs() < 1e-9);
        // The slope against a finite difference.
        let h = 1e-4;
        let numeric = (curve.steady_margin(100.0 + h) - curve.steady_margin(100.0 - h)) / (2.0 * h);
        assert!((curve.steady_marginal(100.0) - numeric).abs() < 1e-6);
        // Inflection of a Hill curve with α = 2: γ·sqrt(1/3) in adstock, × (1 − θ) in spend.
        assert!((curve.inflection_spend() - 200.0 * (1.0f64 / 3.0).sqrt() * 0.5).abs() < 1e-9);
        assert_eq!(
            Curve {
                alpha: 0.75,
                ..curve
            }
            .inflection_spend(),
            0.0
        );
    }

    #[test]
    fn an_exact_curve_is_found_again() {
        let truth = Curve {
            theta: 0.3,
            alpha: 1.5,
            gamma: 120.0,
            beta: 400.0,
            r2: 1.0,
        };
        // Spend that moves over a wide range, deterministic.
        let spend: Vec<f64> = (0..200)
            .map(|t| 100.0 + 50.0 * ((t as f64) * 0.37).sin() + 30.0 * ((t as f64) * 0.11).cos())
            .collect();
        let margin: Vec<f64> = adstock(&spend, truth.theta)
            .iter()
            .map(|a| truth.beta * truth.saturation(*a))
            .collect();
        let fitted = fit(&spend, &margin, &vec![1.0; spend.len()]);
        assert_eq!((fitted.theta, fitted.alpha), (truth.theta, truth.alpha));
        assert!(
            (fitted.gamma / truth.gamma - 1.0).abs() < 1e-3,
            "{fitted:?}"
        );
        assert!((fitted.beta / truth.beta - 1.0).abs() < 1e-3, "{fitted:?}");
        assert!(fitted.r2 > 0.999_999, "{fitted:?}");
    }

    #[test]
    fn margin_that_falls_with_spend_fits_a_flat_curve_not_a_negative_one() {
        let spend = [10.0, 20.0, 30.0, 40.0];
        let margin = [40.0, 30.0, 20.0, 10.0];
        let fitted = fit(&spend, &margin, &[1.0; 4]);
        // Saturated from the first unit: the mean margin whatever the spend, and the next
        // unit of spend brings (almost) nothing, never less than nothing.
        assert!(fitted.beta >= 0.0);
        assert!(fitted.steady_marginal(25.0) < 0.05, "{fitted:?}");
        assert!(fitted.r2 < 0.05, "{fitted:?}");
        assert_eq!(fit(&[0.0; 3], &[1.0; 3], &[1.0; 3]), Curve::FLAT);
    }
}
