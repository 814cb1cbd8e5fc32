"""Measures each Lambda function binary locally, the way the Lambda service runs it: a
minimal Lambda runtime API server (this file) hands out events; the binary polls it.

- size: the release binary, and the zip of it as `bootstrap` (the deployment package);
- init: process start -> the function's first `GET /runtime/invocation/next` (cold start
  work: config, clients, logging), median of --cold runs;
- warm: event handed out -> response received, median and p99 of --warm invocations.

The lake is a local directory (storage = local disk), the state store embedded.

Usage: python bench/lambda_functions.py --release-dir target/release --cli target/debug/throughline
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from lambda_api import SCHEDULED_EVENT, Function, http_event  # noqa: E402


def run_function(binary, env, events, cold):
    """Starts the binary `cold` times for init times; the last start serves every event."""
    inits, latencies = [], []
    for attempt in range(cold):
        function = Function(binary, env)
        try:
            inits.append(function.init_ms())
            batch = events if attempt == cold - 1 else events[:1]
            for event in batch:
                ok, response, ms = function.invoke(event)
                if not ok or (isinstance(response, dict) and response.get("statusCode", 200) >= 400):
                    raise SystemExit(f"{binary} failed: {str(response)[:500]}")
                if attempt == cold - 1:
                    latencies.append(ms)
        finally:
            function.close()
    return inits, latencies[1:]  # the first invocation after a cold start is not warm


def zip_size(binary):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(binary, "bootstrap")
        return path.stat().st_size


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--release-dir", required=True)
    parser.add_argument("--cli", required=True, help="a throughline binary, to prepare the lake")
    parser.add_argument("--cold", type=int, default=5)
    parser.add_argument("--warm", type=int, default=200)
    parser.add_argument("--functions", default="collect,crm-webhook,ad-costs,query,attribute")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        cli = lambda *a: subprocess.run([args.cli, "--lake", str(lake), *a], check=True, capture_output=True, text=True).stdout
        for table in ["touchpoints", "leads", "deal_events", "orders", "ad_costs"]:
            cli("import", "--tenant", "demo", "--table", table, "--phone-country", "380", str(root / "samplesdata" / f"{table}.csv"))
        cli("tenants", "add", "--tenant", "demo", "--name", "Demo")
        ingest = cli("keys", "create", "--tenant", "demo", "--scope", "ingest").strip()
        server = cli("keys", "create", "--tenant", "demo", "--scope", "server").strip()
        read = cli("keys", "create", "--tenant", "demo", "--scope", "read").strip()
        cli("attribute", "--tenant", "demo")
        env = {**os.environ, "THROUGHLINE_LAKE": str(lake), "THROUGHLINE_LOG": "warn"}
        env.pop("THROUGHLINE_STATE_TABLE", None)
        auth = {"authorization": f"Bearer {ingest}"}
        n = args.warm
        beacon = lambda i: json.dumps({"event_id": f"bench-{i}", "ts": "2026-08-01T10:00:00+03:00", "visitor_id": "v1",
                                        "url": "https://kukhni.ua/?utm_source=google&utm_medium=cpc&gclid=G"})
        deal = lambda i: json.dumps({"table": "deal_events", "record": {"event_id": f"bench-{i}", "deal_id": f"D{i}",
                                     "ts": "2026-08-05T10:00:00+03:00", "type": "created", "stage": "new"}})
        plans = {
            "collect": [http_event("POST", "/v1/events", auth, beacon(i)) for i in range(n + 1)],
            "crm-webhook": [http_event("POST", "/v1/webhooks/generic", {"authorization": f"Bearer {server}"}, deal(i), path_params={"crm": "generic"}) for i in range(n + 1)],
            "query": [http_event("GET", "/v1/kpi", {"authorization": f"Bearer {read}"}, query={"group_by": "campaign"}) for _ in range(min(n, 30) + 1)],
            "ad-costs": [SCHEDULED_EVENT for _ in range(min(n, 30) + 1)],
            "attribute": [{"tenant": "demo"} for _ in range(6)],
        }
        rows = []
        for name, events in plans.items():
            if name not in args.functions.split(","):
                continue
            binary = Path(args.release_dir) / name
            inits, warm = run_function(str(binary), env, events, args.cold)
            p99 = statistics.quantiles(warm, n=100)[98] if len(warm) >= 20 else max(warm)
            rows.append((name, binary.stat().st_size, zip_size(binary), statistics.median(inits), statistics.median(warm), p99, len(warm)))
    print("| function | binary | zip | init (median of %d) | warm median | warm p99 | warm invocations |" % args.cold)
    print("|---|---|---|---|---|---|---|")
    for name, size, zsize, init, med, p99, count in rows:
        print(f"| {name} | {size / 1e6:.1f} MB | {zsize / 1e6:.1f} MB | {init:.1f} ms | {med:.2f} ms | {p99:.2f} ms | {count} |")


if __name__ == "__main__":
    sys.exit(main())
