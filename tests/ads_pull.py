"""End-to-end ad-costs pull: `throughline costs pull` against a local HTTP server that
answers like Google Ads, Meta, TikTok and Microsoft Advertising (OAuth refreshes, cursor
and page paging, submit → poll → zipped download, a 429 with Retry-After) from the
documented response shapes in crates/sources/tests/fixtures/ads/ — the scenarios of
crates/costs/tests/pull.rs, through the CLI. Then the lake is read back through its Delta
logs (deltalake) with DuckDB (exact costs per platform, gclid clicks, each day of each
account stored once), re-pulls must change nothing, a restated day replaces the old one,
failures keep earlier data and say what to do, and `kpi` reports the same costs per
platform, campaign and ad group (with an offline CSV import and fx_rates for the several
currencies).

Usage: python tests/ads_pull.py --cli path/to/throughline [--keep DIR]

Stops at the first failed check (exit 1) with what was expected and what was found.
"""

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zipfile
from contextlib import nullcontext
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lake_tables import read_table, table_exists  # noqa: E402  (the tables through their Delta logs)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "crates" / "sources" / "tests" / "fixtures" / "ads"
TENANT = "acme"
FROM, TO = "2026-11-01", "2026-11-02"

# The accounts of the config, as the CLI names them (digits only, no `act_`).
GOOGLE_ACCOUNT, META_ACCOUNT, TIKTOK_ACCOUNT, MS_ACCOUNT = "1234567890", "1029384756", "7012345678901234567", "180012345"

# Secrets of the config: literal values, and the TikTok token and Google refresh token
# as `env:NAME`, set only in the CLI's environment.
GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET = "e2e-google.apps.googleusercontent.com", "e2e-google-client-secret"
GOOGLE_REFRESH = "e2e-google-refresh-token"
GOOGLE_DEV_TOKEN = "e2e-google-developer-token"
META_TOKEN = "EAAB-e2e-system-user-token"
TIKTOK_TOKEN = "e2e-tiktok-access-token"
MS_CLIENT_ID, MS_REFRESH, MS_DEV_TOKEN = "00000000-aaaa-bbbb-cccc-0000000e2e00", "e2e-ms-refresh-token", "e2e-ms-developer-token"
ENV_SECRETS = {"ADS_E2E_TIKTOK_TOKEN": TIKTOK_TOKEN, "ADS_E2E_GOOGLE_REFRESH": GOOGLE_REFRESH}
# What the fake token endpoint hands out, per client.
ACCESS = {GOOGLE_CLIENT_ID: "ya29.e2e-google-access", MS_CLIENT_ID: "EwB-e2e-ms-access"}
MS_DOWNLOAD_SIG = "e2e-presigned-download-signature"
SECRETS = [MS_DOWNLOAD_SIG, GOOGLE_CLIENT_SECRET, GOOGLE_REFRESH, GOOGLE_DEV_TOKEN, META_TOKEN, TIKTOK_TOKEN, MS_REFRESH, MS_DEV_TOKEN, *ACCESS.values()]

# The fixtures' spend, exactly, in each account's currency (crates/costs/tests/pull.rs).
EXPECTED = {
    "google_ads": Decimal("2990.7178"),  # 1234.5678 + 456.10 + 1300 + 0.05 UAH (micros)
    "meta": Decimal("454.06"),  # 182.47 + 41.09 + 230.5 (+ a row without spend) USD, two cursor pages
    "tiktok": Decimal("20.44"),  # 12.34 + 5.00 + 3.1 EUR, two pages
    "microsoft": Decimal("90.26"),  # 43.21 + 7.05 + 40.00 + 0.00 USD, zipped CSV
}
ROWS = {"google_ads": 4, "meta": 4, "tiktok": 3, "microsoft": 4}
CURRENCY = {"google_ads": "UAH", "meta": "USD", "tiktok": "EUR", "microsoft": "USD"}
GCLIDS = {"Cj0KCQiA5rGuBhCnARIsAN11vgT_test_1", "Cj0KCQiA5rGuBhCnARIsAN11vgT_test_2"}
RESTATED = "150.00"  # Meta's restated spend of its first ad on 2026-11-01 (was 182.47)
# The offline cost imported from CSV, and the exchange rates (into UAH) for the KPIs.
OFFLINE = {"date": "2026-11-01", "platform": "offline", "account_id": "billboards", "campaign_id": "bf-kyiv-2026",
           "campaign_name": "Black Friday billboards", "cost": "250.00", "currency": "USD"}
RATES = {"USD": Decimal("41.2"), "EUR": Decimal("45.3")}

passed = [0]


class CheckFailed(Exception):
    pass


