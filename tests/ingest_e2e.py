"""End-to-end ingest: one realistic day of tenant `acme` sent to `throughline serve` over
HTTP the way browsers, bots and every CRM vendor would (beacons, pixels, forms, tracked
messenger links, signed webhooks, retries), the failures the server must refuse, a
quarantine replay after a config fix, then `throughline attribute`, and the lake read back
through its Delta logs (deltalake) with DuckDB.

Usage: python tests/ingest_e2e.py --cli path/to/throughline
"""

import argparse
import base64
import copy
import csv
import hashlib
import hmac
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lake_tables import register  # noqa: E402  (the tables through their Delta logs)

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "tests" / "fixtures" / "ingest.toml"
VENDOR = ROOT / "crates" / "sources" / "tests" / "fixtures" / "crm"
TENANT = "acme"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"

# Secrets of tests/fixtures/ingest.toml.
HUBSPOT_SECRET = "hubspot-e2e-client-secret"
PIPEDRIVE_AUTH = ("throughline", "pipedrive-e2e-password")
KEYCRM_TOKEN = "keycrm-e2e-token"
BITRIX_TOKEN = "bitrix24-e2e-application-token"
KOMMO_TOKEN = "kommo-e2e-token"
SHOPIFY_SECRET = "shopify-e2e-secret"
GENERIC_SECRET = "generic-e2e-secret"
SECRETS = [HUBSPOT_SECRET, PIPEDRIVE_AUTH[1], KEYCRM_TOKEN, BITRIX_TOKEN, KOMMO_TOKEN, SHOPIFY_SECRET, GENERIC_SECRET]

results = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    results["passed" if condition else "failed"] += 1
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f" {detail}"))


# ---------------------------------------------------------------- the server and HTTP


class Server:
    """`throughline serve` on a free port, started like crates/cli/tests/serve.rs does."""

    def __init__(self, cli, lake, config):
        self.proc = subprocess.Popen(
            [cli, "--lake", str(lake), "serve", "--addr", "127.0.0.1:0", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=clean_env(),
        )
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on http://"):
            self.stop()
            raise SystemExit(f"the server did not start: {line!r}")
        self.addr = line.removeprefix("listening on http://")
        self.host, port = self.addr.rsplit(":", 1)
        self.port = int(port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def request(self, method, target, body=b"", headers=None):
        """One request (redirects are not followed); returns (status, headers, body)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        all_headers = {"User-Agent": "Throughline-e2e-sender/1.0"}
        all_headers.update(headers or {})
        conn.request(method, target, body=body, headers=all_headers)
        resp = conn.getresponse()
        data = resp.read()
        answer = {k.lower(): v for k, v in resp.getheaders()}
        conn.close()
        return resp.status, answer, data

    def post(self, target, body, headers=None):
        status, _, data = self.request("POST", target, body, headers)
        return status, parse_json(data)

    def oversized(self, target, size):
        """POSTs `size` bytes; the server may answer before reading them all."""
        with socket.create_connection((self.host, self.port), timeout=30) as s:
            head = (
                f"POST {target} HTTP/1.1\r\nHost: {self.addr}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {size}\r\nConnection: close\r\n\r\n"
            )
            s.sendall(head.encode())
            chunk = b"[" + b" " * (64 * 1024 - 1)
            try:
                sent = 0
                while sent < size:
                    piece = chunk[: min(len(chunk), size - sent)]
                    s.sendall(piece)
                    sent += len(piece)
            except OSError:
                pass
            data = b""
            try:
                while True:
                    more = s.recv(65536)
                    if not more:
                        break
                    data += more
            except OSError:
                pass
        status_line = data.split(b"\r\n", 1)[0].decode(errors="replace")
        parts = status_line.split(" ")
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def parse_json(data):
    try:
        return json.loads(data)
    except ValueError:
        return {"_raw": data.decode(errors="replace")}


def clean_env():
    """The environment without THROUGHLINE_* settings (the lake is local, state embedded)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("THROUGHLINE_")}


def cli_run(cli, lake, *args, check_rc=True):
    out = subprocess.run(
        [cli, "--lake", str(lake), *args],
        capture_output=True,
        text=True,
        env=clean_env(),
    )
    if check_rc and out.returncode != 0:
        raise SystemExit(f"{args} failed ({out.returncode}): {out.stderr}")
    return out


# ---------------------------------------------------------------- signing


def hubspot_headers(server, target, body, secret=HUBSPOT_SECRET, age_ms=0):
    ts = str(int(time.time() * 1000) - age_ms)
    url = f"http://{server.addr}{target}"
    sig = base64.b64encode(hmac.new(secret.encode(), b"POST" + url.encode() + body + ts.encode(), hashlib.sha256).digest())
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": sig.decode(),
        "X-HubSpot-Request-Timestamp": ts,
    }


def pipedrive_headers(user=PIPEDRIVE_AUTH[0], password=PIPEDRIVE_AUTH[1]):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Content-Type": "application/json", "Authorization": f"Basic {token}"}


def shopify_headers(body, topic, secret=SHOPIFY_SECRET):
    sig = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": sig,
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": "acme-shop.myshopify.com",
        "X-Shopify-Webhook-Id": hashlib.md5(body).hexdigest(),
    }


def generic_headers(body, secret=GENERIC_SECRET):
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Throughline-Signature": f"sha256={sig}"}


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------- the day's data


class Day:
    """What the test sends, and what it expects in the lake."""

    def __init__(self):
        now = datetime.now(timezone.utc).replace(microsecond=0)
        self.base = now - timedelta(hours=8)
        self.touchpoints = set()  # event ids expected in touchpoints
        self.leads = set()
        self.deal_events = {}  # (deal_id, type) -> expected count
        self.orders = set()
        self.emails = []
        self.phones = []  # as sent
        self.phone_digits = []  # E.164 digits, as hashed
        self.accepted_raw = []  # (source, body) of every accepted delivery
        self.bot_visitors = []
        self.bot_events = []
        self.visitors = [f"vis-e2e-{i:02d}-{sha256(str(i))[:8]}" for i in range(30)]
        self.gclids = {i: f"Cj0KCQ-e2e-gclid-{i:02d}" for i in range(0, 6)}
        self.fbclids = {i: f"IwAR-e2e-fbclid-{i:02d}" for i in range(6, 11)}

    def at(self, minutes):
        return self.base + timedelta(minutes=minutes)

    def iso(self, minutes):
        return self.at(minutes).isoformat().replace("+00:00", "Z")

    def secs(self, minutes):
        return int(self.at(minutes).timestamp())

    def millis(self, minutes):
        return self.secs(minutes) * 1000

    def pd_v1(self, minutes):
        return self.at(minutes).strftime("%Y-%m-%d %H:%M:%S")

    def deal(self, deal_id, *types):
        for t in types:
            self.deal_events[(deal_id, t)] = self.deal_events.get((deal_id, t), 0) + 1

    def person(self, email, phone, digits):
        self.emails.append(email)
        self.phones.append(phone)
        self.phone_digits.append(digits)


def landing(day, i):
    """Visitor i's landing page and referrer."""
    if i in day.gclids:
        return f"https://acme.example.ua/kitchens?utm_source=google&utm_medium=cpc&utm_campaign=kitchens_spring&gclid={day.gclids[i]}", "https://www.google.com/"
    if i in day.fbclids:
        return f"https://acme.example.ua/wardrobes?utm_source=facebook&utm_medium=paid_social&utm_campaign=wardrobes_spring&fbclid={day.fbclids[i]}", "https://l.facebook.com/"
    if i <= 15:
        return "https://acme.example.ua/sale?utm_source=newsletter&utm_medium=email&utm_campaign=march_digest", ""
    if i <= 22:
        return "https://acme.example.ua/", "https://www.google.com/"
    if i <= 26:
        return "https://acme.example.ua/blog/oak-vs-ash", "https://forum.example.com/thread/4411"
    return "https://acme.example.ua/contacts", ""


