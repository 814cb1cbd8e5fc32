#!/usr/bin/env python3
"""The attribution job, Throughline against DuckDB on the same Parquet (issue #6).

One command: generates a lake of about N touchpoints (bench/generate.py; reused from a
cache when one for the same N, seed and days exists), then, each in its own child process
pinned to the same CPUs,

1. `throughline attribute --no-rollups` (all six rule-based models, the job as deployed:
   compaction, journeys, models, the atomic commit of the `attribution` table; without the
   KPI rollups the deployed job writes after it, which DuckDB's side has no part of — see
   bench/query_latency.py), and
2. the same job written as SQL for DuckDB (bench/duckdb/*.sql) over the same files,
   writing its credits to zstd Parquet partitioned by conversion date. The same files are
   those the tables' Delta logs name after Throughline's run (its compaction's removed
   files stay on disk until VACUUM): this script lists them with Python's deltalake and
   hands the list to the child, so the child's measured work is DuckDB's alone,

measuring each child's wall time, CPU time (user + sys, from wait4) and peak RSS
(ru_maxrss). Then it reads Throughline's output (the files the `attribution` table's Delta
log names) and checks that both engines produced the same rows per (conversion, touchpoint,
model): the same row sets, credits equal to 1e-9, and the same positions, channels, sources,
mediums, campaigns, platforms and money splits (exactly, but for time_decay, whose split may
differ by one minor unit where the engines' floating-point weights put R x C_i on either
side of half a unit; the totals per conversion and model must still be equal, and such rows
are counted: none so far). Any other difference fails the command (exit 1) with the first
rows that differ. Finally it prints the table: engine, wall s, CPU s, peak RSS MiB,
touchpoints/s, and Throughline / DuckDB ratios.

    python bench/attribution.py --cli target/release/throughline --touchpoints 1000000
    python bench/attribution.py --cli target/debug/throughline --touchpoints 2000   # CI size

Lakes are cached under ~/.cache/throughline-bench (or --keep DIR, which also keeps
DuckDB's output), turned into Delta tables by `throughline lake migrate` right after they
are generated. Timings are never asserted; only agreement is.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import generate  # noqa: E402  (bench/generate.py)

# The tables bench/duckdb/attribution.sql reads.
DUCKDB_INPUTS = ["touchpoints", "leads", "deal_events", "ad_costs"]
MODELS = ["first_touch", "last_touch", "last_non_direct", "linear", "position_based", "time_decay"]
# Columns that must be equal (besides credit and days_to_conversion, compared to 1e-9).
MONEY = ["revenue_credit", "margin_credit"]
EXACT = ["conversion_type", "conversion_ts", "lead_id", "deal_id", "manager", "offer", "touch_ts", "position",
         "touches", "revenue_credit", "margin_credit", "currency", "channel", "source", "medium", "campaign",
         "platform", "platform_campaign_id"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--touchpoints", type=int, default=1_000_000, help="about this many touchpoints")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=365, help="days of generated data")
    parser.add_argument("--cli", help="the throughline binary (required)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="CPUs for each engine: both children are pinned to the first N CPUs, "
                             "DuckDB runs N threads, DataFusion sees N cores (default: all)")
    parser.add_argument("--keep", metavar="DIR", help="keep the lake and DuckDB's output here")
    parser.add_argument("--tenant", default="bench")
    parser.add_argument("--lookback-days", type=int, default=30)
    parser.add_argument("--half-life-days", type=float, default=7.0)
    parser.add_argument("--memory-limit", metavar="BYTES",
                        help="memory limit for both engines, e.g. 3G: THROUGHLINE_MEMORY_LIMIT (a DataFusion "
                             "spilling pool) and DuckDB's memory_limit; both spill under the work directory")
    parser.add_argument("--repeat", type=int, default=1, help="run each engine this many times, report the "
                                                              "fastest run (by wall time)")
    parser.add_argument("--duckdb-child", nargs=3, metavar=("INPUTS", "OUT", "THREADS"), help=argparse.SUPPRESS)
    parser.add_argument("--duckdb-memory-limit", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.duckdb_child:
        inputs, out, threads = args.duckdb_child
        return duckdb_job(inputs, out, int(threads), args.lookback_days, args.half_life_days,
                          args.duckdb_memory_limit)

    if not args.cli:
        parser.error("--cli is required")
    cli = os.path.abspath(args.cli)
    work = os.path.abspath(args.keep or os.path.expanduser("~/.cache/throughline-bench"))
    lake = os.path.join(work, f"lake-n{args.touchpoints}-s{args.seed}-d{args.days}")
    summary = cached_lake(lake, args, cli)
    touchpoints = summary["tables"]["touchpoints"]["rows"]
    files = sum(t["files"] for t in summary["tables"].values())
    print(f"lake {lake}: {touchpoints:,} touchpoints, {summary['tables']['leads']['rows']:,} leads, "
          f"{summary['tables']['deal_events']['rows']:,} deal events, {summary['tables']['orders']['rows']:,} orders, "
          f"{summary['tables']['ad_costs']['rows']:,} ad cost rows in {files:,} files")
    subprocess.run([cli, "--lake", lake, "tenants", "add", "--tenant", args.tenant, "--name", "Benchmark"],
                   check=True, capture_output=True)
    cpus = set(sorted(os.sched_getaffinity(0))[: args.threads])
    env = dict(os.environ)
    duckdb_limit = []
    if args.memory_limit:
        spill = os.path.join(work, "spill")
        os.makedirs(spill, exist_ok=True)
        env.update(THROUGHLINE_MEMORY_LIMIT=args.memory_limit, THROUGHLINE_SPILL_DIR=spill)
        duckdb_limit = ["--duckdb-memory-limit", args.memory_limit]
    sys.stdout.flush()

    throughline_runs, duckdb_runs = [], []
    out = os.path.join(work, f"duckdb-out-n{args.touchpoints}-s{args.seed}-d{args.days}")
    for _ in range(args.repeat):
        throughline_runs.append(measure(
            "throughline", [cli, "--lake", lake, "attribute", "--tenant", args.tenant, "--no-rollups",
                            "--lookback-days", str(args.lookback_days), "--half-life-days", str(args.half_life_days)],
            cpus, os.path.join(work, "throughline.log"), env))
        shutil.rmtree(out, ignore_errors=True)
        inputs = committed_inputs(lake, args.tenant, os.path.join(work, "duckdb-inputs.json"))
        duckdb_runs.append(measure(
            "duckdb", [sys.executable, os.path.abspath(__file__), "--duckdb-child", inputs, out, str(args.threads),
                       "--lookback-days", str(args.lookback_days),
                       "--half-life-days", str(args.half_life_days), *duckdb_limit],
            cpus, os.path.join(work, "duckdb.log")))

    rows, ties = compare(lake, args.tenant, out)
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    best_t = min(throughline_runs, key=lambda r: r["wall"])
    best_d = min(duckdb_runs, key=lambda r: r["wall"])
    print(f"\nsame credits: {rows:,} attribution rows (conversion x touchpoint x model) agree: credits to 1e-9; "
          f"positions, channels, sources, campaigns exactly; money splits exactly but for {ties:,} time_decay rows "
          f"where a tie at half a minor unit rounded the other way (same totals)\n")
    import duckdb
    built = time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(cli)))
    print(f"attribution job, {touchpoints:,} touchpoints, {len(cpus)} CPU(s), best of {args.repeat} run(s) by wall "
          f"time; throughline {cli} (built {built}), DuckDB {duckdb.__version__}"
          + (f", memory limit {args.memory_limit}" if args.memory_limit else ""))
    print("| engine | wall s | CPU s | peak RSS MiB | touchpoints/s |")
    print("|---|---:|---:|---:|---:|")
    for name, r in (("Throughline", best_t), ("DuckDB", best_d)):
        print(f"| {name} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rss_mib']:.0f} | {touchpoints / r['wall']:,.0f} |")
    print(f"| Throughline / DuckDB | {best_t['wall'] / best_d['wall']:.2f} | {best_t['cpu'] / best_d['cpu']:.2f} | "
          f"{best_t['rss_mib'] / best_d['rss_mib']:.2f} | {best_d['wall'] / best_t['wall']:.2f} |")
    return 0


def cached_lake(lake, args, cli):
    """The cached lake, if it was generated by this generator version for this tenant and
    migrated to Delta tables; else a new one (generated, then `throughline lake migrate`)."""
    marker = os.path.join(lake, "bench-lake.json")
    if os.path.exists(marker):
        with open(marker) as f:
            summary = json.load(f)
        if (summary.get("generator_version") == generate.GENERATOR_VERSION and summary.get("tenant") == args.tenant
                and summary.get("delta")):
            return summary
    shutil.rmtree(lake, ignore_errors=True)
    print(f"generating {lake} ...", file=sys.stderr)
    return generate.write_lake(lake, args.touchpoints, args.seed, args.tenant, args.days, cli=cli)


def measure(name, command, cpus, log, env=None):
    """Runs a child pinned to `cpus`; its wall time, user + sys CPU time and peak RSS."""
    start = time.perf_counter()
    with open(log, "w") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                 preexec_fn=lambda: os.sched_setaffinity(0, cpus))
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    with open(log) as f:
        output = f.read()
    if child.returncode != 0:
        sys.exit(f"{name} failed (exit {child.returncode}):\n{output[-4000:]}")
    result = {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024}
    print(f"  {name}: {wall:.2f} s wall, {result['cpu']:.2f} s CPU, {result['rss_mib']:.0f} MiB peak RSS"
          f" — {output.strip().splitlines()[-1] if output.strip() else ''}", file=sys.stderr)
    return result


def committed_inputs(lake, tenant, path):
    """Writes to `path` (JSON, table -> absolute file paths) the tenant's files of the tables
    DuckDB reads, as their Delta logs name them now: a glob would also read the files
    Throughline's compaction removed (on disk until VACUUM) or a crashed job left."""
    from lake_tables import current_files  # tests/lake_tables.py

    files = {t: [os.path.join(lake, f) for f in current_files(lake, t, tenant)] for t in DUCKDB_INPUTS}
    empty = [t for t, paths in files.items() if not paths]
    if empty:
        sys.exit(f"no files of tenant {tenant} in the Delta log of {', '.join(empty)}")
    with open(path, "w") as f:
        json.dump(files, f)
    return path