def check(name, condition, detail=""):
    if not condition:
        print(f"FAIL {name}")
        if detail:
            print(f"     {detail}")
        raise CheckFailed(name)
    passed[0] += 1
    print(f"ok   {name}")


def fixture(path):
    return (FIXTURES / path).read_text(encoding="utf-8")


# ---------------------------------------------------------------- the fake platforms


class Platforms:
    """The server's switches (set by the test between pulls) and its request log."""

    def __init__(self):
        self.lock = threading.Lock()
        self.port = 0
        self.meta_restated_spend = None
        self.meta_token_expired = False
        self.google_rate_limit_once = False
        self.oauth_refused = set()  # client ids whose refresh token is refused
        self.microsoft_polls = 0
        self.log = []

    def reset_log(self):
        with self.lock:
            self.log = []

    def requests(self, kind=None):
        with self.lock:
            return [r for r in self.log if kind is None or r["kind"] == kind]


class Handler(BaseHTTPRequestHandler):
    server_version = "FakeAdsPlatforms/1.0"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        self.handle_request("GET")

    def do_POST(self):
        self.handle_request("POST")

    def handle_request(self, method):
        p = self.server.platforms
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        kind, status, headers, answer = self.route(p, method, parts.path, query, body)
        entry = {
            "t": time.monotonic(),
            "kind": kind,
            "method": method,
            "path": parts.path,
            "query": query,
            "body": body.decode("utf-8", "replace"),
            "status": status,
            "headers": {k.lower(): v for k, v in self.headers.items()},
        }
        with p.lock:
            p.log.append(entry)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def route(self, p, method, path, query, body):
        js = [("Content-Type", "application/json")]

        def ok(text, status=200, extra=()):
            return status, js + list(extra), text.encode("utf-8")

        if method == "POST" and path == "/token":
            form = dict(urllib.parse.parse_qsl(body.decode()))
            client = form.get("client_id", "")
            with p.lock:
                refused = client in p.oauth_refused
            if refused:
                return ("token",) + ok('{"error":"invalid_grant","error_description":"Token has been expired or revoked."}', 400)
            token = ACCESS.get(client, "unknown-client")
            return ("token",) + ok(json.dumps({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}))

        if method == "POST" and path == f"/v26/customers/{GOOGLE_ACCOUNT}/googleAds:searchStream":
            gaql = json.loads(body or b"{}").get("query", "")
            if "click_view" in gaql:
                return ("google_clicks",) + ok(fixture("google_ads/click_view.json") if "2026-11-01" in gaql else "[]")
            with p.lock:
                limited, p.google_rate_limit_once = p.google_rate_limit_once, False
            if limited:
                return ("google",) + ok(fixture("google_ads/rate_limited.json"), 429, [("Retry-After", "1")])
            return ("google",) + ok(fixture("google_ads/search_stream.json"))

        if method == "GET" and path == f"/v26.0/act_{META_ACCOUNT}/insights":
            with p.lock:
                expired, spend = p.meta_token_expired, p.meta_restated_spend
            if expired:
                return ("meta",) + ok(fixture("meta/token_expired.json"), 400)
            page = fixture("meta/insights_page_2.json" if "after" in query else "meta/insights_page_1.json")
            # Meta copies the caller's access token into paging.next (Graph API paging).
            page = page.replace("access_token=EAAB-test-token", f"access_token={META_TOKEN}")
            if spend is not None:
                page = page.replace('"182.47"', f'"{spend}"')
            return ("meta",) + ok(page)

        if method == "GET" and path == "/open_api/v1.3/report/integrated/get/":
            page = "tiktok/page_2_of_2.json" if query.get("page") == "2" else "tiktok/page_1_of_2.json"
            return ("tiktok",) + ok(fixture(page))

        if method == "POST" and path == "/Reporting/v13/GenerateReport/Submit":
            with p.lock:
                p.microsoft_polls = 0
            return ("ms_submit",) + ok(fixture("microsoft/submit.json"))

        if method == "POST" and path == "/Reporting/v13/GenerateReport/Poll":
            with p.lock:
                p.microsoft_polls += 1
                first = p.microsoft_polls == 1
            if first:
                return ("ms_poll",) + ok(fixture("microsoft/poll_pending.json"))
            success = json.loads(fixture("microsoft/poll_success.json"))
            success["ReportRequestStatus"]["ReportDownloadUrl"] = f"http://127.0.0.1:{p.port}/downloads/r.zip?sv=2020-08-04&sig={MS_DOWNLOAD_SIG}"
            return ("ms_poll",) + ok(json.dumps(success))

        if method == "GET" and path == "/downloads/r.zip":
            archive = io.BytesIO()
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("report.csv", (FIXTURES / "microsoft" / "report.csv").read_bytes())
            return "ms_download", 200, [("Content-Type", "application/octet-stream")], archive.getvalue()

        return ("unknown",) + ok('{"error": "not a route of the fake platforms"}', 404)


