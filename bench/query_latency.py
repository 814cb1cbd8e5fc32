#!/usr/bin/env python3
"""Latency of the KPI API (`GET /v1/kpi`) on `throughline serve`, per grouping: the first
answer (the tenant's engine opens) and p50/p95 of the next ones, over a lake that already
holds attribution (e.g. `throughline demo --keep DIR`). Results go to docs/BENCHMARKS.md.

    throughline demo --keep /tmp/demo
    python bench/query_latency.py --cli target/release/throughline --lake /tmp/demo --tenant demo [--requests 50]
"""
import argparse
import re
import statistics
import subprocess
import sys
import time
import urllib.request


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli", required=True)
    parser.add_argument("--lake", required=True)
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    cli = lambda *a: subprocess.run([args.cli, "--lake", args.lake, *a], check=True, capture_output=True, text=True).stdout
    cli("tenants", "add", "--tenant", args.tenant, "--name", args.tenant)
    key = cli("keys", "create", "--tenant", args.tenant, "--scope", "read").split()[-1]
    proc = subprocess.Popen([args.cli, "--lake", args.lake, "serve", "--addr", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = re.search(r"(http://\S+)", proc.stdout.readline()).group(1)
        rows = []
        for group in ["channel", "campaign", "source_medium", "platform"]:
            url = f"{base}/v1/kpi?group_by={group}&format=json&key={key}"
            times = []
            for _ in range(args.requests + 1):
                start = time.perf_counter()
                with urllib.request.urlopen(url) as answer:
                    answer.read()
                    assert answer.status == 200
                times.append((time.perf_counter() - start) * 1000)
            first, rest = times[0], sorted(times[1:])
            p95 = rest[max(0, int(round(0.95 * len(rest))) - 1)]
            rows.append((group, first, statistics.median(rest), p95))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"| KPI by | first answer ms | p50 ms | p95 ms |  ({args.requests} answers after the first)")
    print("|---|---:|---:|---:|")
    for group, first, p50, p95 in rows:
        print(f"| {group} | {first:.0f} | {p50:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
