#!/usr/bin/env python3
"""The peer of `throughline plan` for bench/plan.py: the same method written the way a data
scientist would in Python — NumPy for the curve fits (the documented grid over θ and α, γ by
grid then golden-section search, β by least squares; docs/PLANNER.md) and SciPy's SLSQP
for the split of the budget under the same bounds. It reads the same CSV and prints, as
JSON, each channel's fitted θ and α, its marginal return at current spend, and the
proposed split with its total predicted margin. Needs `pip install numpy scipy`.

    python bench/plan_peer.py SERIES.csv BUDGET [--period 28]
"""
import csv
import json
import math
import sys
from collections import defaultdict
from datetime import date

import numpy as np
from scipy.optimize import minimize
from scipy.signal import lfilter

THETAS = [round(0.05 * i, 2) for i in range(19)]
ALPHAS = [0.5 + 0.25 * i for i in range(11)]
GAMMAS = [0.02, 0.035, 0.06, 0.1, 0.16, 0.25, 0.4, 0.6, 0.85, 1.2, 1.7, 2.4, 3.4, 4.8, 6.5, 8.0]


def read(path):
    rows = defaultdict(dict)
    first, last = None, None
    with open(path) as f:
        for r in csv.DictReader(f):
            day = date.fromisoformat(r["date"]).toordinal()
            key = r["channel"]
            spend, margin = rows[key].get(day, (0.0, 0.0))
            rows[key][day] = (spend + float(r["spend"]), margin + float(r.get("margin") or r["revenue"]))
            first = day if first is None else min(first, day)
            last = day if last is None else max(last, day)
    n = last - first + 1
    series = {}
    for key, days in sorted(rows.items()):
        spend, margin = np.zeros(n), np.zeros(n)
        for day, (s, m) in days.items():
            spend[day - first], margin[day - first] = s, m
        series[key] = (spend, margin)
    return series


def fit(spend, margin):
    """(sse, θ, α, γ, β) of the best curve."""
    best = None
    y, yy = margin, float(margin @ margin)
    for theta in THETAS:
        stock = lfilter([1.0], [1.0, -theta], spend)
        scale = stock.max()
        for alpha in ALPHAS:
            p = (np.maximum(stock, 0) / scale) ** alpha

            def at(g):
                h = p / (p + g ** alpha)
                hy, hh = float(h @ y), float(h @ h)
                beta = max(hy / hh, 0.0) if hh > 0 else 0.0
                return beta, yy - 2 * beta * hy + beta * beta * hh

            scored = [at(g)[1] for g in GAMMAS]
            i = int(np.argmin(scored))
            lo, hi = math.log(GAMMAS[max(i - 1, 0)]), math.log(GAMMAS[min(i + 1, len(GAMMAS) - 1)])
            r = (math.sqrt(5) - 1) / 2
            x1, x2 = hi - r * (hi - lo), lo + r * (hi - lo)
            f1, f2 = at(math.exp(x1))[1], at(math.exp(x2))[1]
            for _ in range(40):
                if f1 <= f2:
                    hi, x2, f2 = x2, x1, f1
                    x1 = hi - r * (hi - lo)
                    f1 = at(math.exp(x1))[1]
                else:
                    lo, x1, f1 = x1, x2, f2
                    x2 = lo + r * (hi - lo)
                    f2 = at(math.exp(x2))[1]
            g = math.exp((lo + hi) / 2)
            beta, sse = at(g)
            if scored[i] < sse:
                g, (beta, sse) = GAMMAS[i], at(GAMMAS[i])
            if best is None or sse < best[0]:
                best = (sse, theta, alpha, g * scale, beta)
    return best


def main():
    path, budget = sys.argv[1], float(sys.argv[2])
    period = int(sys.argv[sys.argv.index("--period") + 1]) if "--period" in sys.argv else 28
    series = read(path)
    channels = []
    for name, (spend, margin) in series.items():
        _, theta, alpha, gamma, beta = fit(spend, margin)
        current = float(spend[-period:].sum())
        upper = min(1.3 * current, 1.3 * float(spend.max()) * period)
        channels.append({"channel": name, "theta": theta, "alpha": alpha, "gamma": gamma, "beta": beta,
                         "current": current, "lower": 0.7 * current, "upper": upper})

    def margin(c, s):
        a = s / period / (1 - c["theta"])
        return period * c["beta"] * a ** c["alpha"] / (a ** c["alpha"] + c["gamma"] ** c["alpha"]) if a > 0 else 0.0

    def marginal(c, s):
        a = max(s / period / (1 - c["theta"]), c["gamma"] * 1e-9)
        q = (a / c["gamma"]) ** c["alpha"]
        return c["beta"] * c["alpha"] * q / (a * (1 + q) ** 2) / (1 - c["theta"])

    scale = max(budget, 1.0)
    start = np.array([c["current"] for c in channels])
    start = np.clip(start * budget / start.sum(), [c["lower"] for c in channels], [c["upper"] for c in channels])
    found = minimize(
        lambda x: -sum(margin(c, s * scale) for c, s in zip(channels, x)) / scale,
        start / scale,
        jac=lambda x: -np.array([marginal(c, s * scale) for c, s in zip(channels, x)]),
        bounds=[(c["lower"] / scale, c["upper"] / scale) for c in channels],
        constraints=[{"type": "eq", "fun": lambda x: x.sum() - budget / scale, "jac": lambda x: np.ones_like(x)}],
        method="SLSQP", options={"maxiter": 500, "ftol": 1e-12})
    proposed = found.x * scale
    print(json.dumps({
        "converged": bool(found.success),
        "channels": [{"channel": c["channel"], "theta": c["theta"], "alpha": c["alpha"],
                      "marginal_return": marginal(c, c["current"]), "proposed": float(s)}
                     for c, s in zip(channels, proposed)],
        "predicted_margin": sum(margin(c, s) for c, s in zip(channels, proposed)),
    }))


if __name__ == "__main__":
    main()