def start_platforms(handler=None):
    """The fake platforms on a free loopback port; `handler` may be a subclass of Handler."""
    platforms = Platforms()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler or Handler)
    server.daemon_threads = True
    server.platforms = platforms
    platforms.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, platforms


# ---------------------------------------------------------------- config and the CLI


def write_config(path, base):
    path.write_text(
        f"""# tests/ads_pull.py: tenant acme's four ad accounts, at the fake platforms on {base}.
[tenants.{TENANT}.ads]
lookback_days = 7
backfill_days = 30
max_pages = 50

[[tenants.{TENANT}.ads.google_ads]]
account_id = "123-456-7890"
developer_token = "{GOOGLE_DEV_TOKEN}"
base_url = "{base}"
auth = {{ client_id = "{GOOGLE_CLIENT_ID}", client_secret = "{GOOGLE_CLIENT_SECRET}", refresh_token = "env:ADS_E2E_GOOGLE_REFRESH", token_url = "{base}/token" }}

[[tenants.{TENANT}.ads.meta]]
account_id = "act_{META_ACCOUNT}"
access_token = "{META_TOKEN}"
base_url = "{base}"

[[tenants.{TENANT}.ads.tiktok]]
account_id = "{TIKTOK_ACCOUNT}"
access_token = "env:ADS_E2E_TIKTOK_TOKEN"
base_url = "{base}"

[[tenants.{TENANT}.ads.microsoft]]
account_id = "{MS_ACCOUNT}"
customer_id = "250012345"
developer_token = "{MS_DEV_TOKEN}"
base_url = "{base}"
auth = {{ client_id = "{MS_CLIENT_ID}", refresh_token = "{MS_REFRESH}", token_url = "{base}/token" }}
""",
        encoding="utf-8",
    )


