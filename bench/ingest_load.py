#!/usr/bin/env python3
"""Load test of `throughline serve` on loopback: sustained accepted beacons/s and webhooks/s
with p50/p99 latency, durability on (a 200 is sent only after the rows are stored in the
lake), then a count of the stored rows (those the tables' Delta logs name, read with
Python's deltalake) to show that every accepted event is there.

The load comes from wrk (a C load generator; the script installs it with apt when missing)
with a Lua script that makes every request unique. Results go to docs/BENCHMARKS.md.

    python bench/ingest_load.py --cli target/release/throughline [--duration 30] [--connections 64]
    python bench/ingest_load.py --cli … --duration 2 --connections 4   # CI: the harness runs
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from lake_tables import read_table, table_exists  # noqa: E402  (tests/lake_tables.py)

BEACON_LUA = r"""
local counter = 0
local thread_id = 0
function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
end
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "text/plain"
  wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36"
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"event_id":"load-%d-%d","ts":"2026-11-24T12:%02d:%02dZ","visitor_id":"v%d",' ..
    '"url":"https://shop.example/landing?utm_source=google&utm_medium=cpc&utm_campaign=c%d&gclid=g%d-%d",' ..
    '"referrer":"https://www.google.com/"}',
    id, counter, counter % 60, counter % 60, counter % 5000, counter % 40, id, counter)
  return wrk.format(nil, nil, nil, body)
end
"""

WEBHOOK_LUA = r"""
local counter = 0
local thread_id = 0
function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
end
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"table":"deal_events","record":{"event_id":"wh-%d-%d","deal_id":"d%d","lead_id":"l%d",' ..
    '"ts":"2026-11-24T12:00:00Z","type":"stage_changed","stage":"proposal","amount":"1200.00","currency":"UAH"}}',
    id, counter, counter, counter)
  return wrk.format(nil, nil, nil, body)
end
"""


def ensure_wrk():
    if shutil.which("wrk"):
        return "wrk"
    print("installing wrk (apt)", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], env=env, check=True, capture_output=True)
    return "wrk"


def start_server(cli, lake, log=subprocess.DEVNULL):
    # Warnings and errors go to `log`, printed when an answer was not 2xx.
    proc = subprocess.Popen(
        [cli, "--lake", str(lake), "serve", "--addr", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=log, text=True,
        env=dict(os.environ, THROUGHLINE_LOG="warn"),
    )
    line = proc.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    if not match:
        proc.kill()
        sys.exit(f"server did not start: {line!r}")
    return proc, match.group(1)


def parse_wrk(text):
    def latency(pct):
        m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if not m:
            return None
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    total = int(re.search(r"(\d+) requests in", text).group(1))
    seconds = re.search(r"requests in ([\d.]+)(ms|s|m)", text)
    secs = float(seconds.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[seconds.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)", text)
    non_2xx = int(errors.group(1)) if errors else 0
    return {
        "requests": total,
        "seconds": secs,
        "accepted": total - non_2xx,
        "non_2xx": non_2xx,
        "socket_errors": socket_errors.group(1).strip() if socket_errors else "",
        "p50_ms": latency(50),
        "p99_ms": latency(99),
    }


def run_wrk(wrk, url, lua, duration, connections, threads, workdir):
    script = workdir / "load.lua"
    script.write_text(lua)
    out = subprocess.run(
        [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout
    return parse_wrk(out), out


def stored_rows(lake, table, tenant):
    """Distinct events of the tenant in the files the table's Delta log names."""
    import duckdb
    if not table_exists(lake, table):
        return 0
    con = duckdb.connect()
    con.register("stored", read_table(lake, table, tenant, columns=["event_id"]))
    return con.execute("SELECT count(DISTINCT event_id) FROM stored").fetchone()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli", required=True, help="the throughline binary (a release build for real figures)")
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (the server gets the rest of the cores)")
    args = parser.parse_args()
    wrk = ensure_wrk()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="throughline-load-") as tmp:
        workdir = Path(tmp)
        lake = workdir / "lake"
        subprocess.run([args.cli, "--lake", str(lake), "tenants", "add", "--tenant", "load", "--name", "Load"], check=True, capture_output=True)
        key = lambda scope: subprocess.run(
            [args.cli, "--lake", str(lake), "keys", "create", "--tenant", "load", "--scope", scope],
            check=True, capture_output=True, text=True,
        ).stdout.split()[-1]
        # Beacons carry the public key a web page embeds; deal events are money and need a server key.
        ingest_key, server_key = key("ingest"), key("server")
        server_log = workdir / "server.log"
        proc, base = start_server(args.cli, lake, server_log.open("w"))
        try:
            results = []
            for name, path, lua, table, path_key in [
                ("beacons (POST /v1/events, 1 touchpoint each)", "/v1/events", BEACON_LUA, "touchpoints", ingest_key),
                ("webhooks (POST /v1/webhooks/generic, 1 deal event each)", "/v1/webhooks/generic", WEBHOOK_LUA, "deal_events", server_key),
            ]:
                url = f"{base}{path}?key={path_key}"
                result, raw = run_wrk(wrk, url, lua, args.duration, args.connections, args.threads, workdir)
                time.sleep(0.5)  # answers in flight when wrk stopped
                result["stored"] = stored_rows(lake, table, "load")
                result["name"] = name
                results.append(result)
                if result["stored"] < result["accepted"]:
                    failures += 1
                    print(f"LOST: {name}: {result['accepted']} acknowledged, {result['stored']} stored", file=sys.stderr)
                if result["non_2xx"]:
                    failures += 1
                    print(f"REFUSED: {name}: {result['non_2xx']} answers were not 2xx", file=sys.stderr)
                if result["non_2xx"] or result["socket_errors"]:
                    print(raw, file=sys.stderr)
                    errors = [l for l in server_log.read_text().splitlines() if "ERROR" in l]
                    print("the server's errors:", *errors[-20:], sep="\n", file=sys.stderr)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"\nthroughline serve on loopback, wrk -t{args.threads} -c{args.connections} -d{args.duration}s, {os.cpu_count()} cores")
    print(f"| load | accepted/s | p50 ms | p99 ms | acknowledged | stored | non-2xx |")
    print(f"|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['name']} | {r['accepted'] / r['seconds']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['accepted']:,} | {r['stored']:,} | {r['non_2xx']} |")
    print(json.dumps(results), file=sys.stderr) if os.environ.get("THROUGHLINE_BENCH_JSON") else None
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
