#!/usr/bin/env python3
"""Two throughline binaries side by side on the same data: an import, the job and KPI
answers, each timed in the same run, alternating which binary goes first.

Made for a change of the lake's format (issue #13: plain Parquet with manifests before,
Delta Lake after), so each binary gets its own copy of one generated lake: `--before`
reads the plain Parquet tables as bench/generate.py writes them; `--after` reads them once
`--after lake migrate` has turned them into Delta tables (pass `--after-migrates no` when
both binaries read the same format). Both then receive the same imports and run the same
job, so their KPI answers must agree: the script exits non-zero when they do not.

    python bench/before_after.py --before OLD/throughline --after NEW/throughline \\
        --touchpoints 1000000 [--runs 3] [--import-rows 50000] [--work DIR]

Timed, each `--runs` times per binary (medians reported, with after / before):
- import: `throughline import` of a CSV of `--import-rows` new touchpoints spread over the
  year (a new file each run, so every run stores rows);
- job: `throughline attribute` (six models, then the KPI rollups);
- KPI (CLI): `throughline kpi --group-by campaign` in a fresh process, from the rollups;
- KPI (API, warm): `GET /v1/kpi?group_by=campaign` from one `throughline serve` process,
  the median of `--requests` answers after the first.
"""

import argparse
import csv
import datetime
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate import write_lake  # noqa: E402

TENANT = "bench"
KPI_ARGS = ["kpi", "--tenant", TENANT, "--group-by", "campaign", "--currency", "UAH", "--format", "csv"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="the throughline binary to compare against")
    parser.add_argument("--after", required=True, help="the throughline binary under test")
    parser.add_argument("--after-migrates", choices=["yes", "no"], default="yes",
                        help="run `--after lake migrate` on its copy of the lake (default yes)")
    parser.add_argument("--touchpoints", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--import-rows", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--work", help="working directory (default: a directory under ~/.cache/throughline-bench)")
    args = parser.parse_args()

    work = os.path.expanduser(args.work or f"~/.cache/throughline-bench/before-after-{args.touchpoints}-{args.seed}")
    os.makedirs(work, exist_ok=True)
    base = os.path.join(work, "generated")
    if not os.path.exists(os.path.join(base, "bench-lake.json")):
        shutil.rmtree(base, ignore_errors=True)
        print(f"generating {args.touchpoints:,} touchpoints into {base}", file=sys.stderr)
        write_lake(base, args.touchpoints, args.seed, TENANT, args.days)
    binaries = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}
    lakes = {}
    for name, binary in binaries.items():
        lake = os.path.join(work, name)
        shutil.rmtree(lake, ignore_errors=True)
        shutil.copytree(base, lake)
        if name == "after" and args.after_migrates == "yes":
            run(binary, lake, "lake", "migrate")
        run(binary, lake, "tenants", "add", "--tenant", TENANT, "--name", "Benchmark")
        run(binary, lake, "import", "--tenant", TENANT, "--table", "fx_rates", fx_rates(work, args.days))
        lakes[name] = lake
    imports = [touchpoints_csv(work, run_no, args.import_rows, args.days, args.seed) for run_no in range(args.runs)]

    timings = {op: {name: [] for name in binaries} for op in ("import", "job", "kpi_cli", "kpi_api")}
    answers = {}
    for run_no in range(args.runs):
        # Alternate which binary goes first, so a warm page cache favours neither.
        order = list(binaries) if run_no % 2 == 0 else list(reversed(binaries))
        for name in order:
            timings["import"][name].append(timed(binaries[name], lakes[name], "import", "--tenant", TENANT,
                                                 "--table", "touchpoints", imports[run_no])[0])
        for name in order:
            timings["job"][name].append(timed(binaries[name], lakes[name], "attribute", "--tenant", TENANT)[0])
        for name in order:
            seconds, out = timed(binaries[name], lakes[name], *KPI_ARGS)
            timings["kpi_cli"][name].append(seconds)
            answers.setdefault(run_no, {})[name] = out
        if answers[run_no]["before"] != answers[run_no]["after"]:
            sys.exit(f"run {run_no}: the binaries' KPI answers differ\nbefore:\n{answers[run_no]['before'][:2000]}\n"
                     f"after:\n{answers[run_no]['after'][:2000]}")
    for name in binaries:
        timings["kpi_api"][name] = api_latencies(binaries[name], lakes[name], args.requests)

    labels = {
        "import": f"import of {args.import_rows:,} touchpoints (CLI, fresh process)",
        "job": "attribution job with rollups (`throughline attribute`)",
        "kpi_cli": "KPI by campaign (`throughline kpi`, fresh process)",
        "kpi_api": "KPI by campaign (`GET /v1/kpi`, warm process)",
    }
    print(f"\n{args.touchpoints:,} touchpoints generated (seed {args.seed}), {args.runs} runs, medians")
    print("| operation | before | after | after / before |")
    print("|---|---:|---:|---:|")
    summary = {}
    for op, by_binary in timings.items():
        before, after = statistics.median(by_binary["before"]), statistics.median(by_binary["after"])
        unit, scale = ("ms", 1000) if op == "kpi_api" else ("s", 1)
        print(f"| {labels[op]} | {before * scale:.3f} {unit} | {after * scale:.3f} {unit} | {after / before:.2f} |")
        summary[op] = {"before_s": before, "after_s": after, "ratio": after / before, "runs": by_binary}
    with open(os.path.join(work, "before-after.json"), "w") as f:
        json.dump(summary, f, indent=2)