def cli_env():
    """No THROUGHLINE_* settings from outside (local lake, embedded state), no proxies;
    fast backoff and polls; the env: secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THROUGHLINE_") and "proxy" not in k.lower()}
    env.update({"THROUGHLINE_ADS_BACKOFF_MS": "20", "THROUGHLINE_ADS_POLL_MS": "20", **ENV_SECRETS})
    return env


def cli(ctx, *args, expect_rc=0):
    out = subprocess.run([ctx.cli, "--lake", str(ctx.lake.path), *args], capture_output=True, text=True, env=cli_env(), cwd=ctx.tmp, timeout=120)
    if expect_rc is not None:
        shown = " ".join(Path(a).name if os.path.isabs(a) else a for a in args if a not in ("--tenant", TENANT))
        check(f"`throughline {shown}` exits {expect_rc}", out.returncode == expect_rc,
              f"exit {out.returncode}\n     stdout: {out.stdout.strip()}\n     stderr: {out.stderr.strip()}")
    return out


def secrets_in_lake(root):
    """(file, secret) for every configured or issued secret found in any file of the lake;
    Parquet files are read back as rows (their pages are compressed)."""
    found = []
    for path in Path(root).rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            rows = duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()
            text = repr(rows)
        else:
            text = path.read_bytes().decode("utf-8", "replace")
        found += [(str(path.relative_to(root)), s) for s in SECRETS if s in text]
    return found


def pull(ctx, expect_rc=0):
    started = time.monotonic()
    out = cli(ctx, "costs", "pull", "--tenant", TENANT, "--from", FROM, "--to", TO, "--config", str(ctx.config), expect_rc=expect_rc)
    elapsed = time.monotonic() - started
    text = out.stdout + out.stderr
    leaked = [s for s in SECRETS if s in text]
    check("the pull's output holds no secret", not leaked, f"{leaked} in {text}")
    lake_leaks = secrets_in_lake(ctx.lake.path)
    check("nothing the pull kept (raw/, quarantine/, tables/, state) holds a secret", not lake_leaks, str(lake_leaks))
    lines = [line for line in out.stdout.splitlines() if line.strip() and not line.startswith("  ")]
    by_platform = {}
    for line in lines:
        by_platform.setdefault(line.split(" ", 1)[0], []).append(line)
    check("one line per account", sorted(by_platform) == sorted(ROWS) and all(len(v) == 1 for v in by_platform.values()),
          out.stdout)
    return {k: v[0] for k, v in by_platform.items()}, out, elapsed


class Lake:
    """The lake read back independently of the engine: the files each table's Delta log
    names (Python's deltalake), queried with DuckDB."""

    def __init__(self, path):
        self.path = path

    def rows(self, table="ad_costs"):
        if not table_exists(self.path, table):
            return []
        con = duckdb.connect()
        try:
            con.register("stored", read_table(self.path, table))
            rel = con.execute("SELECT * FROM stored")
            names = [d[0] for d in rel.description]
            return sorted((dict(zip(names, r)) for r in rel.fetchall()), key=lambda r: json.dumps(r, default=str, sort_keys=True))
        finally:
            con.close()

    def sums(self):
        sums, counts = {}, {}
        for r in self.rows():
            sums[r["platform"]] = sums.get(r["platform"], Decimal(0)) + Decimal(r["cost"])
            counts[r["platform"]] = counts.get(r["platform"], 0) + 1
        return sums, counts


def pulled(rows):
    return [r for r in rows if r["platform"] in ROWS]


ACCOUNTS = (("google_ads", GOOGLE_ACCOUNT), ("meta", META_ACCOUNT), ("tiktok", TIKTOK_ACCOUNT), ("microsoft", MS_ACCOUNT))
# What makes a cost row one row: a day of one ad (or ad group, or campaign) of an account.
COST_KEY = ("date", "platform", "account_id", "campaign_id", "ad_group_id", "ad_id")


def days_stored_once(rows, when=""):
    """Each pulled (day, platform, account) is stored once: every account has rows on both
    days, and no cost row is there twice (a pulled day replaces the stored one, whatever
    files the commits wrote)."""
    days = sorted({(str(r["date"]), r["platform"], r["account_id"]) for r in pulled(rows)})
    want = sorted((d, pl, acc) for d in (FROM, TO) for pl, acc in ACCOUNTS)
    check(f"{when}rows for each pulled day and account, and no other (date, platform, account)", days == want,
          "\n     ".join(map(str, days)))
    seen = {}
    for r in pulled(rows):
        key = tuple(str(r[c]) for c in COST_KEY)
        seen[key] = seen.get(key, 0) + 1
    twice = [k for k, n in seen.items() if n > 1]
    check(f"{when}each pulled cost row is stored once per day and account, not doubled", not twice, str(twice))


# ---------------------------------------------------------------- the steps


def first_pull(ctx):
    p = ctx.platforms
    p.reset_log()
    p.google_rate_limit_once = True
    lines, out, elapsed = pull(ctx)
    for platform, account in ACCOUNTS:
        line = lines[platform]
        check(f"{platform}: {account} pulled {FROM}..{TO}, 2 days replaced, {ROWS[platform]} cost rows",
              f"{platform} {account}: {FROM}..{TO}: 2 days replaced, {ROWS[platform]} cost rows" in line and "FAILED" not in line, line)
    check("google_ads: the 2 gclid clicks and the one retry are reported",
          "2 gclid clicks" in lines["google_ads"] and "1 retries" in lines["google_ads"], lines["google_ads"])
    check("meta: two cursor pages", "2 pages" in lines["meta"], lines["meta"])
    check("microsoft: submit, poll (after a pending one), download: 3 pages", "3 pages" in lines["microsoft"], lines["microsoft"])

    # Exactly the requests of the documented flows, nothing else.
    unknown = p.requests("unknown")
    check("no request to an unknown route", not unknown, str([(r["method"], r["path"]) for r in unknown]))
    tokens = p.requests("token")
    forms = [dict(urllib.parse.parse_qsl(r["body"])) for r in tokens]
    check("one OAuth refresh per account (Google, Microsoft)", sorted(f.get("client_id") for f in forms) == sorted(ACCESS), str(forms))
    google_form = next(f for f in forms if f.get("client_id") == GOOGLE_CLIENT_ID)
    check("Google's refresh sends the env: refresh token and the client secret",
          google_form.get("grant_type") == "refresh_token" and google_form.get("refresh_token") == GOOGLE_REFRESH
          and google_form.get("client_secret") == GOOGLE_CLIENT_SECRET, str(google_form))
    ms_form = next(f for f in forms if f.get("client_id") == MS_CLIENT_ID)
    check("Microsoft's refresh asks for the msads.manage scope",
          ms_form.get("refresh_token") == MS_REFRESH and "https://ads.microsoft.com/msads.manage" in ms_form.get("scope", "")
          and "offline_access" in ms_form.get("scope", ""), str(ms_form))

    google = p.requests("google")
    check("Google: a 429, then the report again", [r["status"] for r in google] == [429, 200], str([r["status"] for r in google]))
    waited = google[1]["t"] - google[0]["t"]
    check("Google's Retry-After: 1 was waited for (backoff is 20 ms)", waited >= 0.95, f"retried after {waited:.3f}s")
    gaql = json.loads(google[1]["body"])["query"]
    check("Google's GAQL reads ad_group costs of the window",
          "FROM ad_group" in gaql and "BETWEEN '2026-11-01' AND '2026-11-02'" in gaql and "metrics.cost_micros" in gaql, gaql)
    clicks = p.requests("google_clicks")
    days = sorted(d for r in clicks for d in (FROM, TO) if d in json.loads(r["body"])["query"])
    check("click_view is asked day by day", days == [FROM, TO] and len(clicks) == 2, str([r["body"] for r in clicks]))
    for r in google + clicks:
        h = r["headers"]
        if not (h.get("authorization") == f"Bearer {ACCESS[GOOGLE_CLIENT_ID]}" and h.get("developer-token") == GOOGLE_DEV_TOKEN):
            check("every Google request carries Bearer <the refreshed token> and developer-token", False, str(h))
    check("every Google request carries Bearer <the refreshed token> and developer-token", True)

    meta = p.requests("meta")
    check("Meta: page 1, then page 2 by its after cursor",
          len(meta) == 2 and "after" not in meta[0]["query"] and meta[1]["query"].get("after") == "MQZDZD", str([r["query"] for r in meta]))
    q = meta[0]["query"]
    check("Meta asks level=ad, daily, for the window",
          q.get("level") == "ad" and q.get("time_increment") == "1"
          and json.loads(q.get("time_range", "{}")) == {"since": FROM, "until": TO}, str(q))
    check("Meta's next link is followed without the access_token Meta copies into it",
          all("access_token" not in r["query"] for r in meta), str([r["query"] for r in meta]))
    check("every Meta request carries Authorization: Bearer EAAB…",
          all(r["headers"].get("authorization") == f"Bearer {META_TOKEN}" for r in meta), str([r["headers"] for r in meta]))

    tiktok = p.requests("tiktok")
    check("TikTok: pages 1 and 2 of the advertiser's window",
          [r["query"].get("page") for r in tiktok] == ["1", "2"]
          and all(r["query"].get("advertiser_id") == TIKTOK_ACCOUNT and r["query"].get("start_date") == FROM
                  and r["query"].get("end_date") == TO for r in tiktok), str([r["query"] for r in tiktok]))
    check("every TikTok request carries the env: token in Access-Token, no Authorization",
          all(r["headers"].get("access-token") == TIKTOK_TOKEN and "authorization" not in r["headers"] for r in tiktok),
          str([r["headers"] for r in tiktok]))

    submit, polls, downloads = p.requests("ms_submit"), p.requests("ms_poll"), p.requests("ms_download")
    check("Microsoft: one submit, two polls (pending, success), one download",
          (len(submit), len(polls), len(downloads)) == (1, 2, 1), f"{len(submit)}, {len(polls)}, {len(downloads)}")
    report = json.loads(submit[0]["body"])["ReportRequest"]
    check("Microsoft's report request: the account, daily, the window",
          report["Scope"]["AccountIds"] == [int(MS_ACCOUNT)] and report["Aggregation"] == "Daily"
          and report["Time"]["CustomDateRangeStart"] == {"Day": 1, "Month": 11, "Year": 2026}
          and report["Time"]["CustomDateRangeEnd"] == {"Day": 2, "Month": 11, "Year": 2026}, json.dumps(report))
    check("both polls name the submitted report",
          all(json.loads(r["body"]).get("ReportRequestId") == "30000001234_abc" for r in polls), str([r["body"] for r in polls]))
    check("every Microsoft submit and poll carries Bearer <its refreshed token> and DeveloperToken",
          all(r["headers"].get("authorization") == f"Bearer {ACCESS[MS_CLIENT_ID]}" and r["headers"].get("developertoken") == MS_DEV_TOKEN
              and r["headers"].get("customerid") == "250012345" for r in submit + polls), str([r["headers"] for r in submit + polls]))
    dl = downloads[0]
    check("the pre-signed download is fetched as given, without credentials",
          dl["query"] == {"sv": "2020-08-04", "sig": MS_DOWNLOAD_SIG} and not ({"authorization", "access-token", "developertoken", "developer-token"} & set(dl["headers"])),
          str(dl["headers"]))

    # The lake.
    sums, counts = ctx.lake.sums()
    for platform, expected in EXPECTED.items():
        check(f"{platform}: {counts.get(platform)} rows costing {sums.get(platform)} (expected {ROWS[platform]} rows, {expected})",
              sums.get(platform) == expected and counts.get(platform) == ROWS[platform], f"{sums} {counts}")
    rows = ctx.lake.rows()
    currencies = {(r["platform"], r["currency"]) for r in rows}
    check("each account's currency is stored as the platform reported it", currencies == set(CURRENCY.items()), str(currencies))
    names = {(r["platform"], r["campaign_name"]) for r in rows}
    check("campaign names arrive intact (em dash, quoted CSV with a comma)",
          ("google_ads", "Brand — Kyiv") in names and ("meta", "Black Friday — prospecting") in names
          and ("microsoft", 'Search, Generic "shoes"') in names, str(sorted(names)))
    meta_no_spend = [r for r in rows if r["platform"] == "meta" and str(r["date"]) == TO and r["ad_id"] == "120210000002002"]
    check("Meta's row without spend is stored with cost 0", len(meta_no_spend) == 1 and Decimal(meta_no_spend[0]["cost"]) == 0, str(meta_no_spend))
    days_stored_once(rows)
    clicks = ctx.lake.rows("ad_clicks")
    got = {(str(r["date"]), r["click_id"], r["campaign_id"]) for r in clicks}
    check("ad_clicks holds the 2 gclids of 2026-11-01 with their campaigns",
          got == {(FROM, "Cj0KCQiA5rGuBhCnARIsAN11vgT_test_1", "20123456789"), (FROM, "Cj0KCQiA5rGuBhCnARIsAN11vgT_test_2", "20987654321")},
          str(clicks))
    raw = [f for f in (ctx.lake.path / "raw" / "ads-microsoft").rglob("*") if f.is_file()]
    check("every Microsoft answer is kept verbatim under raw/ads-microsoft (submit, 2 polls, download)", len(raw) == 4,
          str([str(f) for f in raw]))
    check(f"the first pull took {elapsed:.1f}s (Retry-After 1 s, 20 ms backoff and polls)", elapsed < 15, f"{elapsed:.1f}s")
    return rows, clicks


def repull_changes_nothing(ctx, rows, clicks):
    ctx.platforms.reset_log()
    lines, _, _ = pull(ctx)
    check("a re-pull succeeds for every account", not any("FAILED" in line for line in lines.values()), str(lines))
    check("a re-pull of the same range leaves identical ad_costs rows", ctx.lake.rows() == rows,
          f"{len(ctx.lake.rows())} rows now, {len(rows)} before")
    check("… and identical ad_clicks rows", ctx.lake.rows("ad_clicks") == clicks)


def restated_day_replaces(ctx, rows):
    ctx.platforms.meta_restated_spend = RESTATED
    pull(ctx)
    sums, counts = ctx.lake.sums()
    expected = EXPECTED["meta"] - Decimal("182.47") + Decimal(RESTATED)
    check(f"Meta restated 2026-11-01 ({RESTATED} for 182.47): meta costs {expected}, still {ROWS['meta']} rows",
          sums.get("meta") == expected and counts.get("meta") == ROWS["meta"], f"{sums.get('meta')} in {counts.get('meta')} rows")
    now = ctx.lake.rows()
    check("the restatement replaced rows, added none", len(now) == len(rows), f"{len(now)} rows, {len(rows)} before")
    check("the other platforms' rows are untouched", [r for r in now if r["platform"] != "meta"] == [r for r in rows if r["platform"] != "meta"])
    days_stored_once(now, "after the restatement: ")
    return now


def failures_keep_data(ctx, rows):
    p = ctx.platforms
    p.reset_log()
    p.meta_token_expired = True
    p.oauth_refused = {GOOGLE_CLIENT_ID}
    p.meta_restated_spend = "1.00"  # would change the lake if anything of Meta were stored
    lines, out, _ = pull(ctx, expect_rc=1)
    meta, google = lines["meta"], lines["google_ads"]
    check("meta fails: the access token expired", "FAILED" in meta and "meta" in meta and "expired" in meta, meta)
    check("google_ads fails: re-authorise (invalid_grant)",
          "FAILED" in google and "google_ads" in google and "re-authorise" in google and "invalid_grant" in google, google)
    check("tiktok and microsoft are still pulled",
          "FAILED" not in lines["tiktok"] and "FAILED" not in lines["microsoft"]
          and "2 days replaced" in lines["tiktok"] and "2 days replaced" in lines["microsoft"], f"{lines['tiktok']}\n     {lines['microsoft']}")
    check("Google stopped at the refused refresh: no report request", not p.requests("google") and not p.requests("google_clicks"))
    check("Meta's expired token is not retried", len(p.requests("meta")) == 1, str(len(p.requests("meta"))))
    check("failed accounts keep their stored rows: the lake is unchanged", ctx.lake.rows() == rows)
    kept = [json.loads(f.read_text()) for f in (ctx.lake.path / "quarantine" / "ads-meta" / f"tenant={TENANT}").glob("*.refused.json")]
    check("Meta's refused answer is kept under quarantine/ads-meta with the error (redacted: see the secrets check)",
          len(kept) == 1 and "OAuthException" in kept[0]["body"] and "expired" in kept[0]["error"]
          and kept[0]["account"] and kept[0]["from"] == FROM, str(kept)[:500])
    p.meta_token_expired, p.oauth_refused, p.meta_restated_spend = False, set(), RESTATED


def kpi(ctx, *args, expect_rc=0):
    out = cli(ctx, "kpi", "--tenant", TENANT, *args, "--format", "json", expect_rc=expect_rc)
    if out.returncode != 0:
        return out, None
    try:
        return out, {r["group"]: r for r in json.loads(out.stdout or "[]", parse_float=Decimal)}
    except ValueError:
        check("kpi --format json prints JSON", False, out.stdout)


def money(value):
    return Decimal(str(value)) if value is not None else None


def cents(amount):
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def kpis_match_the_lake(ctx):
    offline = ctx.tmp / "offline.csv"
    with offline.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(OFFLINE))
        w.writeheader()
        w.writerow(OFFLINE)
    cli(ctx, "import", "--tenant", TENANT, "--table", "ad_costs", str(offline))
    sums, counts = ctx.lake.sums()
    check("the offline cost is in ad_costs beside the pulled ones (one part file, 16 rows)",
          counts.get("offline") == 1 and sums.get("offline") == Decimal(OFFLINE["cost"]) and sum(counts.values()) == 16, f"{sums} {counts}")
    out = cli(ctx, "attribute", "--tenant", TENANT)

    # Costs are in UAH, USD and EUR with no rates yet: no reporting currency can be chosen.
    out, _ = kpi(ctx, "--group-by", "platform", expect_rc=None)
    err = out.stdout + out.stderr
    check("kpi without --currency or fx_rates refuses the mixed currencies, saying --currency",
          out.returncode != 0 and "--currency" in err and "EUR" in err and "UAH" in err and "USD" in err, err.strip())

    # In USD without rates: USD costs as stored, the others counted as without rate.
    _, report = kpi(ctx, "--group-by", "platform", "--currency", "USD")
    expect = {"meta": sums["meta"], "microsoft": sums["microsoft"], "offline": sums["offline"], "google_ads": Decimal(0), "tiktok": Decimal(0)}
    got = {g: money(r["cost"]) for g, r in report.items() if g != "(total)"}
    check(f"kpi --currency USD by platform, no rates: {', '.join(f'{g} {cents(v)}' for g, v in expect.items())}; google_ads and tiktok without rate",
          got == {g: cents(v) for g, v in expect.items()}
          and report["google_ads"]["costs_without_rate"] == ROWS["google_ads"] and report["tiktok"]["costs_without_rate"] == ROWS["tiktok"]
          and report["(total)"]["costs_without_rate"] == ROWS["google_ads"] + ROWS["tiktok"]
          and money(report["(total)"]["cost"]) == cents(sum(expect.values())) and report["(total)"]["currency"] == "USD",
          json.dumps(report, default=str))

    # With the day's rates into UAH (a single base: the default reporting currency).
    fx = ctx.tmp / "fx.csv"
    with fx.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["date", "currency", "rate", "base"])
        for day in (FROM, TO):
            for currency, rate in RATES.items():
                w.writerow([day, currency, str(rate), "UAH"])
    cli(ctx, "import", "--tenant", TENANT, "--table", "fx_rates", str(fx))
    rate = {**RATES, "UAH": Decimal(1)}
    uah = {}
    for r in ctx.lake.rows():
        uah[r["platform"]] = uah.get(r["platform"], Decimal(0)) + (Decimal(r["cost"]) * rate[r["currency"]]).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    _, report = kpi(ctx, "--group-by", "platform")
    got = {g: money(r["cost"]) for g, r in report.items() if g != "(total)"}
    check("kpi by platform reports in fx_rates' single base, UAH", report["(total)"]["currency"] == "UAH", json.dumps(report["(total)"], default=str))
    check(f"kpi by platform (UAH): the lake's costs converted, plus the offline row: {', '.join(f'{g} {cents(v)}' for g, v in uah.items())}",
          got == {g: cents(v) for g, v in uah.items()}, f"got {dict((k, str(v)) for k, v in got.items())}")
    check("kpi by platform (UAH): google_ads equals the lake's 2990.7178 UAH (to the cent)", got.get("google_ads") == cents(EXPECTED["google_ads"]), str(got.get("google_ads")))
    check("kpi (UAH): the total is every ad_costs row, none without rate",
          money(report["(total)"]["cost"]) == cents(sum(uah.values())) and report["(total)"]["costs_without_rate"] == 0,
          json.dumps(report["(total)"], default=str))
    platform_total = money(report["(total)"]["cost"])

    # Explicit USD, now with rates: USD amounts stay exact, the others are converted.
    _, report = kpi(ctx, "--group-by", "platform", "--currency", "USD")
    check("kpi --currency USD with rates: meta, microsoft and offline unchanged, none without rate",
          money(report["meta"]["cost"]) == cents(sums["meta"]) and money(report["microsoft"]["cost"]) == cents(sums["microsoft"])
          and money(report["offline"]["cost"]) == cents(sums["offline"]) and report["(total)"]["costs_without_rate"] == 0,
          json.dumps(report, default=str))
    approx = sums["google_ads"] / RATES["USD"]
    check(f"kpi --currency USD: google_ads converted through UAH (≈ {approx:.2f})",
          abs(money(report["google_ads"]["cost"]) - approx) < Decimal("0.02"), str(report["google_ads"]["cost"]))

    # By campaign: every campaign by name, costs adding up to the platform total.
    _, report = kpi(ctx, "--group-by", "campaign")
    campaigns = {f"{name} [{platform}]" for platform, name in {(r["platform"], r["campaign_name"]) for r in ctx.lake.rows()}}
    groups = set(report) - {"(total)"}
    check("kpi by campaign lists every campaign by name, e.g. \"Black Friday — prospecting [meta]\"",
          "Black Friday — prospecting [meta]" in groups and campaigns <= groups, f"missing {sorted(campaigns - groups)} in {sorted(groups)}")
    campaign_cost = {}
    for r in ctx.lake.rows():
        key = f"{r['campaign_name']} [{r['platform']}]"
        campaign_cost[key] = campaign_cost.get(key, Decimal(0)) + (Decimal(r["cost"]) * rate[r["currency"]]).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    wrong = {g: (str(money(report[g]["cost"])), str(cents(v))) for g, v in campaign_cost.items() if money(report[g]["cost"]) != cents(v)}
    check("kpi by campaign: each campaign's cost is its rows' cost", not wrong, f"(got, expected): {wrong}")
    check("kpi by campaign: the total equals the platform total", money(report["(total)"]["cost"]) == platform_total,
          f"{report['(total)']['cost']} vs {platform_total}")

    _, report = kpi(ctx, "--group-by", "ad_group")
    check("kpi by ad_group: the total equals the platform total", money(report["(total)"]["cost"]) == platform_total,
          f"{report['(total)']['cost']} vs {platform_total}")
    check("kpi by ad_group names \"<campaign> / <ad group> [platform]\"",
          "Black Friday — prospecting / Lookalike 1% [meta]" in report and "Brand — Kyiv / Brand exact [google_ads]" in report
          and "Black Friday billboards / (no ad group) [offline]" in report, str(sorted(report)))


