#!/usr/bin/env python3
"""Query latency (issue #6), in two parts, over a lake that holds attribution (e.g. the
benchmark lake after `throughline attribute`, or `throughline demo --keep DIR`):

1. The KPI API (`GET /v1/kpi` on `throughline serve`), per grouping: the first answer and
   p50 / p95 of the next ones, read from the job's daily KPI rollups, then p50 / p95 with
   `live=true` (computed from the tables). Both answers must be equal (exit 1 if not).
2. `--adhoc`: ad-hoc group-bys over the raw `attribution` table, each run as a fresh
   process — `throughline sql` against DuckDB (PyPI `duckdb`, in a Python child) reading
   the files the table's Delta log names (listed once by this script with PyPI `deltalake`
   and handed to the child, as the manifest's list was) — pinned to the same CPUs; the
   median wall time of `--adhoc-repeat` runs and the Throughline / DuckDB ratio. Both must
   return the same rows (exit 1 if not). Timings are printed, never asserted.

    python bench/query_latency.py --cli target/release/throughline --lake /tmp/demo --tenant demo
    python bench/query_latency.py --cli target/release/throughline \\
        --lake ~/.cache/throughline-bench/lake-n1000000-s1-d365 --tenant bench --attribute --adhoc

`--attribute` first runs the job (with its rollups) and prints how long it took. Before any
other command, `throughline lake migrate` turns a lake of plain Parquet tables (one that
bench/generate.py wrote without --cli, or cached before Delta) into Delta tables; a lake
that is Delta already is left as it is.
"""
import argparse
import csv
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

# tests/lake_tables.py, imported where used: the DuckDB child does not load deltalake.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))

GROUPS = ["channel", "campaign", "source_medium", "platform", "ad_group"]

