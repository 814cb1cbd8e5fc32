"""Reads a Throughline lake with independent readers, the way an analyst or Athena would,
and checks it against the demo CSV files: Python's `deltalake` follows each table's Delta
log (tests/lake_tables.py), DuckDB queries its Arrow output, pyarrow opens the data files.
A valid Parquet file that no commit names (a crashed job's leftover) is then planted beside
the committed ones, and a real job is killed after writing files but before its commit:
deltalake, DuckDB and `throughline sql` must count neither.

Usage: python tests/read_back.py --bin path/to/throughline
"""

import argparse
import csv
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lake_tables import (  # noqa: E402
    ATTRIBUTION, ROLLUP_TABLES, current_files, open_table, read_table, register, table_exists,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samplesdata"
TENANT = "demo"
TABLES = ["touchpoints", "leads", "deal_events", "orders", "ad_costs"]
results = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    if condition:
        results["passed"] += 1
        print(f"ok   {name}")
    else:
        results["failed"] += 1
        print(f"FAIL {name} {detail}")


def csv_rows(table):
    with open(SAMPLES / f"{table}.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="the throughline binary")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        subprocess.run([args.bin, "demo", "--keep", str(lake)], check=True, stdout=subprocess.DEVNULL)
        check_tables(lake)
        check_attribution(lake)
        check_rollups(lake)
        check_sql_counts(args.bin, lake)
        check_uncommitted_files(args.bin, lake)
        check_killed_job(args.bin, lake)
    print(f"read-back: {results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


def check_table_files(lake, table, partitions):
    """The table is a Delta table with these partition columns, and every data file its log
    names for the tenant is on disk."""
    check(f"{table} is a Delta table (tables/{table}/_delta_log)", table_exists(lake, table))
    columns = open_table(lake, table).metadata().partition_columns
    check(f"{table} is partitioned by {', '.join(partitions)}", list(columns) == partitions, str(columns))
    files = current_files(lake, table, TENANT)
    missing = [f for f in files if not (lake / f).is_file()]
    check(f"{table}: the log names files of tenant {TENANT}, all on disk", files and not missing, str(missing or files))


def check_tables(lake):
    db = duckdb.connect()
    for table in TABLES:
        check_table_files(lake, table, ["tenant", "date"])
        expected = len(csv_rows(table))
        rows = read_table(lake, table, TENANT)
        check(f"deltalake reads every {table} row", rows.num_rows == expected, f"{rows.num_rows} != {expected}")
        register(db, table, lake, table)  # every tenant's rows: the demo lake has one
        count = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        check(f"duckdb (over deltalake's Arrow) reads every {table} row", count == expected, f"{count} != {expected}")
        tenants = db.execute(f"SELECT DISTINCT tenant FROM {table}").fetchall()
        check(f"{table} is partitioned by tenant", tenants == [(TENANT,)], str(tenants))

    cost_type, total = db.execute("SELECT typeof(cost), sum(cost) FROM ad_costs GROUP BY 1").fetchone()
    expected = sum(Decimal(r["cost"]) for r in csv_rows("ad_costs"))
    check("money is decimal, not float", cost_type.startswith("DECIMAL"), cost_type)
    check("cost total matches the CSV exactly", Decimal(total) == expected, f"{total} != {expected}")
    arrow_total = sum(read_table(lake, "ad_costs", TENANT, columns=["cost"])["cost"].to_pylist())
    check("cost total matches the CSV exactly (deltalake)", arrow_total == expected, f"{arrow_total} != {expected}")
    date_type, by_date = db.execute("SELECT typeof(date), count(DISTINCT date) FROM ad_costs GROUP BY 1").fetchone()
    check("the date partition is a DATE", date_type == "DATE", date_type)
    check("ad_costs has one partition per day", by_date == len({r["date"] for r in csv_rows("ad_costs")}))

    columns = [c[0] for c in db.execute("DESCRIBE SELECT * FROM leads").fetchall()]
    check("no raw e-mail or phone column in leads", "email" not in columns and "phone" not in columns, str(columns))
    bad_hashes = db.execute(
        "SELECT count(*) FROM leads WHERE NOT regexp_full_match(email_sha256, '[0-9a-f]{64}')"
    ).fetchone()[0]
    check("e-mails are SHA-256 hex", bad_hashes == 0)
    ts_type = db.execute("SELECT typeof(ts) FROM leads LIMIT 1").fetchone()[0]
    check("timestamps are UTC-adjusted", ts_type == "TIMESTAMP WITH TIME ZONE", ts_type)

    first = current_files(lake, "touchpoints", TENANT)[0]
    codec = pq.ParquetFile(lake / first).metadata.row_group(0).column(0).compression
    check("files are zstd-compressed", codec == "ZSTD", f"{first}: {codec}")


def check_attribution(lake):
    check_table_files(lake, ATTRIBUTION, ["tenant", "date"])
    table = read_table(lake, ATTRIBUTION, TENANT)
    rows = table.to_pylist()
    sums = {}
    revenue = {}
    for r in rows:
        key = (r["conversion_id"], r["model"])
        sums[key] = sums.get(key, 0.0) + r["credit"]
        if r["conversion_type"] == "deal_won":
            revenue[r["model"]] = revenue.get(r["model"], Decimal(0)) + r["revenue_credit"]
    check("credits of every conversion sum to 1 (deltalake)", sums and all(abs(s - 1) < 1e-9 for s in sums.values()))
    db = duckdb.connect()
    register(db, ATTRIBUTION, lake, ATTRIBUTION, TENANT)
    off = db.execute(
        f"SELECT count(*) FROM (SELECT conversion_id, model FROM {ATTRIBUTION} GROUP BY ALL HAVING abs(sum(credit) - 1) >= 1e-9)"
    ).fetchone()[0]
    conversions = db.execute(f"SELECT count(*) FROM (SELECT DISTINCT conversion_id, model FROM {ATTRIBUTION})").fetchone()[0]
    check("credits of every conversion sum to 1 (duckdb over deltalake's Arrow)", off == 0 and conversions == len(sums),
          f"{off} off, {conversions} conversions x models (deltalake: {len(sums)})")
    models = {m for (_, m) in sums}
    check("all six models are present", len(models) == 6, str(models))
    won = Decimal(0)
    latest = {}
    seen = set()
    for e in sorted(csv_rows("deal_events"), key=lambda e: (e["ts"], e["event_id"])):
        if e["amount"]:
            latest[e["deal_id"]] = Decimal(e["amount"])
        if e["type"] == "won" and e["deal_id"] not in seen:
            seen.add(e["deal_id"])
            won += latest.get(e["deal_id"], Decimal(0))
    check(
        "every model's revenue credit adds up to the won deals exactly",
        all(v == won for v in revenue.values()) and len(revenue) == 6,
        f"{revenue} != {won}",
    )


def check_rollups(lake):
    """The KPI rollups the job wrote (if it wrote them): Delta tables partitioned by tenant only."""
    for table in ROLLUP_TABLES:
        if not table_exists(lake, table):
            continue
        columns = list(open_table(lake, table).metadata().partition_columns)
        check(f"{table} is a Delta table partitioned by tenant only", columns == ["tenant"], str(columns))
        tenants = set(read_table(lake, table, columns=["tenant"])["tenant"].to_pylist())
        check(f"{table} holds tenant {TENANT}'s rows only", tenants <= {TENANT}, str(tenants))


def sql_count(cli, lake, table):
    """`throughline sql`'s count of the tenant's rows of a table."""
    out = subprocess.run(
        [cli, "--lake", str(lake), "sql", "--tenant", TENANT, "--format", "csv", f"SELECT count(*) AS n FROM {table}"],
        capture_output=True, text=True, env={k: v for k, v in os.environ.items() if not k.startswith("THROUGHLINE_")},
    )
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    if out.returncode != 0 or len(rows) != 1:
        return f"exit {out.returncode}: {out.stdout.strip()} {out.stderr.strip()[-500:]}"
    return int(rows[0]["n"])


def check_sql_counts(cli, lake):
    for table in TABLES + [ATTRIBUTION]:
        expected = read_table(lake, table, TENANT, columns=["tenant"]).num_rows
        got = sql_count(cli, lake, table)
        check(f"`throughline sql` counts deltalake's {expected} {table} rows", got == expected, str(got))


def check_uncommitted_files(cli, lake):
    """A crashed job leaves a data file that no commit names: a copy of a committed file,
    under a new name in the same partition directory. Readers of the log ignore it."""
    for table in ["touchpoints", ATTRIBUTION]:
        before = read_table(lake, table, TENANT).num_rows
        files = current_files(lake, table, TENANT)
        source = lake / files[0]
        planted = source.with_name(f"part-{uuid.uuid4()}.parquet")
        shutil.copyfile(source, planted)
        planted_rows = pq.ParquetFile(planted).metadata.num_rows
        check(f"{table}: a valid Parquet file of {planted_rows} rows is planted in {planted.parent.relative_to(lake)}",
              planted_rows > 0)
        glob = str(lake / "tables" / table / f"tenant={TENANT}" / "*" / "*.parquet")
        globbed = duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}')").fetchall()[0][0]
        check(f"{table}: a glob of *.parquet would count the planted rows ({globbed} >= {before} + {planted_rows})",
              globbed >= before + planted_rows)
        check(f"{table}: the log does not name the planted file", current_files(lake, table, TENANT) == files)
        check_counts(cli, lake, table, before, f"{table}, with the planted file")


def check_killed_job(cli, lake):
    """`throughline attribute` stopped (SIGSTOP) as soon as it has written a data file of
    `attribution`, and killed there if its commit is not in yet: its files stay on disk,
    named by no version. Tried until the stop lands before the commit."""
    table_dir = lake / "tables" / ATTRIBUTION / f"tenant={TENANT}"
    version, rows = open_table(lake, ATTRIBUTION).version(), read_table(lake, ATTRIBUTION, TENANT).num_rows
    known = set(table_dir.rglob("*.parquet"))
    leftovers = []
    for _ in range(10):
        job = subprocess.Popen([cli, "--lake", str(lake), "attribute", "--tenant", TENANT],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while job.poll() is None:
            written = [p for p in table_dir.rglob("*.parquet") if p not in known]
            if written:
                job.send_signal(signal.SIGSTOP)
                if open_table(lake, ATTRIBUTION).version() == version:
                    leftovers = written
                break
        job.kill()
        job.wait()
        if leftovers:
            break
        # The commit got in first: that run is the new baseline.
        version, rows = open_table(lake, ATTRIBUTION).version(), read_table(lake, ATTRIBUTION, TENANT).num_rows
        known = set(table_dir.rglob("*.parquet"))
    check(f"a job was killed after writing {len(leftovers)} data file(s) of attribution, before its commit",
          bool(leftovers))
    if not leftovers:
        return
    check("the killed job's files are on disk", all(p.is_file() for p in leftovers))
    check(f"attribution is still at version {version}", open_table(lake, ATTRIBUTION).version() == version)
    check_counts(cli, lake, ATTRIBUTION, rows, "attribution, after the killed job")
    subprocess.run([cli, "--lake", str(lake), "lake", "vacuum", "--retention-hours", "0"], check=True,
                   stdout=subprocess.DEVNULL)
    check("`throughline lake vacuum --retention-hours 0` deletes the killed job's files",
          not any(p.exists() for p in leftovers))
    check_counts(cli, lake, ATTRIBUTION, rows, "attribution, after vacuum")


def check_counts(cli, lake, table, rows, when):
    """deltalake, DuckDB over its Arrow output and `throughline sql` count `rows` rows."""
    got = read_table(lake, table, TENANT).num_rows
    check(f"{when}: deltalake reads {rows} rows", got == rows, str(got))
    db = duckdb.connect()
    register(db, table, lake, table, TENANT)
    got = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    check(f"{when}: duckdb over deltalake's Arrow counts {rows} rows", got == rows, str(got))
    got = sql_count(cli, lake, table)
    check(f"{when}: `throughline sql` counts {rows} rows", got == rows, str(got))


if __name__ == "__main__":
    sys.exit(main())