# ---------------------------------------------------------------- main


class Context:
    pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True, help="the throughline binary")
    parser.add_argument("--keep", help="work in this (new) directory and keep it, for debugging")
    args = parser.parse_args()
    started = time.time()
    if args.keep:
        Path(args.keep).mkdir(parents=True)
    server, platforms = start_platforms()
    failed = None
    try:
        with tempfile.TemporaryDirectory(prefix="ads-pull-") if not args.keep else nullcontext(args.keep) as tmp:
            ctx = Context()
            ctx.cli = str(Path(args.cli).resolve())
            ctx.tmp = Path(tmp)
            ctx.lake = Lake(ctx.tmp / "lake")
            ctx.config = ctx.tmp / "ads.toml"
            ctx.platforms = platforms
            write_config(ctx.config, f"http://127.0.0.1:{platforms.port}")
            try:
                cli(ctx, "tenants", "add", "--tenant", TENANT, "--name", "Acme Kitchens")
                cli(ctx, "config", "check", str(ctx.config))
                rows, clicks = first_pull(ctx)
                repull_changes_nothing(ctx, rows, clicks)
                rows = restated_day_replaces(ctx, rows)
                failures_keep_data(ctx, rows)
                kpis_match_the_lake(ctx)
            except CheckFailed as e:
                failed = str(e)
    finally:
        server.shutdown()
        server.server_close()
    elapsed = time.time() - started
    if failed:
        print(f"ads-pull: FAILED at check {passed[0] + 1} ({failed}) after {passed[0]} passed, in {elapsed:.1f}s")
        return 1
    print(f"ads-pull: {passed[0]} checks passed in {elapsed:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
