"""Drives every Lambda function binary through the real Lambda runtime API of
`cargo lambda watch --only-lambda-apis`, with `cargo lambda invoke` sending API Gateway v2
(HTTP API), Step Functions and EventBridge scheduled events, as AWS would. Each function
runs alone against the runtime API (cargo lambda serves it as `_`). The lake is a local
directory with the embedded state store; S3 and DynamoDB are covered by crates/cli/tests/serve.rs.

Usage: python tests/lambda_runtime.py --bin-dir target/debug
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lambda_api import LAMBDA_ENV, SCHEDULED_EVENT, http_event  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
results = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    results["passed" if condition else "failed"] += 1
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f" {detail}"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"cargo lambda watch did not listen on {port}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True, help="where throughline and the function binaries are")
    args = parser.parse_args()
    bins = Path(args.bin_dir)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lake = tmp / "lake"
        cli = lambda *a: subprocess.run([str(bins / "throughline"), "--lake", str(lake), *a], check=True, capture_output=True, text=True).stdout
        cli("tenants", "add", "--tenant", "shop", "--name", "Kukhni Dnipro")
        ingest = cli("keys", "create", "--tenant", "shop", "--scope", "ingest").strip()
        read = cli("keys", "create", "--tenant", "shop", "--scope", "read").strip()
        # The tenant config, deployed as `config push` stores it: the functions read it at start.
        config = tmp / "throughline.toml"
        config.write_text(LAMBDA_CONFIG)
        cli("config", "push", str(config))
        inbox = lake / "inbox" / "ad_costs" / "tenant=shop"
        inbox.mkdir(parents=True)
        inbox.joinpath("agency-fees.csv").write_text(
            "date,platform,account_id,campaign_id,campaign_name,cost,currency\n2026-08-01,google_ads,123,111,Brand,500.00,UAH\n"
        )
        port = free_port()
        env = {**os.environ, "THROUGHLINE_LAKE": str(lake), "THROUGHLINE_LOG": "info"}
        env.pop("THROUGHLINE_STATE_TABLE", None)
        watch = subprocess.Popen(
            ["cargo", "lambda", "watch", "--ignore-changes", "--only-lambda-apis", "--invoke-address", "127.0.0.1", "--invoke-port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(port)
            run_functions(bins, env, port, tmp, ingest, read)
        finally:
            watch.terminate()
            watch.wait(timeout=30)
    print(f"lambda-runtime: {results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


LAMBDA_CONFIG = """
[tenants.shop.crm.hubspot]
client_secret = "hs-secret"

