#!/usr/bin/env python3
"""The budget planner's time (issue #18): `throughline plan --input` over a seeded series of
`--channels` channels x `--days` days (default 50 x 730, two years), each channel's margin
drawn from a known adstock + Hill curve plus noise. Runs the plan `--runs` times with the
uplift's bootstrap (`--bootstrap`, default 100) and once more without it, and prints the
median wall time and the peak RSS of each. The answer is checked (exit 1 if not): one row
per channel plus the total, the proposal spends exactly the budget, every planned channel
within its bounds. Timings are printed, never asserted.

`--peer-python PY` also runs bench/plan_peer.py (the same method in NumPy and SciPy's
SLSQP, run by PY, which needs `pip install numpy scipy`) on the same file, `--runs` times,
and prints the wall-time ratio, how far the two fits' marginal returns at current spend
are apart, and each side's total predicted margin at its own proposal.

    cargo build --release --locked -p throughline-cli
    python bench/plan.py --cli target/release/throughline [--peer-python VENV/bin/python]
"""
import argparse
import csv
import io
import json
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
    parser.add_argument("--peer-python", help="a Python with numpy and scipy: also run bench/plan_peer.py")
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
        if args.peer_python:
            ours_wall = statistics.median(walls)
            failed |= compare_with_peer(args, series, budget, rows, ours_wall)
    sys.exit(1 if failed else 0)


def compare_with_peer(args, series, budget, rows, ours_wall):
    """Runs the NumPy/SciPy peer on the same file; prints the ratios. True if it failed."""
    peer_script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plan_peer.py")
    walls, answer = [], None
    for _ in range(args.runs):
        started = time.perf_counter()
        done = subprocess.run([args.peer_python, peer_script, series, str(budget)], capture_output=True, text=True)
        walls.append(time.perf_counter() - started)
        if done.returncode != 0:
            print(f"  FAILED: the peer: {done.stderr.strip()[-400:]}")
            return True
        answer = json.loads(done.stdout)
    peer_wall = statistics.median(walls)
    ours = {r["channel"]: r for r in rows[:-1]}
    gaps = []
    for c in answer["channels"]:
        mine = float(ours[c["channel"]]["mroi_current"]) + 1.0
        gaps.append(abs(mine / c["marginal_return"] - 1.0) if c["marginal_return"] else 0.0)
    ours_margin = sum(float(r["margin_proposed"]) for r in rows[:-1])
    print(f"{'NumPy + SciPy SLSQP (peer), no bootstrap':<34} {peer_wall:>11.3f}s {min(walls):>8.3f}s")
    print(f"Throughline / peer wall time (curves and split): {ours_wall / peer_wall:.3f}")
    print(f"marginal return at current spend, Throughline against the peer: median gap "
          f"{statistics.median(gaps) * 100:.3f}%, largest {max(gaps) * 100:.3f}%")
    print(f"predicted margin at each side's proposal: Throughline {ours_margin:.2f}, peer "
          f"{answer['predicted_margin']:.2f} (ratio {ours_margin / answer['predicted_margin']:.5f}; "
          f"SLSQP converged: {answer['converged']})")
    return False


if __name__ == "__main__":
    main()
