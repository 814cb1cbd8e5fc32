#!/usr/bin/env python3
"""How the touchpoints table's Delta log behaves under per-request commits, the way a
Lambda `collect` instance writes (one request at a time, so every beacon is its own
commit): commit latency as the log grows, the log's size, checkpoint sizes, the cost of
opening the table cold, and what a compaction does to them. Results go to docs/LAKE.md.

    python bench/delta_log.py --cli target/release/throughline [--commits 20000] [--sample 2000]

One `throughline serve` on a fresh local lake gets `--commits` beacons, one request at a
time over one connection (each is its own group-commit flush, hence one Delta commit).
Every `--sample` commits it reports the block's p50/p99 answer time, the log's entries
and bytes, the newest checkpoint's size, and the wall time of a fresh process counting
the table (`throughline sql`: opens the log from its newest checkpoint). Then `throughline
lake optimize` merges the small files, `--sample` more beacons make the next checkpoints,
and the same figures are taken again. The stored count must equal the beacons sent.
"""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_load import start_server  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from lake_tables import current_files  # noqa: E402

TENANT = "load"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli", required=True, help="the throughline binary (a release build for real figures)")
    parser.add_argument("--commits", type=int, default=20_000)
    parser.add_argument("--sample", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="throughline-log-") as tmp:
        lake = Path(tmp) / "lake"
        cli = lambda *a: subprocess.run([args.cli, "--lake", str(lake), *a], check=True,  # noqa: E731
                                        capture_output=True, text=True).stdout
        cli("tenants", "add", "--tenant", TENANT, "--name", "Log growth")
        key = cli("keys", "create", "--tenant", TENANT, "--scope", "ingest").split()[-1]
        proc, base = start_server(args.cli, lake)
        rows = []
        try:
            url = urllib.parse.urlsplit(base)
            conn = http.client.HTTPConnection(url.hostname, url.port)
            sent = 0
            while sent < args.commits:
                block = send(conn, key, sent, args.sample)
                sent += args.sample
                rows.append(measure(args.cli, lake, f"{sent:,} commits", block, sent))
            started = time.perf_counter()
            cli("lake", "optimize", "--tenant", TENANT)
            optimize_s = time.perf_counter() - started
            block = send(conn, key, sent, args.sample)
            sent += args.sample
            rows.append(measure(args.cli, lake, f"optimize ({optimize_s:.1f} s), then {args.sample:,} more",
                                block, sent))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"\nper-request commits to touchpoints (one beacon each, one connection), {os.cpu_count()} cores")
    print("| after | p50 ms | p99 ms | log entries | log MiB | newest checkpoint KiB | live files | files on disk | cold count s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['label']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['entries']:,} | {r['log_mib']:.1f} "
              f"| {r['checkpoint_kib']:,.0f} | {r['live_files']:,} | {r['data_files']:,} | {r['cold_count_s']:.2f} |")
    if os.environ.get("THROUGHLINE_BENCH_JSON"):
        print(json.dumps(rows), file=sys.stderr)


def send(conn, key, first, count):
    """`count` beacons, one request each; the answer times in ms."""
    times = []
    for i in range(first, first + count):
        body = json.dumps({
            "event_id": f"log-{i}", "ts": "2026-11-24T12:00:00Z", "visitor_id": f"v{i % 5000}",
            "url": f"https://shop.example/landing?utm_source=google&utm_medium=cpc&gclid=g{i}",
        })
        start = time.perf_counter()
        conn.request("POST", f"/v1/events?key={key}", body, {"Content-Type": "text/plain"})
        answer = conn.getresponse()
        answer.read()
        times.append((time.perf_counter() - start) * 1000)
        if answer.status != 200:
            sys.exit(f"beacon {i}: HTTP {answer.status}")
    return times


def measure(cli, lake, label, times, sent):
    log = lake / "tables" / "touchpoints" / "_delta_log"
    entries = list(log.glob("*.json"))
    checkpoints = sorted(log.glob("*.checkpoint*.parquet"))
    data_files = sum(1 for _ in (lake / "tables" / "touchpoints").rglob("*.parquet")) - len(checkpoints)
    started = time.perf_counter()
    out = subprocess.run([cli, "--lake", str(lake), "sql", "--tenant", TENANT, "--format", "csv",
                          "SELECT count(*) AS n FROM touchpoints"], check=True, capture_output=True, text=True).stdout
    cold = time.perf_counter() - started
    stored = int(out.split()[-1])
    if stored != sent:
        sys.exit(f"{label}: {sent} beacons acknowledged, {stored} stored")
    ordered = sorted(times)
    return {
        "label": label,
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[max(0, int(round(0.99 * len(ordered))) - 1)],
        "entries": len(entries),
        "log_mib": sum(p.stat().st_size for p in log.iterdir() if p.is_file()) / 2 ** 20,
        "checkpoint_kib": checkpoints[-1].stat().st_size / 1024 if checkpoints else 0,
        "data_files": data_files,
        "live_files": len(current_files(lake, "touchpoints", TENANT)),
        "cold_count_s": cold,
    }


if __name__ == "__main__":
    main()
