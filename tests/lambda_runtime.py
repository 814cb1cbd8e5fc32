"""Drives every Lambda function binary through the real Lambda runtime API of
`cargo lambda watch --only-lambda-apis`, with `cargo lambda invoke` sending API Gateway v2
(HTTP API), Step Functions and EventBridge scheduled events, as AWS would. Each function
runs alone against the runtime API (cargo lambda serves it as `_`). The lake is a local
directory with the embedded state store; S3 and DynamoDB are covered by crates/cli/tests/serve.rs.
`ad-costs` pulls Google Ads (OAuth refresh), Meta and TikTok from tests/ads_pull.py's fake
platforms, named in the pushed config's `[tenants.shop.ads]`.

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
import urllib.parse
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ads_pull  # noqa: E402  (the fake ad platforms)
from lake_tables import read_table  # noqa: E402  (the tables through their Delta logs)
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
    server, platforms = ads_pull.start_platforms(DatedPlatforms)
    try:
        return run(bins, platforms)
    finally:
        server.shutdown()
        server.server_close()


def run(bins, platforms):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lake = tmp / "lake"
        cli = lambda *a: subprocess.run([str(bins / "throughline"), "--lake", str(lake), *a], check=True, capture_output=True, text=True).stdout
        cli("tenants", "add", "--tenant", "shop", "--name", "Kukhni Dnipro")
        ingest = cli("keys", "create", "--tenant", "shop", "--scope", "ingest").strip()
        read = cli("keys", "create", "--tenant", "shop", "--scope", "read").strip()
        server = cli("keys", "create", "--tenant", "shop", "--scope", "server").strip()
        # The tenant config, deployed as `config push` stores it: the functions read it at start.
        config = tmp / "throughline.toml"
        config.write_text(LAMBDA_CONFIG + ads_config(f"http://127.0.0.1:{platforms.port}"))
        cli("config", "push", str(config))
        inbox = lake / "inbox" / "ad_costs" / "tenant=shop"
        inbox.mkdir(parents=True)
        inbox.joinpath("agency-fees.csv").write_text(
            "date,platform,account_id,campaign_id,campaign_name,cost,currency\n2026-08-01,google_ads,123,111,Brand,500.00,UAH\n"
        )
        fx_inbox = lake / "inbox" / "fx_rates" / "tenant=shop"
        fx_inbox.mkdir(parents=True)
        fx_inbox.joinpath("rates.csv").write_text(FX_CSV)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}  # the fake platforms are local
        env.update({"THROUGHLINE_LAKE": str(lake), "THROUGHLINE_LOG": "info"})
        env.pop("THROUGHLINE_STATE_TABLE", None)
        watch = subprocess.Popen(
            ["cargo", "lambda", "watch", "--ignore-changes", "--only-lambda-apis", "--invoke-address", "127.0.0.1", "--invoke-port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(port)
            run_functions(bins, env, port, tmp, (ingest, server), read, platforms)
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

# The days the fake platforms report: the fixtures' 2026-11-01 and 2026-11-02 moved to the
# day before yesterday and yesterday, inside the window the function pulls (it reads up to
# today, UTC, and refuses rows outside the range it asked for).
TODAY = datetime.now(timezone.utc).date()
DAYS = {"2026-11-01": str(TODAY - timedelta(days=2)), "2026-11-02": str(TODAY - timedelta(days=1))}
D1, D2 = DAYS.values()
# The accounts the function pulls: (platform, account as stored, cost rows, exact cost).
ACCOUNTS = [(p, a, ads_pull.ROWS[p], ads_pull.EXPECTED[p]) for p, a in
            (("google_ads", ads_pull.GOOGLE_ACCOUNT), ("meta", ads_pull.META_ACCOUNT), ("tiktok", ads_pull.TIKTOK_ACCOUNT))]
RATES = {"USD": Decimal("41.2"), "EUR": Decimal("45.3")}  # into UAH, both days
FX_CSV = "date,currency,rate,base\n" + "".join(f"{d},{c},{r},UAH\n" for d in (D1, D2) for c, r in RATES.items())


def ads_config(base):
    """tenant shop's ad accounts at the fake platforms; the TikTok token as env: (set only in
    the function's environment). The first pull reads backfill_days up to today."""
    a = ads_pull
    return f"""
[tenants.shop.ads]
lookback_days = 7
backfill_days = 10

[[tenants.shop.ads.google_ads]]
account_id = "123-456-7890"
developer_token = "{a.GOOGLE_DEV_TOKEN}"
base_url = "{base}"
auth = {{ client_id = "{a.GOOGLE_CLIENT_ID}", client_secret = "{a.GOOGLE_CLIENT_SECRET}", refresh_token = "{a.GOOGLE_REFRESH}", token_url = "{base}/token" }}

[[tenants.shop.ads.meta]]
account_id = "act_{a.META_ACCOUNT}"
access_token = "{a.META_TOKEN}"
base_url = "{base}"

[[tenants.shop.ads.tiktok]]
account_id = "{a.TIKTOK_ACCOUNT}"
access_token = "env:ADS_E2E_TIKTOK_TOKEN"
base_url = "{base}"
"""