# Written once, run by both engines: only SQL both read the same way.
ADHOC = {
    "by channel and model": "SELECT channel, model, count(*) AS touches, sum(credit) AS conversions, "
                            "sum(revenue_credit) AS revenue FROM attribution GROUP BY channel, model",
    "won deals by campaign, linear": "SELECT platform, campaign, sum(credit) AS deals, sum(revenue_credit) AS revenue, "
                                     "sum(margin_credit) AS margin FROM attribution "
                                     "WHERE model = 'linear' AND conversion_type = 'deal_won' GROUP BY platform, campaign",
    "conversions by month and model": "SELECT extract(month FROM conversion_ts) AS month, model, "
                                      "count(DISTINCT conversion_id) AS conversions, avg(days_to_conversion) AS days "
                                      "FROM attribution GROUP BY 1, 2",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli", required=True)
    parser.add_argument("--lake", required=True)
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--requests", type=int, default=50, help="KPI answers per grouping after the first")
    parser.add_argument("--live-requests", type=int, default=5, help="the same with live=true")
    parser.add_argument("--attribute", action="store_true", help="run the job (and its rollups) first")
    parser.add_argument("--adhoc", action="store_true", help="also time ad-hoc group-bys against DuckDB")
    parser.add_argument("--adhoc-repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--duckdb-child", nargs=2, metavar=("FILES", "QUERY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.duckdb_child:
        return duckdb_query(*args.duckdb_child, threads=args.threads)
    from lake_tables import read_table, table_exists

    lake = os.path.expanduser(args.lake)
    cli = lambda *a: subprocess.run([args.cli, "--lake", lake, *a], check=True, capture_output=True, text=True).stdout
    cli("lake", "migrate")
    if not (table_exists(lake, "fx_rates") and read_table(lake, "fx_rates", args.tenant, columns=["tenant"]).num_rows):
        import_rates(cli, lake, args.tenant)
    if args.attribute:
        start = time.perf_counter()
        out = cli("attribute", "--tenant", args.tenant)
        print(f"job with rollups: {time.perf_counter() - start:.2f} s — {' '.join(out.split())}", file=sys.stderr)
    if args.requests > 0:
        kpi_latency(args, lake, cli)
    if args.adhoc:
        adhoc_latency(args, lake)


def import_rates(cli, lake, tenant):
    """A lake without exchange rates (bench/generate.py writes none) gets the day's USD and
    EUR rates into UAH for every day it has costs, as a tenant importing the NBU's would."""
    from lake_tables import committed_days, table_exists

    days = committed_days(lake, "ad_costs", tenant) if table_exists(lake, "ad_costs") else []
    if not days:
        return
    path = os.path.join(lake, "bench-fx-rates.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["date", "currency", "rate", "base"])
        for i, day in enumerate(days):
            w.writerow([day, "USD", f"{41 + (i % 17) / 20:.4f}", "UAH"])
            w.writerow([day, "EUR", f"{45 + (i % 23) / 20:.4f}", "UAH"])
    cli("import", "--tenant", tenant, "--table", "fx_rates", path)
    print(f"imported USD and EUR rates into UAH for {len(days)} days", file=sys.stderr)


def kpi_latency(args, lake, cli):
    cli("tenants", "add", "--tenant", args.tenant, "--name", args.tenant)
    key = cli("keys", "create", "--tenant", args.tenant, "--scope", "read").split()[-1]
    proc = subprocess.Popen([args.cli, "--lake", lake, "serve", "--addr", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    failed = []
    try:
        base = re.search(r"(http://\S+)", proc.stdout.readline()).group(1)
        rows = []
        for group in GROUPS:
            url = f"{base}/v1/kpi?group_by={group}&format=json&key={key}"
            rolled_up, answer = timed_answers(url, args.requests + 1)
            live, live_answer = timed_answers(url + "&live=true", args.live_requests)
            if answer != live_answer:
                failed.append(group)
            first, rest = rolled_up[0], sorted(rolled_up[1:])
            rows.append((group, first, statistics.median(rest), percentile(rest, 0.95),
                         statistics.median(live), percentile(sorted(live), 0.95)))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"\nKPI API ({args.requests} answers after the first from the rollups, {args.live_requests} live)")
    print("| KPI by | first answer ms | p50 ms | p95 ms | live p50 ms | live p95 ms | live / rollups (p50) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for group, first, p50, p95, live50, live95 in rows:
        print(f"| {group} | {first:.0f} | {p50:.1f} | {p95:.1f} | {live50:.0f} | {live95:.0f} | {live50 / p50:.1f} |")
    if failed:
        sys.exit(f"the rollups and live=true answered differently for: {', '.join(failed)}")


def timed_answers(url, count):
    times, body = [], None
    for _ in range(count):
        start = time.perf_counter()
        with urllib.request.urlopen(url) as answer:
            body = answer.read()
            assert answer.status == 200
        times.append((time.perf_counter() - start) * 1000)
    return times, json.loads(body)


def percentile(sorted_values, q):
    return sorted_values[max(0, int(round(q * len(sorted_values))) - 1)]


def adhoc_latency(args, lake):
    with tempfile.TemporaryDirectory(prefix="throughline-adhoc-") as tmp:
        adhoc_runs(args, lake, attribution_files(lake, args.tenant, os.path.join(tmp, "attribution-files.json")))


def attribution_files(lake, tenant, path):
    """Writes to `path` (a JSON list) the tenant's files that the attribution table's Delta
    log names, for the DuckDB child: a glob would also read files a commit removed (on disk
    until VACUUM) or a crashed job left."""
    from lake_tables import current_files

    files = [os.path.join(lake, f) for f in current_files(lake, "attribution", tenant)]
    if not files:
        sys.exit(f"no attribution files of tenant {tenant} in the Delta log: run with --attribute")
    with open(path, "w") as f:
        json.dump(files, f)
    return path


def adhoc_runs(args, lake, files):
    cpus = set(sorted(os.sched_getaffinity(0))[: args.threads])
    rows_in_table = None
    results = []
    for name, query in ADHOC.items():
        runs = {"throughline": [], "duckdb": []}
        answers = {}
        for _ in range(args.adhoc_repeat):
            commands = {
                "throughline": [args.cli, "--lake", lake, "sql", "--tenant", args.tenant, "--format", "csv", query],
                "duckdb": [sys.executable, os.path.abspath(__file__), "--cli", "-", "--lake", lake,
                           "--threads", str(args.threads), "--duckdb-child", files, query],
            }
            for engine, command in commands.items():
                wall, out = run_pinned(command, cpus)
                runs[engine].append(wall)
                answers[engine] = rows_of(out)
        if not same_rows(answers["throughline"], answers["duckdb"]):
            sys.exit(f"{name}: the engines disagree\nthroughline: {answers['throughline'][:5]}\n"
                     f"duckdb: {answers['duckdb'][:5]}")
        results.append((name, len(answers["duckdb"]), statistics.median(runs["throughline"]),
                        statistics.median(runs["duckdb"])))
        if rows_in_table is None:
            rows_in_table = sum(int(r[2]) for r in answers["duckdb"])
    print(f"\nAd-hoc group-bys over attribution ({rows_in_table:,} rows), a fresh process each, "
          f"median of {args.adhoc_repeat}, {len(cpus)} CPUs")
    print("| query | result rows | Throughline s | DuckDB s | Throughline / DuckDB |")
    print("|---|---:|---:|---:|---:|")
    for name, count, ours, theirs in results:
        print(f"| {name} | {count} | {ours:.3f} | {theirs:.3f} | {ours / theirs:.2f} |")


def run_pinned(command, cpus):
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, preexec_fn=lambda: os.sched_setaffinity(0, cpus))
    wall = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{command[0]} failed:\n{out.stderr[-3000:]}")
    return wall, out.stdout


def rows_of(text):
    rows = list(csv.reader(io.StringIO(text)))
    return sorted(rows[1:], key=lambda r: [(v == "", v) for v in r])


def same_rows(ours, theirs):
    if len(ours) != len(theirs):
        return False
    for a, b in zip(ours, theirs):
        for x, y in zip(a, b):
            if x == y:
                continue
            try:
                if abs(float(x) - float(y)) > 1e-6 * max(1.0, abs(float(y))):
                    return False
            except ValueError:
                return False
    return True


def duckdb_query(files, query, threads):
    """The DuckDB side, in a child process: the files the attribution table's Delta log names
    (the JSON list `files`, see attribution_files)."""
    import duckdb

    with open(files) as f:
        files = json.load(f)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW attribution AS SELECT * FROM read_parquet({files!r})")
    cursor = con.execute(query)
    out = csv.writer(sys.stdout)
    out.writerow([d[0] for d in cursor.description])
    for row in cursor.fetchall():
        out.writerow(["" if v is None else v for v in row])


if __name__ == "__main__":
    sys.exit(main())