def duckdb_job(inputs, out, threads, lookback_days, half_life_days, memory_limit=None):
    """The DuckDB side, run as a child process (so it is measured like Throughline), over the
    files listed in `inputs` (see committed_inputs)."""
    import duckdb
    import tomllib

    with open(inputs) as f:
        files = json.load(f)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute(f"SET temp_directory = '{os.path.join(os.path.dirname(out), 'spill')}'")
    if memory_limit:  # the same binary units as THROUGHLINE_MEMORY_LIMIT
        text = memory_limit.strip().upper()
        con.execute(f"SET memory_limit = '{int(text) // 1024}KiB'" if text.isdigit() else
                    f"SET memory_limit = '{text}iB'")
    with open(os.path.join(ROOT, "crates", "model", "channels.toml"), "rb") as f:
        rules = tomllib.load(f)
    entries = []
    lists = dict(rules["categories"])
    lists.update({f"platform:{name.lower()}": p.get("sources", []) for name, p in rules["platforms"].items()})
    for category, values in lists.items():
        for raw in values:
            v = raw.strip().lower()
            if v.startswith("!"):
                entries.append((category, "excluded", v[1:].strip()))
            elif v.endswith(".*"):
                entries += [(category, "name", v[:-2]), (category, "brand", v[:-2])]
            elif "." in v:
                entries.append((category, "domain", v))
            else:
                entries.append((category, "name", v))
    con.execute("CREATE TEMP TABLE channel_sources (category VARCHAR, kind VARCHAR, entry VARCHAR)")
    con.executemany("INSERT INTO channel_sources VALUES (?, ?, ?)", entries)
    con.execute("CREATE TEMP TABLE channel_click_ids (click_id_type VARCHAR, platform VARCHAR, source VARCHAR, medium VARCHAR)")
    con.executemany("INSERT INTO channel_click_ids VALUES (?, ?, ?, ?)", [
        (k.strip().lower(), c["platform"].strip().lower(), c["source"].strip().lower(), c["medium"].strip().lower())
        for k, c in rules["click_ids"].items()])

    values = {name: repr(files[name]) for name in DUCKDB_INPUTS}  # DuckDB list literals
    values.update({"lookback_days": str(int(lookback_days)), "half_life_days": repr(float(half_life_days)),
                   "out": out})
    for name in ("channels.sql", "attribution.sql"):
        with open(os.path.join(HERE, "duckdb", name)) as f:
            sql = f.read()
        for key, value in values.items():
            sql = sql.replace("${" + key + "}", value)
        con.execute(sql)
    rows = con.sql(f"SELECT count(*) FROM read_parquet('{out}/*/*.parquet')").fetchall()[0][0]
    print(f"duckdb {duckdb.__version__}: {rows} rows")
    return 0