def send_beacons(server, day, key):
    """~30 visitors' page views as beacons (in batches, each retried) and pixels."""
    batches = [[], [], []]
    for i in range(27):
        url, ref = landing(day, i)
        views = [(url, ref)]
        if i in (0, 3, 16, 20):  # a few visitors browse on
            views += [("https://acme.example.ua/kitchens/oak-classic", url), ("https://acme.example.ua/contacts", "https://acme.example.ua/kitchens/oak-classic")]
        for n, (u, r) in enumerate(views):
            event = {"event_id": f"evt-e2e-{i:02d}-{n}", "ts": day.iso(5 + i * 10 + n), "visitor_id": day.visitors[i], "url": u}
            if r:
                event["referrer"] = r
            batches[i % 3].append(event)
            day.touchpoints.add(event["event_id"])
    for n, batch in enumerate(batches):
        body = json.dumps(batch).encode()
        ua = BROWSER if n % 2 else PHONE_UA
        status, answer = server.post(f"/v1/events?key={key}", body, {"Content-Type": "application/json", "User-Agent": ua})
        check(f"beacon batch {n}: 200 with every event accepted", status == 200 and answer == {"accepted": len(batch), "duplicates": 0}, f"{status} {answer}")
        status, answer = server.post(f"/v1/events?key={key}", body, {"Content-Type": "application/json", "User-Agent": ua})
        check(f"beacon batch {n} retried: all duplicates", status == 200 and answer == {"accepted": 0, "duplicates": len(batch)}, f"{status} {answer}")
        day.accepted_raw.append(("collect-events", body))
    for i in range(27, 30):  # the pixel, for visitors without JavaScript
        url, ref = landing(day, i)
        eid = f"px-e2e-{i:02d}"
        query = urllib.parse.urlencode({"key": key, "url": url, "vid": day.visitors[i], "eid": eid, "ts": day.iso(5 + i * 10)})
        for attempt in range(2):
            status, headers, data = server.request("GET", f"/v1/t.gif?{query}", headers={"User-Agent": BROWSER})
            check(f"pixel {eid} (attempt {attempt + 1}): a GIF", status == 200 and headers.get("content-type") == "image/gif" and data.startswith(b"GIF89a"), f"{status} {headers}")
        day.touchpoints.add(eid)