[tenants.shop.links.tg-shop]
target = "https://t.me/shop_bot?start={token}"
utm_source = "instagram"
utm_medium = "social"
"""


def run_functions(bins, env, port, tmp, ingest, read):
    def start(name):
        log = open(tmp / f"{name}.log", "w")
        runtime = {**env, **LAMBDA_ENV, "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{port}/.rt"}
        return subprocess.Popen([str(bins / name)], env=runtime, stdout=log, stderr=log), tmp / f"{name}.log"

    def invoke(event):
        data = tmp / "event.json"
        data.write_text(json.dumps(event))
        out = subprocess.run(
            ["cargo", "lambda", "invoke", "_", "--invoke-address", "127.0.0.1", "--invoke-port", str(port),
             "--output-format", "json", "--data-file", str(data)],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )
        return json.loads(out.stdout) if out.returncode == 0 else {"invoke_error": out.stderr[-1500:]}

    def with_function(name, body):
        proc, log = start(name)
        try:
            body()
        finally:
            proc.kill()
            proc.wait()
        lines = [json.loads(l) for l in log.read_text().splitlines() if l.startswith("{")]
        check(f"{name} logs structured JSON with the request id", any("requestId" in json.dumps(l) for l in lines), log.read_text()[-500:])

    auth = {"authorization": f"Bearer {ingest}"}
    beacon = json.dumps([{"event_id": "e1", "ts": "2026-08-01T10:00:00+03:00", "visitor_id": "v1",
                          "url": "https://kukhni.ua/?utm_source=google&utm_medium=cpc&utm_id=111&gclid=G1"}])

    def collect():
        r = invoke(http_event("POST", "/v1/events", auth, beacon))
        check("collect stores a beacon (API Gateway v2 event)", r.get("statusCode") == 200 and json.loads(r["body"]) == {"accepted": 1, "duplicates": 0}, r)
        r = invoke(http_event("POST", "/v1/events", auth, beacon))
        check("collect stores a retried beacon once", r.get("statusCode") == 200 and json.loads(r["body"]) == {"accepted": 0, "duplicates": 1}, r)
        r = invoke(http_event("POST", "/v1/events", {"authorization": "Bearer tl_nope"}, beacon))
        check("collect answers 401 to a bad key", r.get("statusCode") == 401, r)
        r = invoke(http_event("POST", "/v1/events", auth, " " * (2 * 1024 * 1024)))
        check("collect answers 413 to an oversize body", r.get("statusCode") == 413, r)
        lead = json.dumps({"lead_id": "L1", "ts": "2026-08-01T10:05:00+03:00", "visitor_id": "v1"})
        r = invoke(http_event("POST", "/v1/leads", auth, lead))
        check("collect stores a lead", r.get("statusCode") == 200, r)

    def webhook():
        deal = json.dumps({"table": "deal_events", "records": [
            {"event_id": "d1", "deal_id": "D1", "lead_id": "L1", "ts": "2026-08-05T10:00:00+03:00",
             "type": "won", "amount": "90000.00", "currency": "UAH", "margin": "30000.00"}]})
        r = invoke(http_event("POST", "/v1/webhooks/generic", auth, deal, path_params={"crm": "generic"}))
        check("crm-webhook stores a deal", r.get("statusCode") == 200 and json.loads(r["body"])["accepted"] == 1, r)
        r = invoke(http_event("POST", "/v1/webhooks/generic", auth, "{oops", path_params={"crm": "generic"}))
        check("crm-webhook answers 400 with a reason", r.get("statusCode") == 400 and "malformed JSON" in r.get("body", ""), r)

    def vendor_webhooks():
        # API Gateway passes the Host header and X-Forwarded-Proto: HubSpot signs that URL.
        host = "hooks.example.test"
        hubspot = json.dumps([{"eventId": 1, "subscriptionType": "contact.creation", "objectId": 501,
                               "occurredAt": int(time.time() * 1000), "portalId": 7, "appId": 9}])
        ts = str(int(time.time() * 1000))
        url = f"https://{host}/v1/webhooks/hubspot?tenant=shop"
        signature = base64.b64encode(hmac.new(b"hs-secret", ("POST" + url + hubspot + ts).encode(), hashlib.sha256).digest()).decode()
        headers = {"host": host, "x-forwarded-proto": "https", "x-hubspot-signature-v3": signature, "x-hubspot-request-timestamp": ts}
        r = invoke(http_event("POST", "/v1/webhooks/hubspot", headers, hubspot, query={"tenant": "shop"}, path_params={"crm": "hubspot"}))
        check("crm-webhook verifies a HubSpot v3 signature over the URL API Gateway was called with", r.get("statusCode") == 200 and json.loads(r["body"])["accepted"] == 1, r)
        headers["x-hubspot-signature-v3"] = base64.b64encode(b"forged" * 5).decode()
        r = invoke(http_event("POST", "/v1/webhooks/hubspot", headers, hubspot, query={"tenant": "shop"}, path_params={"crm": "hubspot"}))
        check("crm-webhook answers 401 to a forged HubSpot delivery", r.get("statusCode") == 401, r)
        r = invoke(http_event("POST", "/v1/webhooks/hubspot", headers, hubspot, query={"tenant": "nobody"}, path_params={"crm": "hubspot"}))
        check("crm-webhook answers 404 for an unknown tenant", r.get("statusCode") == 404, r)

    def tracked_link():
        r = invoke(http_event("GET", "/r/tg-shop", {"host": "go.example.test", "user-agent": "Mozilla/5.0 (iPhone) Safari/604.1"},
                              query={"fbclid": "IwAR_lambda"}, path_params={"code": "tg-shop"}))
        location = (r.get("headers") or {}).get("location", "")
        check("collect redirects a tracked link to the messenger with a token", r.get("statusCode") == 302 and location.startswith("https://t.me/shop_bot?start="), r)

    def ad_costs():
        r = invoke(SCHEDULED_EVENT)
        check("ad-costs imports the inbox on its schedule", r.get("tenants", [{}])[0].get("import", {}).get("stored") == 1, r)

    def attribute():
        r = invoke({"tenant": "shop", "from": "2026-08-01", "to": "2026-08-31"})
        check("attribute runs a tenant's window (Step Functions input)", r.get("attributed", [{}])[0].get("conversions") == 2, r)

    def query():
        q = {"model": "last_touch", "format": "json"}
        r = invoke(http_event("GET", "/v1/kpi", {"authorization": f"Bearer {read}"}, None, q))
        rows = json.loads(r["body"]) if r.get("statusCode") == 200 else []
        total = next((row for row in rows if row["group"] == "(total)"), {})
        check("query answers KPIs to a read key", total.get("cost") == 500.0 and total.get("revenue") == 90000.0, r)
        r = invoke(http_event("GET", "/v1/kpi", auth, None, q))
        check("query refuses an ingest key", r.get("statusCode") == 401, r)

    def collect_all():
        collect()
        tracked_link()

    def webhook_all():
        webhook()
        vendor_webhooks()

    for name, body in [("collect", collect_all), ("crm-webhook", webhook_all), ("ad-costs", ad_costs), ("attribute", attribute), ("query", query)]:
        with_function(name, body)


if __name__ == "__main__":
    sys.exit(main())