def shift_days(text):
    for fixture_day, day in DAYS.items():
        text = text.replace(fixture_day, day)
    return text


class DatedPlatforms(ads_pull.Handler):
    """tests/ads_pull.py's fake platforms, answering with the fixture days moved to DAYS."""

    def route(self, p, method, path, query, body):
        if method == "POST" and path.endswith(":searchStream") and b"click_view" in body:
            # One request per day of the window: the fixture's clicks on the first day only.
            gaql = json.loads(body).get("query", "")
            answer = shift_days(ads_pull.fixture("google_ads/click_view.json")) if D1 in gaql else "[]"
            return "google_clicks", 200, [("Content-Type", "application/json")], answer.encode()
        kind, status, headers, answer = super().route(p, method, path, query, body)
        if kind in ("google", "meta", "tiktok"):
            answer = shift_days(answer.decode()).encode()
        return kind, status, headers, answer


def pulled_costs(lake):
    """The pulled ad_costs rows (those of the config's accounts; not the inbox's import),
    from the files the Delta log names (deltalake), read back with DuckDB."""
    con = duckdb.connect()
    try:
        con.register("ad_costs", read_table(lake, "ad_costs", tenant="shop"))
        accounts = ", ".join(f"('{p}', '{a}')" for p, a, *_ in ACCOUNTS)
        rel = con.execute(f"SELECT * FROM ad_costs WHERE (platform, account_id) IN ({accounts})")
        names = [d[0] for d in rel.description]
        return sorted((dict(zip(names, r)) for r in rel.fetchall()), key=lambda r: json.dumps(r, default=str, sort_keys=True))
    finally:
        con.close()