def compare(lake, tenant, out):
    """Throughline's committed output (the files the attribution table's Delta log names)
    against DuckDB's, row by row."""
    import duckdb

    from lake_tables import current_files  # tests/lake_tables.py

    files = [os.path.join(lake, f) for f in current_files(lake, "attribution", tenant)]
    if not files:
        sys.exit("no attribution files in the Delta log: did the job commit?")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW tl AS SELECT * FROM read_parquet({files!r}, hive_partitioning = false)")
    con.execute(f"CREATE VIEW dk AS SELECT * EXCLUDE (date) FROM read_parquet('{out}/*/*.parquet', hive_partitioning = true)")
    key = "conversion_id, model, coalesce(event_id, '') AS touch"
    for name in ("tl", "dk"):
        dupes = con.sql(f"SELECT {key}, count(*) n FROM {name} GROUP BY ALL HAVING n > 1 LIMIT 5").fetchall()
        if dupes:
            sys.exit(f"{name}: more than one row per (conversion, model, touchpoint): {dupes}")
    con.execute(f"""
        CREATE TEMP TABLE pairs AS
        SELECT tl.*, {", ".join(f"dk.{c} AS dk_{c}" for c in ["conversion_id", "model", "event_id", "credit",
                                                                "days_to_conversion", *EXACT])}
        FROM (SELECT *, {key} FROM tl) tl
        FULL OUTER JOIN (SELECT *, {key} FROM dk) dk
          ON tl.conversion_id = dk.conversion_id AND tl.model = dk.model AND tl.touch = dk.touch""")
    strict = " OR ".join(
        [f"{c} IS DISTINCT FROM dk_{c}" for c in EXACT if c not in MONEY]
        + ["conversion_id IS NULL", "dk_conversion_id IS NULL", "abs(credit - dk_credit) > 1e-9",
           "(days_to_conversion IS NULL) <> (dk_days_to_conversion IS NULL)",
           "abs(days_to_conversion - dk_days_to_conversion) > 1e-9"])
    money_differs = " OR ".join(f"{c} IS DISTINCT FROM dk_{c}" for c in MONEY)
    # Money is split by rounding R x (cumulative credit) in minor units (docs/MODELS.md). The
    # cumulative credits of the other models are exact fractions, so their splits must be
    # equal. time_decay's are floating-point (powers of 2 and their running sums, summed in
    # the same order by both engines: equal to the bit so far); should an engine's last bit
    # ever differ where R x C_i is within it of half a unit, one minor unit would move to
    # the neighbouring touch. Allowed for time_decay only, and reported: one minor unit per
    # row at most, and the same total per conversion and model.
    money_ok = f"""
        SELECT count(*) FROM pairs
        WHERE ({money_differs}) AND (model IS DISTINCT FROM 'time_decay'
                                     OR abs(revenue_credit - dk_revenue_credit) > 0.01
                                     OR abs(margin_credit - dk_margin_credit) > 0.01)"""
    totals = """
        SELECT count(*) FROM (
            SELECT conversion_id, model FROM pairs GROUP BY ALL
            HAVING sum(revenue_credit) <> sum(dk_revenue_credit) OR sum(margin_credit) <> sum(dk_margin_credit))"""
    bad = con.sql(f"SELECT count(*) FROM pairs WHERE {strict}").fetchall()[0][0]
    bad_money = con.sql(money_ok).fetchall()[0][0] + con.sql(totals).fetchall()[0][0]
    total = con.sql("SELECT count(*) FROM tl").fetchall()[0][0]
    models = [m for (m,) in con.sql("SELECT DISTINCT model FROM tl ORDER BY 1").fetchall()]
    if bad or bad_money:
        print(f"\nDIFFERENT RESULTS: {bad:,} of {total:,} rows differ, {bad_money:,} money splits differ by more "
              f"than a time_decay tie (Throughline | DuckDB); the first:", file=sys.stderr)
        columns = ["conversion_id", "model", "event_id", "credit", *EXACT, "days_to_conversion"]
        select = ", ".join(f"{c}, dk_{c}" for c in columns)
        where = strict if bad else money_differs
        for row in con.sql(f"SELECT {select} FROM pairs WHERE {where} ORDER BY coalesce(conversion_id, "
                           f"dk_conversion_id), coalesce(model, dk_model), touch LIMIT 10").fetchall():
            pairs = [(c, row[2 * i], row[2 * i + 1]) for i, c in enumerate(columns)]
            print("  " + "; ".join(f"{c}: {a!r} | {b!r}" if a != b else f"{c}: {a!r}" for c, a, b in pairs),
                  file=sys.stderr)
        sys.exit(1)
    if total and sorted(models) != sorted(MODELS):
        sys.exit(f"Throughline's output has models {models}, expected {MODELS}")
    ties = con.sql(f"SELECT count(*) FROM pairs WHERE {money_differs}").fetchall()[0][0]
    return total, ties


if __name__ == "__main__":
    sys.exit(main())