def send_bots(server, day, key):
    """Crawlers, prefetches and a messenger's link preview: flagged, never touchpoints."""
    bot = [{"event_id": "bot-e2e-googlebot", "ts": day.iso(100), "visitor_id": "bot-visitor-googlebot", "url": "https://acme.example.ua/kitchens"}]
    status, answer = server.post(
        f"/v1/events?key={key}",
        json.dumps(bot).encode(),
        {"Content-Type": "application/json", "User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
    )
    check("Googlebot's beacon is flagged as a bot, not accepted", status == 200 and answer.get("bots") == 1 and answer.get("accepted") == 0, f"{status} {answer}")
    query = urllib.parse.urlencode({"key": key, "url": "https://acme.example.ua/sale", "vid": "bot-visitor-prefetch", "eid": "bot-e2e-prefetch", "ts": day.iso(101)})
    status, headers, _ = server.request("GET", f"/v1/t.gif?{query}", headers={"User-Agent": BROWSER, "Sec-Purpose": "prefetch"})
    check("a prefetched pixel still answers a GIF", status == 200 and headers.get("content-type") == "image/gif", str(status))
    prefetch = [{"event_id": "bot-e2e-prefetch-beacon", "ts": day.iso(102), "visitor_id": "bot-visitor-prefetch", "url": "https://acme.example.ua/"}]
    status, answer = server.post(f"/v1/events?key={key}", json.dumps(prefetch).encode(), {"Content-Type": "application/json", "User-Agent": BROWSER, "Sec-Purpose": "prefetch;prerender"})
    check("a Sec-Purpose: prefetch beacon is flagged as a bot", status == 200 and answer.get("bots") == 1 and answer.get("accepted") == 0, f"{status} {answer}")
    status, headers, _ = server.request("GET", "/r/tg-spring?vid=botvisitor-telegram", headers={"User-Agent": "TelegramBot (like TwitterBot)"})
    check("TelegramBot's link preview is still redirected", status == 302 and "t.me/acme_bot" in headers.get("location", ""), f"{status} {headers}")
    day.bot_visitors += ["bot-visitor-googlebot", "bot-visitor-prefetch", "botvisitor-telegram"]
    day.bot_events += ["bot-e2e-googlebot", "bot-e2e-prefetch", "bot-e2e-prefetch-beacon"]


def send_forms(server, day, key):
    """Web form leads, phones in national and international formats (phone country 380)."""
    forms = []
    people = [
        (0, "Oksana.Melnyk@example.com", "067 123 45 01", "380671234501"),
        (6, "petro.koval@example.net", "+380 50 111 22 02", "380501112202"),
        (11, " Hanna.Bilyk@Example.org ", "(093) 555-03-03", "380935550303"),
        (16, "andriy.tkach@example.com", "0663330404", "380663330404"),
        (23, "sofia.lysenko@example.com", "+380 97 777 05 05", "380977770505"),
    ]
    for n, (i, email, phone, digits) in enumerate(people):
        lead_id = f"form-e2e-{n + 1}"
        forms.append({"lead_id": lead_id, "ts": day.iso(5 + i * 10 + 5), "visitor_id": day.visitors[i], "email": email, "phone": phone, "source": "form"})
        day.leads.add(lead_id)
        day.person(email.strip(), phone, digits)
    body = json.dumps(forms).encode()
    status, answer = server.post(f"/v1/leads?key={key}", body, {"Content-Type": "application/json", "User-Agent": BROWSER})
    check("form leads: 200, all accepted", status == 200 and answer == {"accepted": 5, "duplicates": 0}, f"{status} {answer}")
    status, answer = server.post(f"/v1/leads?key={key}", body, {"Content-Type": "application/json", "User-Agent": BROWSER})
    check("form leads retried: all duplicates", status == 200 and answer == {"accepted": 0, "duplicates": 5}, f"{status} {answer}")
    day.accepted_raw.append(("collect-leads", body))
    return people


def deliver(server, day, name, crm, target, body, headers_fn):
    """Sends a delivery and its retry (headers_fn() is called per attempt, as a vendor
    re-signs): the first is accepted, the retry counts only duplicates."""
    status, first = server.post(target, body, headers_fn())
    ok = status == 200 and "accepted" in first
    check(f"{name}: 200", ok, f"{status} {first}")
    status, again = server.post(target, body, headers_fn())
    total = first.get("accepted", 0) + first.get("duplicates", 0) if ok else -1
    check(f"{name} retried: stored once", status == 200 and again.get("accepted") == 0 and again.get("duplicates") == total, f"{status} {again} after {first}")
    day.accepted_raw.append((f"webhook-{crm}", body))
    return first


def load(vendor, name):
    return json.loads((VENDOR / vendor / name).read_text())


def form_body(pairs):
    return urllib.parse.urlencode(pairs).encode()


def send_hubspot(server, day):
    target = f"/v1/webhooks/hubspot?tenant={TENANT}"
    events = load("hubspot", "batch.json")
    contact, deal = 91000001, 92000001
    for n, e in enumerate(events):
        e["eventId"] = 7700000 + n
        e["occurredAt"] = day.millis(200 + n)
        if e.get("objectId") in (90817264510,):
            e["objectId"] = contact
        if e.get("objectId") in (27150394861,):
            e["objectId"] = deal
        if "fromObjectId" in e:
            e["fromObjectId"], e["toObjectId"] = deal, contact
    body = json.dumps(events).encode()
    deliver(server, day, "HubSpot batch (contact, deal, association, stage, amount)", "hubspot", target, body, lambda: hubspot_headers(server, target, body))
    won = [{**copy.deepcopy(events[3]), "eventId": 7700100, "occurredAt": day.millis(260), "propertyValue": "closedwon"}]
    won_body = json.dumps(won).encode()
    deliver(server, day, "HubSpot deal won", "hubspot", target, won_body, lambda: hubspot_headers(server, target, won_body))
    day.leads.add(f"hubspot-contact-{contact}")
    day.deal(f"hubspot-deal-{deal}", "created", "stage_changed", "won")


def send_pipedrive(server, day):
    target = f"/v1/webhooks/pipedrive?tenant={TENANT}"
    headers = pipedrive_headers
    # v1: a person from a Google Ads click on the site, with its visitor id, then a deal won.
    person = load("pipedrive", "v1_person_added.json")
    cur = person["current"]
    cur["add_time"] = cur["update_time"] = day.pd_v1(20)
    person["meta"]["timestamp"] = day.secs(20)
    person["meta"]["timestamp_micro"] = day.secs(20) * 1_000_000 + 412930
    cur["email"] = [{"label": "work", "value": "taras.e2e@example.com", "primary": True}]
    cur["phone"] = [{"label": "mobile", "value": "+380 67 200 11 01", "primary": True}]
    day.person("taras.e2e@example.com", "+380 67 200 11 01", "380672001101")
    cur["7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d"] = day.gclids[1]
    cur["0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3"] = day.visitors[1]
    deliver(server, day, "Pipedrive v1 added.person", "pipedrive", target, json.dumps(person).encode(), headers)
    added = load("pipedrive", "v1_deal_added.json")
    added["current"]["add_time"] = added["current"]["update_time"] = day.pd_v1(25)
    added["meta"]["timestamp"] = day.secs(25)
    added["meta"]["timestamp_micro"] = day.secs(25) * 1_000_000 + 118204
    deliver(server, day, "Pipedrive v1 added.deal", "pipedrive", target, json.dumps(added).encode(), headers)
    won = load("pipedrive", "v1_deal_won.json")
    for part in ("current", "previous"):
        won[part]["add_time"] = day.pd_v1(25)
    won["previous"]["update_time"] = won["previous"]["stage_change_time"] = day.pd_v1(120)
    for f in ("update_time", "stage_change_time", "won_time", "close_time"):
        won["current"][f] = day.pd_v1(300)
    won["meta"]["timestamp"] = day.secs(300)
    won["meta"]["timestamp_micro"] = day.secs(300) * 1_000_000 + 550871
    deliver(server, day, "Pipedrive v1 updated.deal (won)", "pipedrive", target, json.dumps(won).encode(), headers)
    day.leads.add("pipedrive-person-5821")
    day.touchpoints.add("pipedrive-person-5821-touch")
    day.deal("pipedrive-deal-1207", "created", "stage_changed", "won")

    # v2: a person from a Facebook ad (landing URL field), a deal created, moved, lost.
    person2 = load("pipedrive", "v2_person_create.json")
    d = person2["data"]
    d["add_time"] = d["update_time"] = day.iso(80)
    person2["meta"]["timestamp"] = day.iso(80)
    d["emails"] = [{"label": "work", "value": "iryna.e2e@example.org", "primary": True}]
    d["phones"] = [{"label": "mobile", "value": "+380501112233", "primary": True}]
    day.person("iryna.e2e@example.org", "+380501112233", "380501112233")
    d["custom_fields"]["0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3"] = {"type": "varchar", "value": day.visitors[7]}
    d["custom_fields"]["2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e"] = {
        "type": "varchar",
        "value": f"https://acme.example.ua/wardrobes?utm_source=facebook&utm_medium=paid_social&utm_campaign=wardrobes_spring&fbclid={day.fbclids[7]}",
    }
    deliver(server, day, "Pipedrive v2 create.person", "pipedrive", target, json.dumps(person2).encode(), headers)
    change = load("pipedrive", "v2_deal_change.json")
    create = copy.deepcopy(change)
    create["meta"].update({"action": "create", "id": "11111111-e2e0-4000-8000-000000001208", "timestamp": day.iso(85)})
    create["data"].update({"stage_id": 3, "add_time": day.iso(85), "update_time": day.iso(85), "stage_change_time": None})
    create["previous"] = None
    deliver(server, day, "Pipedrive v2 create.deal", "pipedrive", target, json.dumps(create).encode(), headers)
    change["meta"]["timestamp"] = day.iso(150)
    change["data"].update({"add_time": day.iso(85), "update_time": day.iso(150), "stage_change_time": day.iso(150)})
    change["previous"].update({"update_time": day.iso(85)})
    deliver(server, day, "Pipedrive v2 change.deal (stage)", "pipedrive", target, json.dumps(change).encode(), headers)
    lost = load("pipedrive", "v2_deal_lost.json")
    lost["meta"]["timestamp"] = day.iso(320)
    lost["data"].update({"add_time": day.iso(85), "update_time": day.iso(320), "stage_change_time": day.iso(150), "lost_time": day.iso(320), "close_time": day.iso(320)})
    lost["previous"]["update_time"] = day.iso(150)
    deliver(server, day, "Pipedrive v2 change.deal (lost)", "pipedrive", target, json.dumps(lost).encode(), headers)
    day.leads.add("pipedrive-person-5822")
    day.touchpoints.add("pipedrive-person-5822-touch")
    day.deal("pipedrive-deal-1208", "created", "stage_changed", "lost")


def keycrm_time(day, minutes):
    return day.at(minutes).strftime("%Y-%m-%d %H:%M:%S")


def send_keycrm(server, day):
    target = f"/v1/webhooks/keycrm?tenant={TENANT}&token={KEYCRM_TOKEN}"
    headers = lambda: {"Content-Type": "application/json"}  # noqa: E731
    card = load("keycrm", "card_created.json")
    ctx = card["context"]
    ctx["created_at"] = ctx["updated_at"] = ctx["status_changed_at"] = keycrm_time(day, 40)
    ctx["custom_fields"][0]["value"] = day.fbclids[8]
    ctx["custom_fields"].append({"id": 6, "uuid": "LD_1003", "name": "tl_vid", "type": "text", "value": day.visitors[8]})
    deliver(server, day, "KeyCRM card created", "keycrm", target, json.dumps(card).encode(), headers)
    won = load("keycrm", "card_won.json")
    ctx = won["context"]
    ctx["created_at"] = keycrm_time(day, 40)
    ctx["status_changed_at"] = ctx["updated_at"] = day.iso(330)
    ctx["custom_fields"][0]["value"] = day.fbclids[8]
    ctx["custom_fields"].append({"id": 6, "uuid": "LD_1003", "name": "tl_vid", "type": "text", "value": day.visitors[8]})
    deliver(server, day, "KeyCRM card won", "keycrm", target, json.dumps(won).encode(), headers)
    day.leads.add("keycrm-lead-3310")
    day.touchpoints.add("keycrm-lead-3310-touch")
    day.deal("keycrm-deal-3310", "created", "won")
    buyer = {"full_name": "Vira Hnatyuk", "email": "vira.e2e@example.com", "phone": "+380 63 400 50 60"}
    day.person("vira.e2e@example.com", "+380 63 400 50 60", "380634005060")
    new = load("keycrm", "order_new.json")
    new["context"]["buyer"] = buyer
    new["context"]["created_at"] = new["context"]["updated_at"] = new["context"]["status_changed_at"] = keycrm_time(day, 60)
    new["context"]["marketing"]["created_at"] = new["context"]["marketing"]["updated_at"] = keycrm_time(day, 60)
    deliver(server, day, "KeyCRM order new", "keycrm", target, json.dumps(new).encode(), headers)
    paid = load("keycrm", "order_paid.json")
    paid["context"]["buyer"] = buyer
    paid["context"]["created_at"] = paid["context"]["status_changed_at"] = keycrm_time(day, 60)
    paid["context"]["updated_at"] = keycrm_time(day, 90)
    paid["context"]["marketing"]["created_at"] = paid["context"]["marketing"]["updated_at"] = keycrm_time(day, 60)
    deliver(server, day, "KeyCRM order paid", "keycrm", target, json.dumps(paid).encode(), headers)
    day.leads.add("keycrm-client-8840")
    day.touchpoints.add("keycrm-client-8840-touch")
    day.orders.add("keycrm-order-20431")


def bitrix_body(day, name, minutes, token=BITRIX_TOKEN):
    pairs = urllib.parse.parse_qsl((VENDOR / "bitrix24" / name).read_text().strip(), keep_blank_values=True)
    out = []
    for k, v in pairs:
        if k == "ts":
            v = str(day.secs(minutes))
        elif k == "auth[application_token]":
            v = token
        out.append((k, v))
    return form_body(out)


def send_bitrix24(server, day):
    target = f"/v1/webhooks/bitrix24?tenant={TENANT}"
    for name, minutes, what in [("lead_add.txt", 30, "lead"), ("contact_add.txt", 31, "contact"), ("deal_add.txt", 32, "deal added"), ("deal_update.txt", 200, "deal updated")]:
        deliver(server, day, f"Bitrix24 {what}", "bitrix24", target, bitrix_body(day, name, minutes), lambda: FORM)
    day.leads.update(["bitrix24-lead-5531", "bitrix24-contact-904"])
    day.deal("bitrix24-deal-1287", "created")


def kommo_lead(action, lead_id, status, minutes, day, fields=(), price="45800", old_status=None, extra=(), created=None):
    prefix = f"leads[{action}][0]"
    pairs = [
        (f"{prefix}[id]", str(lead_id)),
        (f"{prefix}[name]", "Заявка з сайту"),
        (f"{prefix}[status_id]", str(status)),
        (f"{prefix}[price]", price),
        (f"{prefix}[responsible_user_id]", "7654321"),
        (f"{prefix}[last_modified]", str(day.secs(minutes))),
        (f"{prefix}[date_create]", str(day.secs(minutes if created is None else created))),
        (f"{prefix}[pipeline_id]", "7012345"),
        (f"{prefix}[account_id]", "31415926"),
    ]
    if old_status is not None:
        pairs.append((f"{prefix}[old_status_id]", str(old_status)))
    for n, (field_id, name, value) in enumerate(fields):
        cf = f"{prefix}[custom_fields][{n}]"
        pairs += [(f"{cf}[id]", field_id), (f"{cf}[name]", name), (f"{cf}[values][0][value]", value)]
    pairs += list(extra)
    pairs += [("account[subdomain]", "acmeshop"), ("account[id]", "31415926")]
    return form_body(pairs)


def send_kommo(server, day):
    """Kommo: a contact, a Google Ads lead moved then lost. Returns the messenger sender."""
    target = f"/v1/webhooks/kommo?tenant={TENANT}&token={KOMMO_TOKEN}"
    contact = urllib.parse.parse_qsl((VENDOR / "kommo" / "contact_add.txt").read_text().strip(), keep_blank_values=True)
    contact = [(k, {"+380671234567": "+380671230909", "olena.k@example.com": "olena.e2e@example.com"}.get(v, v)) for k, v in contact]
    contact = [(k, str(day.secs(35)) if k.endswith(("[date_create]", "[last_modified]", "[created_at]", "[updated_at]")) else v) for k, v in contact]
    day.person("olena.e2e@example.com", "+380671230909", "380671230909")
    deliver(server, day, "Kommo contact added", "kommo", target, form_body(contact), lambda: FORM)
    fields = [("812345", "utm_source", "google"), ("812347", "utm_campaign", "kitchens_spring"), ("812349", "gclid", day.gclids[2]), ("812350", "tl_vid", day.visitors[2])]
    deliver(server, day, "Kommo lead added", "kommo", target, kommo_lead("add", 4400001, 61234561, 36, day, fields), lambda: FORM)
    deliver(server, day, "Kommo lead status changed", "kommo", target, kommo_lead("status", 4400001, 61234562, 180, day, old_status=61234561, created=36), lambda: FORM)
    deliver(
        server, day, "Kommo lead lost", "kommo", target,
        kommo_lead("status", 4400001, 143, 340, day, old_status=61234562, extra=[("leads[status][0][loss_reason_id]", "9001")], created=36),
        lambda: FORM,
    )
    day.leads.update(["kommo-contact-9876543", "kommo-lead-4400001"])
    day.touchpoints.add("kommo-lead-4400001-touch")
    day.deal("kommo-deal-4400001", "created", "stage_changed", "lost")


def send_shopify(server, day):
    target = f"/v1/webhooks/shopify?tenant={TENANT}"
    order = load("shopify", "orders_create.json")
    order["id"] = 5839201999001
    order["customer"]["id"] = 7210394999001
    for k in ("created_at", "updated_at"):
        order[k] = day.iso(70)
    order["processed_at"] = day.iso(70)
    order["customer"]["created_at"] = day.iso(69)
    order["email"] = order["contact_email"] = order["customer"]["email"] = "maria.e2e@example.com"
    order["customer"]["phone"] = "+380631239001"
    day.person("maria.e2e@example.com", "+380631239001", "380631239001")
    order["landing_site"] = f"/products/oak-cutting-board?utm_source=google&utm_medium=cpc&utm_campaign=boards_spring&gclid={day.gclids[3]}"
    order["note_attributes"] = [{"name": "_tl_vid", "value": day.visitors[3]}, {"name": "gift_wrap", "value": "no"}]
    scrub(order, {"Maria.Lysenko@example.com": "maria.e2e@example.com", "+380631234567": "+380631239001"})
    body = json.dumps(order).encode()
    deliver(server, day, "Shopify orders/create", "shopify", target, body, lambda: shopify_headers(body, "orders/create"))
    paid = copy.deepcopy(order)
    paid["financial_status"] = "paid"
    paid["updated_at"] = day.iso(75)
    paid_body = json.dumps(paid).encode()
    first = deliver(server, day, "Shopify orders/paid (same order)", "shopify", target, paid_body, lambda: shopify_headers(paid_body, "orders/paid"))
    check("Shopify orders/paid of a created order adds nothing new", first.get("accepted") == 0, str(first))
    day.orders.add("shopify-order-5839201999001")
    day.leads.add("shopify-customer-7210394999001")
    day.touchpoints.add("shopify-customer-7210394999001-touch")


def scrub(value, replace):
    """Replaces the fixture's own contact details everywhere in a payload."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str):
                value[k] = replace.get(v, v)
            else:
                scrub(v, replace)
    elif isinstance(value, list):
        for n, v in enumerate(value):
            if isinstance(v, str):
                value[n] = replace.get(v, v)
            else:
                scrub(v, replace)


def generic_payload(day, leads):
    return json.dumps({"source": "acme-callcenter", "leads": leads}).encode()


def send_generic(server, day):
    target = f"/v1/webhooks/generic?tenant={TENANT}"
    leads = [
        {"id": "gen-e2e-1", "created_at": day.iso(45), "contact": {"email": "denys.e2e@example.com", "phone": "050 444 10 10"}, "channel": "call", "tracking": {"tl_vid": day.visitors[4], "gclid": day.gclids[4]}},
        {"id": "gen-e2e-2", "created_at": day.iso(125), "contact": {"email": "yulia.e2e@example.com"}, "channel": "call", "tracking": {"tl_vid": day.visitors[12]}},
    ]
    day.person("denys.e2e@example.com", "050 444 10 10", "380504441010")
    day.emails.append("yulia.e2e@example.com")
    body = generic_payload(day, leads)
    deliver(server, day, "generic JSON webhook (mapped leads)", "generic", target, body, lambda: generic_headers(body))
    day.leads.update(["gen-e2e-1", "gen-e2e-2"])
    day.touchpoints.add("gen-e2e-1-touch")


def messenger_click(server, day):
    """An Instagram ad's click on the tracked Telegram link; returns the token."""
    status, headers, _ = server.request("GET", "/r/tg-spring?fbclid=IwAR_test", headers={"User-Agent": PHONE_UA})
    location = headers.get("location", "")
    check("tracked link: 302 to the Telegram bot", status == 302 and location.startswith("https://t.me/acme_bot?start="), f"{status} {location}")
    token = location.partition("?start=")[2]
    check("tracked link: the token fits a deep link", 8 <= len(token) <= 64 and all(c.isalnum() or c in "-_" for c in token), token)
    check("tracked link: the visitor cookie carries the token", f"tl_vid={token}" in headers.get("set-cookie", ""), headers.get("set-cookie", ""))
    return token


def send_messenger_deal(server, day, token):
    """Kommo: the bot's conversation becomes a lead with the token, then a won deal."""
    target = f"/v1/webhooks/kommo?tenant={TENANT}&token={KOMMO_TOKEN}"
    now_min = (datetime.now(timezone.utc) - day.base).total_seconds() / 60
    fields = [("812350", "tl_vid", token)]
    deliver(server, day, "Kommo messenger lead (token in a custom field)", "kommo", target, kommo_lead("add", 4400002, 61234561, now_min + 2, day, fields, price="52000"), lambda: FORM)
    body = kommo_lead("status", 4400002, 142, now_min + 5, day, price="52000", old_status=61234561, created=now_min + 2)
    deliver(server, day, "Kommo messenger deal won", "kommo", target, body, lambda: FORM)
    day.leads.add("kommo-lead-4400002")
    day.deal("kommo-deal-4400002", "created", "won")


# ---------------------------------------------------------------- refusals


def refusals(server, day, key):
    """Deliveries that must be refused. Returns [(crm, body, status)] of those that must be
    kept in quarantine, and the bodies that must not be."""
    kept, not_kept = [], []
    hub = f"/v1/webhooks/hubspot?tenant={TENANT}"
    forged = json.dumps([{"eventId": 7799001, "occurredAt": day.millis(10), "subscriptionType": "contact.creation", "objectId": 91999001}]).encode()
    status, answer = server.post(hub, forged, hubspot_headers(server, hub, forged, secret="not-the-secret"))
    check("HubSpot: a wrong signature gets 401", status == 401, f"{status} {answer}")
    first_401 = answer
    kept.append(("hubspot", forged, 401, "signature"))
    stale = json.dumps([{"eventId": 7799002, "occurredAt": day.millis(10), "subscriptionType": "contact.creation", "objectId": 91999002}]).encode()
    status, answer = server.post(hub, stale, hubspot_headers(server, hub, stale, age_ms=10 * 60 * 1000))
    check("HubSpot: a 10-minute-old timestamp gets 401", status == 401, f"{status} {answer}")
    refused_401 = [first_401, answer]
    kept.append(("hubspot", stale, 401, "5 minutes"))
    bad = b'{"eventId": 7799003, "not": "an array"}'
    status, answer = server.post(hub, bad, hubspot_headers(server, hub, bad))
    check("HubSpot: a signed body that is not an event array gets 400", status == 400, f"{status} {answer}")
    kept.append(("hubspot", bad, 400, "malformed"))

    shop = f"/v1/webhooks/shopify?tenant={TENANT}"
    order = json.dumps({"id": 5839201999999, "total_price": "10.00", "currency": "UAH", "processed_at": day.iso(10)}).encode()
    status, answer = server.post(shop, order, shopify_headers(order, "orders/create", secret="wrong"))
    check("Shopify: a wrong HMAC gets 401", status == 401, f"{status} {answer}")
    refused_401.append(answer)
    kept.append(("shopify", order, 401, "not verified"))
    junk = b"{this is not json"
    status, answer = server.post(shop, junk, shopify_headers(junk, "orders/create"))
    check("Shopify: a signed malformed body gets 400", status == 400, f"{status} {answer}")
    kept.append(("shopify", junk, 400, "malformed"))

    gen = f"/v1/webhooks/generic?tenant={TENANT}"
    forged_gen = generic_payload(day, [{"id": "gen-e2e-forged", "created_at": day.iso(50), "contact": {"email": "mallory.e2e@example.com"}}])
    day.emails.append("mallory.e2e@example.com")
    status, answer = server.post(gen, forged_gen, generic_headers(forged_gen, secret="guessed"))
    check("generic: a wrong signature gets 401", status == 401, f"{status} {answer}")
    refused_401.append(answer)
    kept.append(("generic", forged_gen, 401, "signature"))

    wrong = kommo_lead("add", 4499001, 61234561, 10, day)
    status, answer = server.post(f"/v1/webhooks/kommo?tenant={TENANT}&token=not-the-token", wrong, FORM)
    check("Kommo: a wrong token gets 401", status == 401, f"{status} {answer}")
    refused_401.append(answer)
    kept.append(("kommo", wrong, 401, "token"))
    status, answer = server.post(f"/v1/webhooks/kommo?tenant={TENANT}&token={KOMMO_TOKEN}", b"hello=world", FORM)
    check("Kommo: a body without leads/contacts gets 400", status == 400, f"{status} {answer}")
    kept.append(("kommo", b"hello=world", 400, "malformed"))
    card = json.dumps({"event": "lead.change_lead_status", "context": {"id": 3999, "status_id": 11, "created_at": keycrm_time(day, 10)}}).encode()
    status, answer = server.post(f"/v1/webhooks/keycrm?tenant={TENANT}", card, {"Content-Type": "application/json"})
    check("KeyCRM: no token gets 401", status == 401, f"{status} {answer}")
    refused_401.append(answer)
    kept.append(("keycrm", card, 401, "token"))
    bitrix = bitrix_body(day, "lead_add.txt", 11, token="stolen-or-guessed")
    status, answer = server.post(f"/v1/webhooks/bitrix24?tenant={TENANT}", bitrix, FORM)
    check("Bitrix24: a wrong application token gets 401", status == 401, f"{status} {answer}")
    refused_401.append(answer)
    kept.append(("bitrix24", bitrix, 401, "token"))
    person = load("pipedrive", "v2_person_create.json")
    person["data"]["id"] = 5899
    person["data"]["emails"] = [{"value": "eve.e2e@example.org", "primary": True}]
    day.emails.append("eve.e2e@example.org")
    person_body = json.dumps(person).encode()
    status, answer = server.post(f"/v1/webhooks/pipedrive?tenant={TENANT}", person_body, pipedrive_headers(password="guess"))
    check("Pipedrive: wrong basic-auth credentials get 401", status == 401, f"{status} {answer}")
    refused_401.append(answer)
    kept.append(("pipedrive", person_body, 401, "credentials"))

    # A bad token, an unknown tenant and a CRM not set up answer alike (401, one body): a
    # stranger cannot tell which CRMs a tenant uses. Nothing is kept for the latter two.
    probe = json.dumps([{"eventId": 7799100, "occurredAt": day.millis(10), "subscriptionType": "contact.creation", "objectId": 91999100}]).encode()
    for name, target in [
        ("an unknown tenant", "/v1/webhooks/hubspot?tenant=nosuch"),
        ("a tenant without HubSpot set up", "/v1/webhooks/hubspot?tenant=beta"),
        ("no tenant", "/v1/webhooks/hubspot"),
        ("a tenant without Bitrix24 set up", "/v1/webhooks/bitrix24?tenant=beta"),
        ("a tenant without the generic webhook set up", "/v1/webhooks/generic?tenant=beta"),
    ]:
        status, headers, data = server.request("POST", target, probe, hubspot_headers(server, target, probe))
        check(f"webhook for {name}: 401", status == 401, f"{status} {data!r}")
        refused_401.append(parse_json(data))
    check("bad signatures, tokens and credentials, unknown tenants and CRMs not set up: one 401 body",
          len({json.dumps(a, sort_keys=True) for a in refused_401}) == 1, str(refused_401))
    status, headers, data = server.request("POST", f"/v1/webhooks/salesforce?tenant={TENANT}", probe, {"Content-Type": "application/json"})
    check("webhook for an unknown CRM (an unknown path): 404", status == 404 and parse_json(data) == {"error": "not found"}, f"{status} {data!r}")
    not_kept.append(probe)

    # The key a web page carries cannot write money: a won deal of 5,000,000 UAH gets 403.
    money = json.dumps({"table": "deal_events", "records": [
        {"event_id": "e2e-forged-win", "deal_id": "e2e-forged-deal", "ts": day.iso(60), "type": "won",
         "amount": "5000000", "currency": "UAH"}]}).encode()
    status, answer = server.post(f"/v1/webhooks/generic?key={key}", money, {"Content-Type": "application/json"})
    check("the public ingest key sending a won deal: 403 naming the server key",
          status == 403 and "server key" in answer.get("error", ""), f"{status} {answer}")
    status, answer = server.post(f"/v1/webhooks/generic?key={key}", money.replace(b"deal_events", b"orders"),
                                 {"Content-Type": "application/json"})
    check("the public ingest key sending an order: 403", status == 403, f"{status} {answer}")
    # One small request with events on 101 days would write 101 files: 400, kept, nothing stored.
    start = datetime.now(timezone.utc) - timedelta(days=200)
    spread = json.dumps([
        {"event_id": f"e2e-spread-{n}", "ts": (start + timedelta(days=n)).strftime("%Y-%m-%dT12:00:00Z"),
         "visitor_id": "e2e-spread", "url": "https://acme.example.ua/"} for n in range(101)]).encode()
    status, answer = server.post(f"/v1/events?key={key}", spread, {"Content-Type": "application/json", "User-Agent": BROWSER})
    check("events on 101 days in one request: 400, kept for replay",
          status == 400 and answer.get("kept_for_replay") is True
          and "101 different days" in json.dumps(answer), f"{status} {str(answer)[:300]}")
    # A Microsoft Ads click through Search Ads 360 carries a gclid too: msclkid is the click
    # id, and both are kept in click_ids (checked in the lake).
    sa360 = {"event_id": "sa360-e2e-1", "ts": day.iso(40), "visitor_id": "e2e-sa360",
             "url": "https://acme.example.ua/?utm_source=bing&utm_medium=cpc&msclkid=5a1b2c3d&gclid=EAIaIQob&gclsrc=ds"}
    status, answer = server.post(f"/v1/events?key={key}", json.dumps([sa360]).encode(),
                                 {"Content-Type": "application/json", "User-Agent": BROWSER})
    check("a beacon with two click ids: 200", status == 200 and answer.get("accepted") == 1, f"{status} {answer}")
    day.touchpoints.add(sa360["event_id"])

    # 1,001 leads in one request would be 1,001 state-store keys: 400, kept, nothing stored.
    crowd = json.dumps({"table": "leads", "records": [
        {"lead_id": f"e2e-crowd-{n}", "ts": day.iso(30), "email": f"crowd{n}@example.com"}
        for n in range(1001)]}).encode()
    status, answer = server.post(f"/v1/webhooks/generic?key={key}", crowd, {"Content-Type": "application/json"})
    check("1,001 leads in one request: 400 naming the cap, kept for replay",
          status == 400 and answer.get("kept_for_replay") is True
          and "1001 records, more than 1000" in json.dumps(answer), f"{status} {str(answer)[:300]}")

    big = 2 * 1024 * 1024
    check("a 2 MiB webhook body gets 413", server.oversized(f"/v1/webhooks/generic?tenant={TENANT}", big) == 413)
    check("a 2 MiB beacon body gets 413", server.oversized("/v1/events?key=whatever", big) == 413)

    status, headers, data = server.request("GET", "/r/no-such-link?fbclid=IwAR_x", headers={"User-Agent": BROWSER})
    check("unknown link code: 404 without Location", status == 404 and "location" not in headers, f"{status} {headers}")
    check("unknown link code: the not-found body", parse_json(data) == {"error": "not found"}, repr(data))
    status, headers, data = server.request("GET", "/v1/throughline.js")
    check("the snippet is served as JavaScript", status == 200 and "javascript" in headers.get("content-type", ""), f"{status} {headers}")
    return kept, not_kept


# ---------------------------------------------------------------- the lake


def raw_bodies(lake, source):
    """Verbatim bodies kept under raw/<source>/: one per file (webhooks, forms), or, for
    touchpoints stored by group commit, one per line of an NDJSON file whose `payload`
    holds the body exactly as received."""
    root = lake / "raw" / source / f"tenant={TENANT}"
    bodies = []
    for path in sorted(root.glob("date=*/*")) if root.exists() else []:
        if path.suffix == ".ndjson":
            for line in path.read_text().splitlines():
                if line.strip():
                    bodies.append(json.loads(line)["payload"].encode())
        else:
            bodies.append(path.read_bytes())
    return bodies


def quarantine_entries(lake, crm):
    root = lake / "quarantine" / f"webhook-{crm}" / f"tenant={TENANT}"
    entries = []
    for path in sorted(root.glob("*.webhook.json")) if root.exists() else []:
        entry = json.loads(path.read_text())
        entry["_path"] = path
        raw = lake / entry["raw"]
        entry["_body"] = raw.read_bytes() if raw.exists() else None
        entries.append(entry)
    return entries


# What an HTTP status of a refused delivery means as the failure kind the quarantine keeps
# (the lake stores no HTTP statuses).
KIND_OF_STATUS = {401: {"unverified"}, 400: {"invalid", "rejected"}, 404: {"not_configured"}}


def check_quarantine(lake, kept, not_kept):
    all_entries = {crm: quarantine_entries(lake, crm) for crm in ["hubspot", "pipedrive", "keycrm", "bitrix24", "kommo", "shopify", "generic"]}
    for crm, body, status, reason in kept:
        found = [e for e in all_entries[crm] if e["_body"] == body]
        ok = len(found) == 1 and "status" not in found[0] and found[0]["kind"] in KIND_OF_STATUS[status] \
            and reason.lower() in found[0]["reason"].lower()
        detail = [(e.get("kind"), e["reason"]) for e in found]
        check(f"quarantine/webhook-{crm} keeps the refused delivery ({status}, {reason!r}) once", ok, f"{detail}")
    everything = [e for entries in all_entries.values() for e in entries]
    for body in not_kept:
        check("a delivery for an unknown tenant or a CRM not set up is not kept in quarantine", not any(e["_body"] == body for e in everything))
    text = "\n".join(json.dumps({k: v for k, v in e.items() if not k.startswith("_")}) for e in everything)
    leaked = [s for s in SECRETS + ["not-the-token", "stolen-or-guessed", "Basic "] if s in text]
    check("quarantine entries keep no token, password or Authorization header", not leaked, str(leaked))
    return all_entries


def check_raw(lake, day):
    cache = {}
    missing = []
    for source, body in day.accepted_raw:
        if source not in cache:
            cache[source] = raw_bodies(lake, source)
        if body not in cache[source]:
            missing.append((source, body[:80]))
    check(f"the raw body of every accepted delivery is under raw/ ({len(day.accepted_raw)} deliveries)", not missing, str(missing[:3]))
    bots = b"\n".join(raw_bodies(lake, "collect-bots"))
    check("bot hits are kept under raw/collect-bots with their reason", all(v.encode() in bots for v in day.bot_visitors) and b"reason" in bots, bots[:300])


def check_tables(lake, day, when):
    """The tenant's rows as the tables' Delta logs name them (deltalake), queried with DuckDB:
    a file a commit removed (compaction) or never named stays on disk and must not count."""
    db = duckdb.connect()
    for table in ["touchpoints", "leads", "deal_events", "orders"]:
        register(db, table, lake, table, TENANT)
    keys = {"touchpoints": "event_id", "leads": "lead_id", "orders": "order_id", "deal_events": "event_id"}
    for table, key in keys.items():
        dup = db.execute(f"SELECT {key}, count(*) FROM {table} GROUP BY 1 HAVING count(*) > 1").fetchall()
        check(f"[{when}] {table}: every {key} stored once", not dup, str(dup[:5]))
    leads = {r[0] for r in db.execute("SELECT lead_id FROM leads").fetchall()}
    check(f"[{when}] leads: exactly the leads sent", leads == day.leads, f"missing {sorted(day.leads - leads)}, extra {sorted(leads - day.leads)}")
    orders = {r[0] for r in db.execute("SELECT order_id FROM orders").fetchall()}
    check(f"[{when}] orders: exactly the orders sent", orders == day.orders, f"missing {sorted(day.orders - orders)}, extra {sorted(orders - day.orders)}")
    rows = db.execute("SELECT deal_id, type, count(*) FROM deal_events GROUP BY 1, 2").fetchall()
    events = {(d, t): n for d, t, n in rows}
    check(f"[{when}] deal_events: exactly the deal events sent, once each", events == day.deal_events, f"missing {sorted(set(day.deal_events) - set(events))}, extra {sorted(set(events) - set(day.deal_events))}, counts {events}")
    tps = db.execute("SELECT event_id, visitor_id, click_id, url FROM touchpoints").fetchall()
    links = [t for t in tps if t[0].startswith("link-")]
    others = {t[0] for t in tps if not t[0].startswith("link-")}
    check(f"[{when}] touchpoints: exactly the beacons, pixels and CRM touches sent", others == day.touchpoints, f"missing {sorted(day.touchpoints - others)}, extra {sorted(others - day.touchpoints)}")
    check(f"[{when}] touchpoints: one tracked-link click (the bot's preview is not one)", len(links) == 1 and links[0][2] == "IwAR_test", str(links))
    bots = [t for t in tps if t[1] in day.bot_visitors or t[0] in day.bot_events]
    check(f"[{when}] no bot touchpoints", not bots, str(bots))
    beacon_clicks = db.execute("SELECT count(*) FROM touchpoints WHERE event_id LIKE 'evt-e2e-%' AND click_id IS NOT NULL").fetchone()[0]
    check(f"[{when}] click ids are read from beacon landing URLs", beacon_clicks == 11, str(beacon_clicks))
    sa360 = db.execute("SELECT click_id_type, click_id, click_ids FROM touchpoints WHERE event_id = 'sa360-e2e-1'").fetchall()
    check(f"[{when}] a Microsoft Ads click through Search Ads 360: msclkid chosen, every click id kept",
          sa360 == [("msclkid", "5a1b2c3d", "msclkid=5a1b2c3d&gclid=EAIaIQob")], str(sa360))

    orphans = db.execute(
        "SELECT e.event_id, e.lead_id FROM deal_events e WHERE e.lead_id IS NOT NULL AND e.lead_id NOT IN (SELECT lead_id FROM leads)"
    ).fetchall()
    check(f"[{when}] every deal event's lead_id is a stored lead", not orphans, str(orphans))
    with_lead = {r[0] for r in db.execute("SELECT DISTINCT deal_id FROM deal_events WHERE lead_id IS NOT NULL").fetchall()}
    expected_with_lead = {d for d, _ in day.deal_events if not d.startswith("bitrix24-")}
    check(f"[{when}] deals of vendors that name the lead carry a lead_id", expected_with_lead <= with_lead, f"without: {sorted(expected_with_lead - with_lead)}")
    order_orphans = db.execute("SELECT order_id FROM orders WHERE lead_id IS NOT NULL AND lead_id NOT IN (SELECT lead_id FROM leads)").fetchall()
    check(f"[{when}] every order's lead_id is a stored lead", not order_orphans, str(order_orphans))
    unreached = db.execute(
        """SELECT l.lead_id FROM leads l
            WHERE (l.visitor_id IS NOT NULL OR l.click_id IS NOT NULL)
              AND NOT EXISTS (SELECT 1 FROM touchpoints t WHERE t.visitor_id = l.visitor_id OR t.click_id = l.click_id)"""
    ).fetchall()
    check(f"[{when}] every lead's visitor_id / click_id reaches a touchpoint", not unreached, str(unreached))
    # Leads whose visitor browsed the site: reached by the site's own beacons, not only the CRM's touch.
    site = db.execute(
        """SELECT l.lead_id FROM leads l
            WHERE EXISTS (SELECT 1 FROM touchpoints t WHERE t.visitor_id = l.visitor_id AND (t.event_id LIKE 'evt-e2e-%' OR t.event_id LIKE 'px-e2e-%'))"""
    ).fetchall()
    site = {r[0] for r in site}
    expected_site = {"form-e2e-1", "form-e2e-2", "form-e2e-3", "form-e2e-4", "form-e2e-5", "pipedrive-person-5821", "pipedrive-person-5822",
                     "keycrm-lead-3310", "kommo-lead-4400001", "shopify-customer-7210394999001", "gen-e2e-1", "gen-e2e-2"}
    check(f"[{when}] CRM leads carrying a site visitor id join that visitor's beacons", expected_site <= site, f"not joined: {sorted(expected_site - site)}")
    gclid_leads = db.execute("SELECT lead_id, click_id FROM leads WHERE lead_id IN ('pipedrive-person-5821', 'kommo-lead-4400001', 'gen-e2e-1')").fetchall()
    expected_clicks = {("pipedrive-person-5821", day.gclids[1]), ("kommo-lead-4400001", day.gclids[2]), ("gen-e2e-1", day.gclids[4])}
    check(f"[{when}] CRM custom fields carry the gclid onto the lead", set(gclid_leads) == expected_clicks, str(gclid_leads))

    # No raw contact details anywhere in tables/.
    leaks = []
    needles = [p for p in day.phones] + day.phone_digits + [d[3:] for d in day.phone_digits]
    for table in ["touchpoints", "leads", "deal_events", "orders"]:
        columns = db.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()
        for name, kind, *_ in columns:
            if "VARCHAR" not in kind:
                continue
            values = [r[0] for r in db.execute(f'SELECT DISTINCT "{name}" FROM {table} WHERE "{name}" IS NOT NULL').fetchall()]
            for v in values:
                if "@" in v or any(n in v for n in needles):
                    leaks.append((table, name, v))
    check(f"[{when}] no raw e-mail or phone in any column of tables/", not leaks, str(leaks[:5]))
    hashes = {r[0] for r in db.execute("SELECT email_sha256 FROM leads WHERE email_sha256 IS NOT NULL").fetchall()}
    expected = {sha256(e.strip().lower()) for e in day.emails if "mallory" not in e and "eve." not in e}
    check(f"[{when}] e-mails are stored as SHA-256 of the normalised address", expected <= hashes, f"missing {len(expected - hashes)}")
    phones = {r[0] for r in db.execute("SELECT phone_sha256 FROM leads WHERE phone_sha256 IS NOT NULL").fetchall()}
    phones |= {r[0] for r in db.execute("SELECT phone_sha256 FROM orders WHERE phone_sha256 IS NOT NULL").fetchall()}
    want = {sha256(d) for d in day.phone_digits}
    check(f"[{when}] phones (national ones with country 380) are SHA-256 of E.164 digits", want <= phones, f"missing {len(want - phones)} of {len(want)}")


def sql(cli, lake, query):
    out = cli_run(cli, lake, "sql", "--tenant", TENANT, "--format", "csv", query)
    return list(csv.DictReader(io.StringIO(out.stdout)))


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True, help="the throughline binary")
    parser.add_argument("--keep", help="work in this (new) directory and keep it, for debugging")
    args = parser.parse_args()
    cli = str(Path(args.cli).resolve())
    started = time.time()
    if args.keep:
        Path(args.keep).mkdir(parents=True)
    with tempfile.TemporaryDirectory() if not args.keep else nullcontext(args.keep) as tmp:
        tmp = Path(tmp)
        lake = tmp / "lake"
        cli_run(cli, lake, "tenants", "add", "--tenant", TENANT, "--name", "Acme Kitchens")
        key = cli_run(cli, lake, "keys", "create", "--tenant", TENANT, "--scope", "ingest").stdout.strip().split()[-1]
        check("config check accepts tests/fixtures/ingest.toml", cli_run(cli, lake, "config", "check", str(CONFIG), check_rc=False).returncode == 0)
        day = Day()

        # 1. A config whose generic mapping misses `ts`: the delivery fails validation.
        broken = tmp / "broken.toml"
        text = CONFIG.read_text()
        broken.write_text(text.replace('ts = "/created_at"\n', ""))
        check("the broken config lacks the generic ts mapping", broken.read_text() != text and "/created_at" not in broken.read_text().split("[tenants.acme.crm.generic.fields]")[1].split("[")[0])
        replayed = generic_payload(day, [{"id": "gen-e2e-replay", "created_at": day.iso(140), "contact": {"email": "bohdan.e2e@example.com", "phone": "+380 68 123 77 88"}, "channel": "call", "tracking": {"tl_vid": day.visitors[13]}}])
        day.person("bohdan.e2e@example.com", "+380 68 123 77 88", "380681237788")
        server = Server(cli, lake, broken)
        try:
            status, answer = server.post(f"/v1/webhooks/generic?tenant={TENANT}", replayed, generic_headers(replayed))
            check("generic delivery failing validation: 400, kept for replay", status == 400 and answer.get("kept_for_replay") is True, f"{status} {answer}")
        finally:
            server.stop()

        # 2. The day, with the fixed config.
        server = Server(cli, lake, CONFIG)
        try:
            send_beacons(server, day, key)
            send_bots(server, day, key)
            send_forms(server, day, key)
            send_hubspot(server, day)
            send_pipedrive(server, day)
            send_keycrm(server, day)
            send_bitrix24(server, day)
            send_kommo(server, day)
            send_shopify(server, day)
            send_generic(server, day)
            token = messenger_click(server, day)
            send_messenger_deal(server, day, token)
            kept, not_kept = refusals(server, day, key)
        finally:
            server.stop()
        kept.append(("generic", replayed, 400, "rejected"))

        # 3. What was refused is in quarantine; what was accepted is in raw/.
        check_quarantine(lake, kept, not_kept)
        check_raw(lake, day)

        # 4. Replay with the fixed config: the mapped delivery is stored, the forged one stays.
        today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        out = cli_run(cli, lake, "replay", "--source", "webhook-generic", "--from", today, "--tenant", TENANT, "--config", str(CONFIG), check_rc=False)
        check("replay exits 1 while a forged delivery still fails", out.returncode == 1, f"{out.returncode} {out.stdout} {out.stderr}")
        check("replay reports 1 stored, 1 still failing", "1 stored" in out.stdout and "1 still failing" in out.stdout, out.stdout + out.stderr)
        after = quarantine_entries(lake, "generic")
        check("the replayed delivery left quarantine", not any(e["_body"] == replayed for e in after), str([e["reason"] for e in after]))
        forged = [e for e in after if b"gen-e2e-forged" in (e["_body"] or b"")]
        check("the forged delivery is still in quarantine after replay", len(forged) == 1 and forged[0]["kind"] == "unverified", str(after))
        day.leads.add("gen-e2e-replay")
        out = cli_run(cli, lake, "replay", "--source", "webhook-generic", "--from", today, "--tenant", TENANT, "--config", str(CONFIG), check_rc=False)
        check("a second replay stores nothing new", "0 stored" in out.stdout and "1 still failing" in out.stdout, out.stdout)

        # 5. The lake as written by ingest (one file per request).
        check_tables(lake, day, "ingested")

        # 6. Attribution: the won messenger deal is credited to the ad's click.
        out = cli_run(cli, lake, "attribute", "--tenant", TENANT)
        check("throughline attribute runs", "attributed" in out.stdout, out.stdout)
        rows = sql(
            cli, lake,
            "SELECT a.model, a.channel, a.source, a.medium, a.revenue_credit, a.credit, t.click_id, t.url "
            "FROM attribution a JOIN touchpoints t ON t.event_id = a.event_id "
            "WHERE a.deal_id = 'kommo-deal-4400002' AND a.conversion_type = 'deal_won' ORDER BY a.model",
        )
        models = {r["model"] for r in rows}
        check("the won messenger deal is attributed under every model", len(models) == 6, str(rows))
        check("every model credits the tracked-link click IwAR_test", rows and all(r["click_id"] == "IwAR_test" and "/r/tg-spring" in r["url"] for r in rows), str(rows))
        check("the credited channel is the link's paid social", rows and all(r["channel"] == "Paid Social" and r["source"] == "instagram" for r in rows), str([(r["channel"], r["source"], r["medium"]) for r in rows]))
        revenue = {}
        for r in rows:
            revenue[r["model"]] = revenue.get(r["model"], 0) + float(r["revenue_credit"] or 0)
        check("the deal's revenue (52000 UAH from Kommo) is credited in full", revenue and all(abs(v - 52000) < 0.01 for v in revenue.values()), str(revenue))
        pd = sql(cli, lake, "SELECT count(*) AS n FROM attribution a JOIN touchpoints t ON t.event_id = a.event_id WHERE a.deal_id = 'pipedrive-deal-1207' AND t.visitor_id = '" + day.visitors[1] + "'")
        check("the Pipedrive deal is credited to its visitor's site visits", pd and int(pd[0]["n"]) > 0, str(pd))
        check_tables(lake, day, "after attribute (compacted)")

    elapsed = time.time() - started
    print(f"ingest-e2e: {results['passed']} passed, {results['failed']} failed in {elapsed:.1f}s")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
