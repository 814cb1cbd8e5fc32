#!/usr/bin/env python3
"""The budget planner's time (issue #18): `throughline plan --input` over a seeded series of
`--channels` channels x `--days` days (default 50 x 730, two years), each channel's margin
drawn from a known adstock + Hill curve plus noise. Runs the plan `--runs` times with the
uplift's bootstrap (`--bootstrap`, default 100) and once more without it, and prints the
median wall time and the peak RSS of each. The answer is checked (exit 1 if not): one row
per channel plus the total, the proposal spends exactly the budget, every planned channel
within its bounds. Timings are printed, never asserted.

    cargo build --release --locked -p throughline-cli
    python bench/plan.py --cli target/release/throughline
"""
import argparse
import csv
import io
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta


def generate(path, channels, days, seed):
    """Spend moving week by week between 0.3 and 1.7 x a base, margin from a known curve
    with 20% noise; returns the budget to plan (the last 28 days' spend)."""
    rng = random.Random(seed)
    start = date(2025, 1, 1)
    last_28 = 0.0
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["date", "channel", "spend", "margin"])
        for c in range(channels):
            theta = rng.choice([0.0, 0.1, 0.3, 0.5])
            alpha = rng.choice([0.75, 1.0, 1.5, 2.0])
            base = rng.uniform(50, 2000)
            gamma = base * rng.uniform(0.8, 2.5)
            beta = base * rng.uniform(1.5, 6.0)
            stock, level = 0.0, 1.0
            for d in range(days):
                if d % 7 == 0:
                    level = rng.uniform(0.3, 1.7)
                spend = base * level * rng.uniform(0.9, 1.1)
                stock = spend + theta * stock
                clean = beta * stock ** alpha / (stock ** alpha + gamma ** alpha)
                margin = clean + 0.2 * beta * 0.5 * rng.gauss(0, 1)
                out.writerow([(start + timedelta(days=d)).isoformat(), f"Channel {c:02d}", f"{spend:.2f}", f"{margin:.2f}"])
                if d >= days - 28:
                    last_28 += spend
    return round(last_28, 2)


def run(cli, series, budget, bootstrap):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(
        [cli, "plan", "--input", series, "--budget", str(budget), "--format", "csv", "--bootstrap", str(bootstrap)],
        capture_output=True, text=True)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        sys.exit(f"plan failed: {done.stderr}")
    # RUSAGE_CHILDREN is the largest child so far: a fresh child larger than the last shows.
    return wall, max(peak, before), list(csv.DictReader(io.StringIO(done.stdout)))


def check(rows, channels, budget):
    problems = []
    if len(rows) != channels + 1 or rows[-1]["channel"] != "(total)":
        problems.append(f"{len(rows)} rows for {channels} channels")
    spent = sum(float(r["proposed_spend"]) for r in rows[:-1])
    if abs(spent - budget) > 0.005:
        problems.append(f"proposals add up to {spent:.2f}, not the budget {budget:.2f}")
    for r in rows[:-1]:
        now, then = float(r["current_spend"]), float(r["proposed_spend"])
        if r["held"] == "false" and not (0.7 * now - 0.01 <= then <= 1.3 * now + 0.01):
            problems.append(f"{r['channel']}: {then} outside 0.7..1.3 x {now}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli", required=True)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bootstrap", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        series = os.path.join(scratch, "series.csv")
        budget = generate(series, args.channels, args.days, args.seed)
        print(f"series: {args.channels} channels x {args.days} days ({args.channels * args.days} rows), budget {budget:.2f}")
        print(f"{'plan':<34} {'median wall':>12} {'min':>9} {'peak RSS':>10}")
        failed = False
        for label, bootstrap, runs in [(f"with {args.bootstrap} bootstrap refits", args.bootstrap, args.runs),
                                       ("curves and split only (--bootstrap 0)", 0, args.runs)]:
            walls, peak, rows = [], 0, []
            for _ in range(runs):
                wall, peak, rows = run(args.cli, series, budget, bootstrap)
                walls.append(wall)
            problems = check(rows, args.channels, budget)
            failed |= bool(problems)
            for p in problems:
                print(f"  FAILED: {p}")
            print(f"{label:<34} {statistics.median(walls):>11.3f}s {min(walls):>8.3f}s {peak / 1024:>8.1f} MiB")
        held = sum(1 for r in rows[:-1] if r["held"] == "true")
        print(f"planned {len(rows) - 1 - held} channels, held {held}; {rows[-1]['reason']}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
