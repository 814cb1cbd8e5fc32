"""Reads a Throughline lake with independent readers (DuckDB and pyarrow), the way an
analyst or Athena would, and checks it against the demo CSV files.

Usage: python tests/read_back.py --bin path/to/throughline
"""

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samplesdata"
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
    print(f"read-back: {results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


def check_tables(lake):
    db = duckdb.connect()
    for table in TABLES:
        glob = str(lake / "tables" / table / "**" / "*.parquet")
        count = db.execute(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = true)").fetchone()[0]
        check(f"duckdb reads every {table} row", count == len(csv_rows(table)), f"{count} != {len(csv_rows(table))}")
        tenants = db.execute(f"SELECT DISTINCT tenant FROM read_parquet('{glob}', hive_partitioning = true)").fetchall()
        check(f"{table} is partitioned by tenant", tenants == [("demo",)], str(tenants))

    costs = str(lake / "tables" / "ad_costs" / "**" / "*.parquet")
    cost_type, total = db.execute(
        f"SELECT typeof(cost), sum(cost) FROM read_parquet('{costs}', hive_partitioning = true) GROUP BY 1"
    ).fetchone()
    expected = sum(Decimal(r["cost"]) for r in csv_rows("ad_costs"))
    check("money is decimal, not float", cost_type.startswith("DECIMAL"), cost_type)
    check("cost total matches the CSV exactly", Decimal(total) == expected, f"{total} != {expected}")
    by_date = db.execute(
        f"SELECT count(DISTINCT date) FROM read_parquet('{costs}', hive_partitioning = true)"
    ).fetchone()[0]
    check("ad_costs has one partition per day", by_date == len({r["date"] for r in csv_rows("ad_costs")}))

    leads = str(lake / "tables" / "leads" / "**" / "*.parquet")
    columns = [c[0] for c in db.execute(f"DESCRIBE SELECT * FROM read_parquet('{leads}')").fetchall()]
    check("no raw e-mail or phone column in leads", "email" not in columns and "phone" not in columns, str(columns))
    bad_hashes = db.execute(
        f"SELECT count(*) FROM read_parquet('{leads}') WHERE NOT regexp_full_match(email_sha256, '[0-9a-f]{{64}}')"
    ).fetchone()[0]
    check("e-mails are SHA-256 hex", bad_hashes == 0)
    ts_type = db.execute(f"SELECT typeof(ts) FROM read_parquet('{leads}') LIMIT 1").fetchone()[0]
    check("timestamps are UTC-adjusted", ts_type == "TIMESTAMP WITH TIME ZONE", ts_type)

    compression = pq.ParquetFile(next((lake / "tables" / "touchpoints").rglob("*.parquet"))).metadata
    codec = compression.row_group(0).column(0).compression
    check("files are zstd-compressed", codec == "ZSTD", codec)


def check_attribution(lake):
    manifests = sorted((lake / "_manifests" / "attribution" / "tenant=demo").glob("*.json"))
    check("the job committed a manifest", len(manifests) >= 1)
    manifest = json.loads(manifests[-1].read_text())
    files = [str(lake / f) for day in manifest["files"].values() for f in day]
    on_disk = {str(p) for p in (lake / "tables" / "attribution").rglob("*.parquet")}
    check("every committed file exists and no stray file is left", set(files) == on_disk)
    table = pq.read_table(files)
    rows = table.to_pylist()
    sums = {}
    revenue = {}
    for r in rows:
        key = (r["conversion_id"], r["model"])
        sums[key] = sums.get(key, 0.0) + r["credit"]
        if r["conversion_type"] == "deal_won":
            revenue[r["model"]] = revenue.get(r["model"], Decimal(0)) + r["revenue_credit"]
    check("credits of every conversion sum to 1 (pyarrow)", all(abs(s - 1) < 1e-9 for s in sums.values()))
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


if __name__ == "__main__":
    sys.exit(main())