def run_functions(bins, env, port, tmp, ingest_keys, read, platforms):
    ingest, server = ingest_keys
    lake = Path(env["THROUGHLINE_LAKE"])
    # ad-costs: fast backoff and polls, and the env: secret of the config.
    function_env = {"ad-costs": {"THROUGHLINE_ADS_BACKOFF_MS": "20", "THROUGHLINE_ADS_POLL_MS": "20", **ads_pull.ENV_SECRETS}}

    def start(name):
        log = open(tmp / f"{name}.log", "w")
        runtime = {**env, **function_env.get(name, {}), **LAMBDA_ENV, "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{port}/.rt"}
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
    server_auth = {"authorization": f"Bearer {server}"}
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
        check("crm-webhook refuses a deal sent with the public ingest key (403, nothing stored)",
              r.get("statusCode") == 403 and "server key" in r.get("body", ""), r)
        r = invoke(http_event("POST", "/v1/webhooks/generic", server_auth, deal, path_params={"crm": "generic"}))
        check("crm-webhook stores a deal sent with a server key", r.get("statusCode") == 200 and json.loads(r["body"])["accepted"] == 1, r)
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
        forged = r.get("body")
        r = invoke(http_event("POST", "/v1/webhooks/hubspot", headers, hubspot, query={"tenant": "nobody"}, path_params={"crm": "hubspot"}))
        check("crm-webhook answers an unknown tenant as it answers a forged delivery (401, one body)",
              r.get("statusCode") == 401 and r.get("body") == forged, r)

    def tracked_link():
        r = invoke(http_event("GET", "/r/tg-shop", {"host": "go.example.test", "user-agent": "Mozilla/5.0 (iPhone) Safari/604.1"},
                              query={"fbclid": "IwAR_lambda"}, path_params={"code": "tg-shop"}))
        location = (r.get("headers") or {}).get("location", "")
        check("collect redirects a tracked link to the messenger with a token", r.get("statusCode") == 302 and location.startswith("https://t.me/shop_bot?start="), r)

    def ad_costs():
        started = time.monotonic()
        r = invoke(SCHEDULED_EVENT)
        tenant = (r.get("tenants") or [{}])[0]
        check("ad-costs imports the inbox on its schedule", tenant.get("import", {}).get("stored") == 1, r)
        pulls = {p.get("platform"): p for p in tenant.get("pulls", [])}
        check("ad-costs pulls every account of the config: google_ads, meta, tiktok",
              sorted(pulls) == sorted(p for p, *_ in ACCOUNTS) and len(tenant["pulls"]) == len(ACCOUNTS), r)
        for platform, account, rows, _ in ACCOUNTS:
            p = pulls.get(platform, {})
            check(f"ad-costs: {platform} {account} pulled {rows} cost rows over {TODAY - timedelta(days=9)}..{TODAY}, no error",
                  p.get("error") is None and p.get("account") == account and p.get("cost_rows") == rows
                  and p.get("from") == str(TODAY - timedelta(days=9)) and p.get("to") == str(TODAY) and p.get("days_stored") == 10, p)
        check("ad-costs: Google's refresh token was exchanged and the 2 gclid clicks stored",
              pulls.get("google_ads", {}).get("click_rows") == 2
              and [dict(urllib.parse.parse_qsl(t["body"])).get("refresh_token") for t in platforms.requests("token")] == [ads_pull.GOOGLE_REFRESH],
              platforms.requests("token"))
        check("ad-costs: the TikTok token came from the function's environment (env:)",
              {t["headers"].get("access-token") for t in platforms.requests("tiktok")} == {ads_pull.TIKTOK_TOKEN}, platforms.requests("tiktok"))
        check(f"ad-costs imports the fx_rates inbox ({len(RATES) * 2} rates)", tenant.get("fx_rates_import", {}).get("stored") == len(RATES) * 2, r)

        stored = pulled_costs(lake)
        days = sorted({(str(row["date"]), row["platform"], row["account_id"]) for row in stored})
        want = sorted((d, p, a) for d in (D1, D2) for p, a, *_ in ACCOUNTS)
        check("ad-costs stores rows for each pulled day and account, and no other day", days == want, days)
        keys = [tuple(str(row[c]) for c in ads_pull.COST_KEY) for row in stored]
        check("ad-costs stores each pulled cost row once per day and account, not doubled", len(keys) == len(set(keys)),
              sorted(k for k in keys if keys.count(k) > 1))
        sums = {}
        for row in stored:
            sums.setdefault(row["platform"], [0, Decimal(0)])
            sums[row["platform"]][0] += 1
            sums[row["platform"]][1] += Decimal(row["cost"])
        want = {p: [rows, cost] for p, _, rows, cost in ACCOUNTS}
        check(f"ad-costs: the lake holds exactly {', '.join(f'{p} {c}' for p, c in ((p, c) for p, _, _, c in ACCOUNTS))} (DuckDB)", sums == want, sums)

        # Meta's token expires: the invocation fails naming meta, and nothing stored changes.
        platforms.meta_token_expired, platforms.meta_restated_spend = True, "1.00"
        platforms.reset_log()
        r = invoke(SCHEDULED_EVENT)
        # cargo lambda prints the function's error wrapped in a box: unwrap it.
        error = " ".join(r.get("invoke_error", "").replace("│", " ").split())
        check("ad-costs fails the invocation when Meta's token expired, naming meta and its account",
              "meta" in error and ads_pull.META_ACCOUNT in error and "expired" in error and "tiktok" not in error and "google" not in error, r or error)
        check("ad-costs: the error holds no secret", not [s for s in ads_pull.SECRETS if s in error], error)
        check("ad-costs: Meta's expired token is not retried; google_ads and tiktok are still pulled",
              len(platforms.requests("meta")) == 1 and platforms.requests("google") and platforms.requests("tiktok"),
              [(q["kind"], q["status"]) for q in platforms.requests()])
        check("ad-costs: the failed account keeps its stored rows, the others re-pull the same (DuckDB)", pulled_costs(lake) == stored)
        platforms.meta_token_expired, platforms.meta_restated_spend = False, None
        print(f"     (ad-costs: {time.monotonic() - started:.1f}s; the failed invocation said: {error[:400]})")

    def attribute():
        r = invoke({"tenant": "shop", "from": "2026-08-01", "to": "2026-08-31"})
        check("attribute runs a tenant's window (Step Functions input)", r.get("attributed", [{}])[0].get("conversions") == 2, r)

    def query():
        q = {"model": "last_touch", "format": "json", "from": "2026-08-01", "to": "2026-08-31"}
        r = invoke(http_event("GET", "/v1/kpi", {"authorization": f"Bearer {read}"}, None, q))
        rows = json.loads(r["body"]) if r.get("statusCode") == 200 else []
        total = next((row for row in rows if row["group"] == "(total)"), {})
        check("query answers KPIs to a read key", total.get("cost") == 500.0 and total.get("revenue") == 90000.0, r)
        # The pulled days: UAH, USD and EUR costs in UAH by the rates ad-costs imported.
        r = invoke(http_event("GET", "/v1/kpi", {"authorization": f"Bearer {read}"}, None, {**q, "from": D1, "to": D2}))
        rows = json.loads(r["body"], parse_float=Decimal) if r.get("statusCode") == 200 else []
        total = next((row for row in rows if row["group"] == "(total)"), {})
        uah = sum(cost * RATES.get(ads_pull.CURRENCY[p], 1) for p, _, _, cost in ACCOUNTS).quantize(Decimal("0.01"))
        check(f"query converts the pulled costs by the imported fx_rates: {uah} UAH",
              total.get("cost") == uah and total.get("currency") == "UAH" and total.get("costs_without_rate") == 0, r)
        r = invoke(http_event("GET", "/v1/kpi", auth, None, q))
        check("query refuses an ingest key", r.get("statusCode") == 401, r)
        # The planner is routed to the same function: a plan, or (on these few days of
        # costs) a 400 that says why not.
        r = invoke(http_event("GET", "/v1/plan", {"authorization": f"Bearer {read}"}, None, {"budget": "1000", "bootstrap": "0"}))
        body = r.get("body", "")
        check("query plans a budget or says why not",
              (r.get("statusCode") == 200 and "(total)" in body) or (r.get("statusCode") == 400 and "error" in body), r)

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
