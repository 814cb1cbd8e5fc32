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
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Runtime:
    """The parts of the Lambda runtime API a function uses: next, response, error."""

    def __init__(self):
        self.events = queue.Queue()
        self.responses = queue.Queue()
        self.first_poll = threading.Event()
        self.first_poll_at = None
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/invocation/next"):
                    self.send_error(404)
                    return
                if not runtime.first_poll.is_set():
                    runtime.first_poll_at = time.perf_counter()
                    runtime.first_poll.set()
                request_id, body = runtime.events.get()
                runtime.sent_at = time.perf_counter()
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-central-1:123456789012:function:bench")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                runtime.responses.put((time.perf_counter(), self.path, body))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def http_event(method, path, headers, body=None, query=None, path_params=None):
    return {
        "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "queryStringParameters": query, "pathParameters": path_params,
        "headers": {"content-type": "application/json", **headers},
        "requestContext": {"accountId": "123456789012", "apiId": "bench", "domainName": "bench.local",
                           "domainPrefix": "bench", "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                           "sourceIp": "203.0.113.7", "userAgent": "bench"}, "requestId": "r", "routeKey": f"{method} {path}",
                           "stage": "$default", "time": "24/Nov/2026:10:00:00 +0000", "timeEpoch": 1795514400000},
        "body": body, "isBase64Encoded": False,
    }


def run_function(binary, env, events, cold):
    """Starts the binary `cold` times for init times, the last time serving `events`."""
    inits, latencies = [], []
    for attempt in range(cold):
        runtime = Runtime()
        started = time.perf_counter()
        proc = subprocess.Popen([binary], env={**env, "AWS_LAMBDA_RUNTIME_API": runtime.address},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not runtime.first_poll.wait(30):
                raise SystemExit(f"{binary} never polled for an event")
            inits.append((runtime.first_poll_at - started) * 1000)
            batch = events if attempt == cold - 1 else events[:1]
            for i, event in enumerate(batch):
                runtime.events.put((f"req-{attempt}-{i}", event))
                done_at, path, body = runtime.responses.get(timeout=120)
                if "/error" in path:
                    raise SystemExit(f"{binary} failed: {body[:500]}")
                if attempt == cold - 1:
                    latencies.append((done_at - runtime.sent_at) * 1000)
        finally:
            proc.kill()
            proc.wait()
            runtime.server.shutdown()
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
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        cli = lambda *a: subprocess.run([args.cli, "--lake", str(lake), *a], check=True, capture_output=True, text=True).stdout
        for table in ["touchpoints", "leads", "deal_events", "orders", "ad_costs"]:
            cli("import", "--tenant", "demo", "--table", table, "--phone-country", "380", str(root / "samplesdata" / f"{table}.csv"))
        cli("tenants", "add", "--tenant", "demo", "--name", "Demo")
        ingest = cli("keys", "create", "--tenant", "demo", "--scope", "ingest").strip()
        read = cli("keys", "create", "--tenant", "demo", "--scope", "read").strip()
        cli("attribute", "--tenant", "demo")
        env = {**os.environ, "THROUGHLINE_LAKE": str(lake), "THROUGHLINE_LOG": "warn",
               "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048",
               "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
               "AWS_LAMBDA_LOG_STREAM_NAME": "bench", "AWS_REGION": "eu-central-1"}
        env.pop("THROUGHLINE_STATE_TABLE", None)
        auth = {"authorization": f"Bearer {ingest}"}
        n = args.warm
        beacon = lambda i: json.dumps({"event_id": f"bench-{i}", "ts": "2026-08-01T10:00:00+03:00", "visitor_id": "v1",
                                        "url": "https://kukhni.ua/?utm_source=google&utm_medium=cpc&gclid=G"})
        deal = lambda i: json.dumps({"table": "deal_events", "record": {"event_id": f"bench-{i}", "deal_id": f"D{i}",
                                     "ts": "2026-08-05T10:00:00+03:00", "type": "created", "stage": "new"}})
        plans = {
            "collect": [http_event("POST", "/v1/events", auth, beacon(i)) for i in range(n + 1)],
            "crm-webhook": [http_event("POST", "/v1/webhooks/generic", auth, deal(i), path_params={"crm": "generic"}) for i in range(n + 1)],
            "query": [http_event("GET", "/v1/kpi", {"authorization": f"Bearer {read}"}, query={"group_by": "campaign"}) for _ in range(min(n, 30) + 1)],
            "ad-costs": [{"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}} for _ in range(min(n, 30) + 1)],
            "attribute": [{"tenant": "demo"} for _ in range(6)],
        }
        rows = []
        for name, events in plans.items():
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