def run(binary, lake, *args):
    done = subprocess.run([binary, "--lake", lake, *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{binary} {' '.join(args)} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def timed(binary, lake, *args):
    start = time.perf_counter()
    out = run(binary, lake, *args)
    return time.perf_counter() - start, out


def fx_rates(work, days):
    """USD and EUR rates into UAH for every generated day (the generator writes none)."""
    path = os.path.join(work, "fx-rates.csv")
    first = datetime.date(2025, 1, 1)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["date", "currency", "rate", "base"])
        for i in range(days):
            day = (first + datetime.timedelta(days=i)).isoformat()
            w.writerow([day, "USD", f"{41 + (i % 17) / 20:.4f}", "UAH"])
            w.writerow([day, "EUR", f"{45 + (i % 23) / 20:.4f}", "UAH"])
    return path


def touchpoints_csv(work, run_no, rows, days, seed):
    """New touchpoints (ids no generated row has), spread over the generated year."""
    path = os.path.join(work, f"import-{run_no}.csv")
    rng = random.Random(seed * 1000 + run_no)
    first = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["event_id", "ts", "visitor_id", "url", "referrer", "utm_source", "utm_medium", "utm_campaign"])
        for i in range(rows):
            ts = first + datetime.timedelta(seconds=rng.randrange(days * 86400))
            source = rng.choice(["google", "facebook", "tiktok", ""])
            w.writerow([f"import-{run_no}-{i:08d}", ts.isoformat().replace("+00:00", "Z"),
                        f"iv-{rng.randrange(rows // 3 + 1):08d}",
                        f"https://shop.example/p/{rng.randrange(500)}", "",
                        source, "cpc" if source else "", f"import-{source}" if source else ""])
    return path


def api_latencies(binary, lake, requests):
    key = run(binary, lake, "keys", "create", "--tenant", TENANT, "--scope", "read").split()[-1]
    proc = subprocess.Popen([binary, "--lake", lake, "serve", "--addr", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = re.search(r"(http://\S+)", proc.stdout.readline()).group(1)
        url = f"{base}/v1/kpi?group_by=campaign&currency=UAH&format=json&key={key}"
        times = []
        for _ in range(requests + 1):
            start = time.perf_counter()
            with urllib.request.urlopen(url) as answer:
                answer.read()
            times.append(time.perf_counter() - start)
        return times[1:]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
