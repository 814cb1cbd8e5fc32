#!/usr/bin/env python3
"""Seeded generator of a Throughline lake at scale, for the attribution benchmark (issue #6).

Writes the lake's own layout directly with pyarrow, in the exact stored schemas of
crates/model/src/table.rs (text = utf8, timestamps = timestamp[us, UTC], money =
decimal128(18, 4), counts = int64; `date` only in the Hive path):

    tables/<table>/tenant=<id>/date=<YYYY-MM-DD>/part-bench-<seed>.parquet

for touchpoints, leads, deal_events, orders and ad_costs: one file per table and day, as
the job sees a lake after compaction. A small business over one year:

- visitors arrive every day (weekly and seasonal shape); a visitor's journey has 1-50
  touches, most 1-3 (55% one, 20% two, 10% three, a power-law tail to 50), minutes to
  days apart, so long journeys cross the 30-day lookback;
- touches are paid clicks (Google Ads gclid, Meta fbclid, TikTok ttclid, Microsoft msclkid)
  tagged with utm_campaign / utm_id of one of ~300 ad campaigns, some only auto-tagged,
  some matched by campaign id or name only; organic search, social, messenger, e-mail,
  referral, marketplace, webmail and internal referrers; direct visits (more often on
  return visits);
- ~3.5% of visitors become leads (longer journeys convert more), linked by visitor id, by
  the click id of the converting touch, or both; 8% of leads are a returning person (same
  hashed e-mail / phone as an earlier lead from another device);
- 45% of leads open a deal (created, qualified, proposal with a quote, negotiation),
  ~30% of deals are won (with or without an amount on the won event), ~55% lost with a
  reason, the rest stay open; won deals become orders, and ~30% of customers buy again;
- ad_costs: every campaign × ad group × day of the year (impressions, clicks, cost).

Streaming: visitors are generated day by day; rows land in per-day buffers and a day is
written as soon as no later visitor can add to it, so memory holds only the rows of days
not yet written (about two weeks' worth, ~1% of the rows), not the whole lake.

    python bench/generate.py --lake DIR --touchpoints 1000000 [--seed 1] [--tenant bench] [--cli throughline]

Throughline's tables are Delta Lake tables: `throughline lake migrate` turns these plain
Parquet tables into them in place (each table's first commit adds its files), and no other
throughline command may use the lake before. With `--cli` the generator runs it; bench
scripts that generate a lake pass their binary to `write_lake(..., cli=...)`.

Prints (and stores in DIR/bench-lake.json, written last, with `"delta": true` once
migrated) the row and file counts per table.
"""
import argparse
import datetime as dt
import hashlib
import json
import math
import os
import random
import subprocess
import sys
import time
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

GENERATOR_VERSION = 1  # bump whenever the output changes: bench/attribution.py caches lakes by it
START = dt.date(2025, 1, 1)
EPOCH = dt.date(1970, 1, 1)
SITE = "https://www.kukhni-bench.ua"
DAY_S = 86400

TEXT, TS, MONEY, COUNT = pa.string(), pa.timestamp("us", tz="UTC"), pa.decimal128(18, 4), pa.int64()


def schema(*columns):
    return pa.schema([pa.field(name, kind, nullable=nullable) for name, kind, nullable in columns])


# The stored schemas (crates/model/src/table.rs), column order and nullability included.
SCHEMAS = {
    "touchpoints": schema(
        ("event_id", TEXT, False), ("ts", TS, False), ("visitor_id", TEXT, True), ("url", TEXT, True),
        ("referrer", TEXT, True), ("utm_source", TEXT, True), ("utm_medium", TEXT, True),
        ("utm_campaign", TEXT, True), ("utm_content", TEXT, True), ("utm_term", TEXT, True),
        ("utm_id", TEXT, True), ("click_id", TEXT, True), ("click_id_type", TEXT, True),
        ("click_ids", TEXT, True)),
    "leads": schema(
        ("lead_id", TEXT, False), ("ts", TS, False), ("visitor_id", TEXT, True), ("click_id", TEXT, True),
        ("email_sha256", TEXT, True), ("phone_sha256", TEXT, True), ("source", TEXT, True),
        ("manager", TEXT, True), ("first_response_ts", TS, True)),
    "deal_events": schema(
        ("event_id", TEXT, False), ("deal_id", TEXT, False), ("lead_id", TEXT, True), ("ts", TS, False),
        ("type", TEXT, False), ("stage", TEXT, True), ("amount", MONEY, True), ("currency", TEXT, True),
        ("margin", MONEY, True), ("loss_reason", TEXT, True), ("manager", TEXT, True), ("offer", TEXT, True)),
    "orders": schema(
        ("order_id", TEXT, False), ("ts", TS, False), ("lead_id", TEXT, True), ("email_sha256", TEXT, True),
        ("phone_sha256", TEXT, True), ("amount", MONEY, False), ("currency", TEXT, False), ("margin", MONEY, True)),
    "ad_costs": schema(
        ("platform", TEXT, False), ("account_id", TEXT, False), ("campaign_id", TEXT, False),
        ("campaign_name", TEXT, True), ("ad_group_id", TEXT, True), ("ad_group_name", TEXT, True),
        ("ad_id", TEXT, True), ("ad_name", TEXT, True), ("impressions", COUNT, True), ("clicks", COUNT, True),
        ("cost", MONEY, False), ("currency", TEXT, False)),
}

# Journey length: 1, 2, 3 touches for 85% of visitors, then a power-law tail up to 50.
MAX_TOUCHES = 50
_tail = [k ** -1.7 for k in range(4, MAX_TOUCHES + 1)]
LENGTH_P = [0.55, 0.20, 0.10] + [0.15 * w / sum(_tail) for w in _tail]
MEAN_LENGTH = sum((i + 1) * p for i, p in enumerate(LENGTH_P))

# Traffic of one touch: (name, weight of a first touch, weight of a later touch, platform,
# click id type, utm_source, utm_medium, utm_campaign (fixed, unpaid), referrer).
TRAFFIC = [
    ("google_cpc", 18, 10, "google_ads", "gclid", "google", "cpc", None, "https://www.google.com/"),
    ("google_autotag", 4, 2, "google_ads", "gclid", None, None, None, "https://www.google.com/"),
    ("facebook_paid", 8, 4, "meta", "fbclid", "facebook", "paid", None, "https://l.facebook.com/"),
    ("instagram_paid", 5, 3, "meta", "fbclid", "instagram", "cpc", None, "https://l.instagram.com/"),
    ("tiktok_paid", 5, 2, "tiktok", "ttclid", "tiktok", "paid", None, None),
    ("bing_cpc", 3, 1.5, "microsoft_ads", "msclkid", "bing", "cpc", None, "https://www.bing.com/"),
    ("organic_google", 11, 7, None, None, None, None, None, "https://www.google.com/"),
    ("organic_google_ua", 4, 2, None, None, None, None, None, "https://www.google.com.ua/"),
    ("organic_bing", 1, 0.5, None, None, None, None, None, "https://www.bing.com/search?q=kukhni"),
    ("organic_duckduckgo", 0.5, 0.3, None, None, None, None, None, "https://duckduckgo.com/"),
    ("social_facebook", 3, 2, None, None, None, None, None, "https://l.facebook.com/l.php?u=kukhni"),
    ("social_instagram", 2, 1, None, None, None, None, None, "https://www.instagram.com/"),
    ("social_x", 0.5, 0.2, None, None, None, None, None, "https://t.co/k8Bq2"),
    ("telegram_app", 2, 1, None, None, None, None, None, "android-app://org.telegram.messenger/"),
    ("telegram_tagged", 1, 0.5, None, None, "telegram", "messenger", "channel-post", None),
    ("email", 2, 4, None, None, "newsletter", "email", "weekly-digest", None),
    ("referral_forum", 2, 1, None, None, None, None, None, "https://forum.remont.com.ua/t/kukhni/812"),
    ("referral_blog", 1.5, 1, None, None, None, None, None, "https://interior-blog.org/best-kitchens"),
    ("marketplace", 1, 0.5, None, None, None, None, None, "https://prom.ua/c/kukhni"),
    ("webmail", 0.5, 0.3, None, None, None, None, None, "https://mail.google.com/"),
    ("direct", 18, 42, None, None, None, None, None, None),
    ("internal", 2, 8, None, None, None, None, None, SITE + "/catalog"),
]
CLICK_PREFIX = {"gclid": "Cj0KCQiA", "fbclid": "IwAR", "ttclid": "E.C.P.", "msclkid": "ms"}
PATHS = ["/", "/kitchens", "/kitchens/modern", "/kitchens/classic", "/catalog", "/promo", "/contacts",
         "/kitchens/loft", "/calculator", "/portfolio"]

PLATFORMS = [  # platform, account, campaigns, first campaign id, ad groups per campaign
    ("google_ads", "123-456-7890", 140, 21870000000, 3),
    ("meta", "act_5551234", 90, 120200000000000, 2),
    ("tiktok", "7012345678", 40, 1780000000, 1),
    ("microsoft_ads", "F1234567", 30, 410000000, 2),
]
MANAGERS = ["olena", "andrii", "iryna", "taras", "oksana", "dmytro", "natalia", "serhii", "yulia", "maksym",
            "kateryna", "bohdan"]
OFFERS = ["basic", "premium", "premium-b", "turnkey", "turnkey-b"]
LOSS_REASONS = ["price", "competitor", "no_response", "timing", "not_qualified", "financing"]
LEAD_SOURCES = ["form", "form", "form", "call", "call", "telegram", "viber"]
CURRENCIES = [("UAH", 0.9), ("USD", 0.07), ("EUR", 0.03)]


def day_number(date):
    return (date - EPOCH).days


def campaigns(rng):
    """~300 ad campaigns over four platforms: (platform, account, id, names by date, ad groups)."""
    out = []
    kinds = {"google_ads": ["search", "search", "brand", "shopping", "pmax-cross-network", "display"],
             "meta": ["leads", "traffic", "retargeting", "reels"],
             "tiktok": ["spark", "leads"], "microsoft_ads": ["search", "brand"]}
    topics = ["kukhni", "kitchen-modern", "kitchen-classic", "loft", "corner", "island", "budget", "premium",
              "kyiv", "lviv", "odesa", "dnipro", "kharkiv", "facades", "worktops", "appliances"]
    for platform, account, count, first_id, groups in PLATFORMS:
        for i in range(count):
            kind = kinds[platform][i % len(kinds[platform])]
            name = f"{platform[:2]}-{kind}-{topics[i % len(topics)]}-{i:03d}"
            renamed = None
            if rng.random() < 0.1:  # renamed once during the year: ad_costs carry both names
                renamed = (rng.randrange(60, 300), name + "-v2")
            out.append({
                "platform": platform, "account": account, "id": str(first_id + i * 7919), "name": name,
                "renamed": renamed, "groups": rng.randint(1, groups), "spend": rng.lognormvariate(7.5, 0.8),
            })
    return out


def campaign_name(c, day_index):
    if c["renamed"] and day_index >= c["renamed"][0]:
        return c["renamed"][1]
    return c["name"]


class Randoms:
    """Vectorised uniform draws (Arrow's generator), seeded from one Python generator."""

    def __init__(self, rng):
        self.rng = rng

    def uniform(self, n):
        if n == 0:
            return pa.array([], pa.float64())
        return pc.random(n, initializer=self.rng.getrandbits(62))

    def choice(self, n, weights):
        """Index of a category for each of n draws."""
        total = sum(weights)
        u = self.uniform(n)
        index = pa.nulls(n, pa.int32()).fill_null(0)
        acc = 0.0
        for w in weights[:-1]:
            acc += w / total
            index = pc.add(index, pc.cast(pc.greater_equal(u, acc), pa.int32()))
        return index

    def exponential(self, n, mean):
        return pc.multiply(pc.negate(pc.ln(pc.subtract(1.0, self.uniform(n)))), mean)


def money(units):
    """Minor units (kopiyky / cents) as decimal(18, 4)."""
    return None if units is None else Decimal(units).scaleb(-2)


class DayFiles:
    """Per-day buffers of one table, written as one Parquet file per day."""

    def __init__(self, lake, table, tenant, seed, horizon):
        self.lake, self.table, self.tenant, self.seed, self.horizon = lake, table, tenant, seed, horizon
        self.schema = SCHEMAS[table]
        self.pending = {}  # day number -> list of Arrow tables or row lists
        self.rows = self.files = self.bytes = 0

    def add_table(self, table, days):
        """Adds an Arrow table whose rows fall on `days` (day numbers, same length)."""
        order = pc.sort_indices(days)
        days = pc.take(days, order)
        table = table.take(order)
        runs = pc.run_end_encode(days)
        start = 0
        for i, (end, day) in enumerate(zip(runs.run_ends.to_pylist(), runs.values.to_pylist())):
            if day < self.horizon[1]:
                part = table.slice(start, end - start)
                if i > 0:  # a later day: copy, so the whole chunk is not kept alive until then
                    part = part.take(pa.array(range(end - start), pa.int64()))
                self.pending.setdefault(day, []).append(part)
            start = end

    def add_row(self, day, row):
        if self.horizon[0] <= day < self.horizon[1]:
            self.pending.setdefault(day, []).append(row)

    def flush(self, before_day):
        for day in sorted(d for d in self.pending if d < before_day):
            self._write(day, self.pending.pop(day))

    def _write(self, day, parts):
        tables = [p for p in parts if isinstance(p, pa.Table)]
        rows = [p for p in parts if not isinstance(p, pa.Table)]
        if rows:
            columns = list(zip(*rows))
            tables.append(pa.Table.from_arrays(
                [pa.array(list(c), type=f.type) for c, f in zip(columns, self.schema)], schema=self.schema))
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        if "ts" in self.schema.names:  # files are in time order, as ingest writes them
            table = table.take(pc.sort_indices(table, sort_keys=[("ts", "ascending"), (self.schema.names[0], "ascending")]))
        date = (EPOCH + dt.timedelta(days=day)).isoformat()
        directory = os.path.join(self.lake, "tables", self.table, f"tenant={self.tenant}", f"date={date}")
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"part-bench-{self.seed}.parquet")
        pq.write_table(table.cast(self.schema), path + ".tmp", compression="zstd", compression_level=3,
                       row_group_size=1024 * 1024, write_statistics=True)
        os.replace(path + ".tmp", path)
        self.rows += table.num_rows
        self.files += 1
        self.bytes += os.path.getsize(path)


def daily_visitors(total, days):
    """Visitors starting each day: weekly and seasonal shape with growth, summing to `total`."""
    weights = []
    for i in range(days):
        date = START + dt.timedelta(days=i)
        weekday = [1.0, 1.05, 1.05, 1.0, 0.95, 0.8, 0.7][date.weekday()]
        season = 1 + 0.25 * math.sin(2 * math.pi * (i - 60) / 365)
        weights.append(weekday * season * (0.8 + 0.4 * i / max(1, days - 1)))
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    remainders = sorted(range(days), key=lambda i: -(weights[i] * scale - counts[i]))
    for i in remainders[: total - sum(counts)]:
        counts[i] += 1
    return counts


def strings(prefix, numbers):
    return pc.binary_join_element_wise(prefix, pc.cast(numbers, pa.string()), "")


def generate(lake, touchpoints, seed, tenant, days):
    rng = random.Random(seed)
    draw = Randoms(rng)
    first_day = day_number(START)
    horizon = (first_day, first_day + days)
    end_us = horizon[1] * DAY_S * 1_000_000
    out = {t: DayFiles(lake, t, tenant, seed, horizon) for t in SCHEMAS}
    camps = campaigns(rng)
    by_platform = {}
    for i, c in enumerate(camps):
        by_platform.setdefault(c["platform"], []).append(i)
    camp_ids = pa.array([c["id"] for c in camps])

    # Traffic attributes as arrays indexed by traffic type.
    def attr(i):
        return pa.array([t[i] for t in TRAFFIC], pa.string())
    t_click, t_source, t_medium, t_campaign, t_referrer = (attr(i) for i in (4, 5, 6, 7, 8))
    paid = [t[3] is not None for t in TRAFFIC]
    block_start = pa.array([by_platform[t[3]][0] if t[3] else 0 for t in TRAFFIC], pa.int64())
    block_size = pa.array([len(by_platform[t[3]]) if t[3] else 0 for t in TRAFFIC], pa.float64())
    click_prefix = pa.array([CLICK_PREFIX.get(t[4]) if t[4] else None for t in TRAFFIC], pa.string())
    paths = pa.array(PATHS)

    visitors_per_day = daily_visitors(max(1, round(touchpoints / MEAN_LENGTH)), days)
    next_visitor = next_touch = next_lead = next_deal = next_order = next_person = next_deal_event = 0
    persons = []  # recent (email hash, phone hash) for returning people
    started = time.time()
    for d in range(days):
        day = first_day + d
        for files in out.values():
            files.flush(day)
        nv = visitors_per_day[d]
        # --- touchpoints of the visitors who arrive today -----------------------------------
        lens = pc.add(draw.choice(nv, LENGTH_P), 1)
        ends = pc.cumulative_sum(lens)
        total = ends[-1].as_py() if nv else 0
        starts = pc.subtract(ends, lens)
        parent = pc.list_parent_indices(pa.ListArray.from_arrays(
            pa.concat_arrays([pa.array([0], pa.int64()), pc.cast(ends, pa.int64())]), pa.nulls(total, pa.int8())))
        first_of = pc.take(starts, parent)
        is_first = pc.equal(pa.array(range(total), pa.int64()), first_of)
        # gaps between touches: a third within the session, the rest hours to weeks apart
        gap = pc.if_else(pc.less(draw.uniform(total), 0.35), draw.exponential(total, 600.0),
                         draw.exponential(total, 2.5 * DAY_S))
        gap = pc.if_else(is_first, 0.0, gap)
        walked = pc.cumulative_sum(gap)
        offset = pc.subtract(walked, pc.take(walked, first_of))
        arrive = pc.add(float(day * DAY_S), pc.multiply(draw.uniform(nv), float(DAY_S)))
        ts_s = pc.add(pc.take(arrive, parent), offset)
        ts_us = pc.multiply(pc.cast(pc.floor(pc.multiply(ts_s, 1000.0)), pa.int64()), 1000)
        kind = pc.if_else(is_first, draw.choice(total, [t[1] for t in TRAFFIC]),
                          draw.choice(total, [t[2] for t in TRAFFIC]))
        touch_no = pc.add(pa.array(range(total), pa.int64()), next_touch)
        visitor_no = pc.add(pc.cast(parent, pa.int64()), next_visitor)
        # paid clicks pick a campaign (a few big, many small) and how it is tagged
        camp = pc.add(pc.take(block_start, kind),
                      pc.cast(pc.floor(pc.multiply(pc.take(block_size, kind), pc.power(draw.uniform(total), 2.0))), pa.int64()))
        is_paid = pc.take(pa.array(paid), kind)
        tag = draw.choice(total, [0.70, 0.12, 0.18])  # 0: name + utm_id, 1: utm_campaign = id, 2: NAME only
        source = pc.take(t_source, kind)
        tagged_paid = pc.and_(is_paid, pc.is_valid(source))
        day_of_touch = pc.cast(pc.floor(pc.divide(ts_s, float(DAY_S))), pa.int64())
        name_today = camp_names_for(camps, camp, day_of_touch, first_day)
        utm_campaign = pc.if_else(
            tagged_paid,
            pc.if_else(pc.equal(tag, 1), pc.take(camp_ids, camp),
                       pc.if_else(pc.equal(tag, 2), pc.utf8_upper(name_today), name_today)),
            pc.take(t_campaign, kind))
        utm_id = pc.if_else(pc.and_(tagged_paid, pc.equal(tag, 0)), pc.take(camp_ids, camp),
                            pa.scalar(None, pa.string()))
        click_type = pc.take(t_click, kind)
        click_id = pc.if_else(is_paid, pc.binary_join_element_wise(pc.take(click_prefix, kind),
                                                                   pc.cast(touch_no, pa.string()), ""),
                              pa.scalar(None, pa.string()))
        medium = pc.take(t_medium, kind)
        path = pc.take(paths, pc.cast(pc.floor(pc.multiply(draw.uniform(total), float(len(PATHS)))), pa.int64()))
        query = pc.binary_join_element_wise(
            "?utm_source=", source, "&utm_medium=", medium, "&utm_campaign=", utm_campaign, "")
        query = pc.if_else(pc.is_valid(query), query, "")
        click_part = pc.if_else(pc.is_valid(click_id), pc.binary_join_element_wise(
            pc.if_else(pc.is_valid(source), "&", "?"), click_type, "=", click_id, ""), "")
        url = pc.binary_join_element_wise(SITE, path, query, click_part, "")
        event_id = strings("tp", touch_no)
        visitor_id = strings("v", visitor_no)
        table = pa.Table.from_arrays([
            event_id, ts_us.cast(TS), visitor_id, url,
            pc.take(t_referrer, kind), source, medium, utm_campaign, pa.nulls(total, pa.string()),
            pa.nulls(total, pa.string()), utm_id, click_id, click_type,
            # Every click id of the URL: here the one it carries.
            pc.binary_join_element_wise(click_type, click_id, "="),
        ], schema=SCHEMAS["touchpoints"])
        out["touchpoints"].add_table(table, day_of_touch)

        # --- leads: longer journeys convert more --------------------------------------------
        p_lead = pc.min_element_wise(pc.multiply(pc.power(pc.cast(lens, pa.float64()), 0.9), 0.014), 0.6)
        converts = pc.less(draw.uniform(nv), p_lead)
        lead_visitors = pc.indices_nonzero(converts)
        nl = len(lead_visitors)
        if nl:
            l_len = pc.take(lens, lead_visitors)
            k = pc.cast(pc.floor(pc.multiply(pc.cast(l_len, pa.float64()), pc.power(draw.uniform(nl), 0.35))), pa.int64())
            touch_index = pc.add(pc.take(starts, lead_visitors), k)
            lead_rows = zip(
                pc.take(ts_us, touch_index).to_pylist(),
                strings("v", pc.add(pc.cast(lead_visitors, pa.int64()), next_visitor)).to_pylist(),
                pc.take(click_id, touch_index).to_pylist(), draw.uniform(nl).to_pylist(), draw.exponential(nl, 480.0).to_pylist())
            for touch_us, visitor, click, u, delay in lead_rows:
                lead_us = touch_us + int(delay * 1_000_000)
                if lead_us >= end_us:
                    continue
                lead_id = f"L{next_lead:08d}"
                next_lead += 1
                if click and u < 0.10:
                    lead_visitor, lead_click = None, click  # only the click id reached the CRM
                elif click and u < 0.20:
                    lead_visitor, lead_click = visitor, click
                else:
                    lead_visitor, lead_click = visitor, None
                if persons and rng.random() < 0.08:
                    email, phone = persons[rng.randrange(len(persons))]
                else:
                    email = hashlib.sha256(f"person{next_person}@mail.example".encode()).hexdigest() \
                        if rng.random() < 0.92 else None
                    phone = hashlib.sha256(f"380{670000000 + next_person}".encode()).hexdigest() \
                        if rng.random() < 0.7 else None
                    next_person += 1
                    if email or phone:
                        persons.append((email, phone))
                        if len(persons) > 5000:
                            persons.pop(rng.randrange(len(persons)))
                manager = rng.choice(MANAGERS)
                response = lead_us + int(rng.expovariate(1 / 2400) * 1_000_000) if rng.random() < 0.9 else None
                out["leads"].add_row(lead_us // (DAY_S * 1_000_000), (
                    lead_id, lead_us, lead_visitor, lead_click, email, phone, rng.choice(LEAD_SOURCES),
                    manager, response))
                if rng.random() < 0.45:
                    next_deal_event, next_order = deal(out, rng, f"D{next_deal:08d}", lead_id, lead_us, manager,
                                                       email, phone, next_deal_event, next_order)
                    next_deal += 1
        next_visitor += nv
        next_touch += total

        # --- ad costs of the day --------------------------------------------------------------
        weekday = (START + dt.timedelta(days=d)).weekday()
        for c in camps:
            name = campaign_name(c, d)
            for g in range(c["groups"]):
                cost_units = int(c["spend"] * (0.6 + 0.8 * rng.random()) * (0.8 if weekday >= 5 else 1.0) * 100 / c["groups"])
                clicks = max(0, int(cost_units / rng.uniform(800, 2500)))
                out["ad_costs"].add_row(day, (
                    c["platform"], c["account"], c["id"], name, f"{c['id']}{g + 1:02d}", f"group {g + 1}", None,
                    None, clicks * rng.randint(15, 60), clicks, money(cost_units), "UAH"))
        if d % 30 == 29:
            print(f"  day {d + 1}/{days}: {next_touch:,} touches generated, {time.time() - started:.0f}s",
                  file=sys.stderr)
    for files in out.values():
        files.flush(horizon[1])
    return out


def camp_names_for(camps, camp, day_of_touch, first_day):
    """utm_campaign names as on the touch's day (a renamed campaign has its new name after)."""
    names = pa.array([c["name"] for c in camps])
    renamed = [(i, c["renamed"]) for i, c in enumerate(camps) if c["renamed"]]
    result = pc.take(names, camp)
    for i, (rename_day, new_name) in renamed:
        hit = pc.and_(pc.equal(camp, i), pc.greater_equal(day_of_touch, first_day + rename_day))
        result = pc.if_else(hit, new_name, result)
    return result


def deal(out, rng, deal_id, lead_id, lead_us, manager, email, phone, next_event, next_order):
    """The events of one deal, and the orders of a won one."""
    us = 1_000_000

    def event(ts, kind, stage=None, amount=None, currency=None, margin=None, reason=None, lead=lead_id,
              who=manager, offer=None):
        nonlocal next_event
        out["deal_events"].add_row(ts // (DAY_S * us), (
            f"de{next_event:09d}", deal_id, lead, ts, kind, stage, money(amount), currency, money(margin), reason,
            who, offer))
        next_event += 1

    currency = rng.choices([c for c, _ in CURRENCIES], [w for _, w in CURRENCIES])[0]
    scale = {"UAH": 1.0, "USD": 1 / 41, "EUR": 1 / 45}[currency]
    quote = int(rng.lognormvariate(math.log(85000), 0.5) * scale * 100)
    margin = int(quote * rng.uniform(-0.05, 0.45))
    offer = rng.choice(OFFERS)
    ts = lead_us + int(rng.expovariate(1 / 86400) * us)
    first_lead = None if rng.random() < 0.05 else lead_id  # a CRM that adds the lead later
    event(ts, "created", stage="new", lead=first_lead, offer=offer)
    ts += int(rng.expovariate(1 / (2 * 86400)) * us) + us
    event(ts, "stage_changed", stage="qualified", lead=lead_id)
    outcome = rng.random()
    if outcome < 0.25:
        event(ts + int(rng.expovariate(1 / 86400) * us) + us, "lost", reason=rng.choice(LOSS_REASONS))
        return next_event, next_order
    ts += int(rng.expovariate(1 / (3 * 86400)) * us) + us
    event(ts, "stage_changed", stage="proposal", amount=quote, currency=currency, margin=margin, offer=offer)
    if rng.random() < 0.5:
        ts += int(rng.expovariate(1 / (4 * 86400)) * us) + us
        quote = int(quote * rng.uniform(0.85, 1.0))
        margin = int(margin * rng.uniform(0.7, 1.0))
        who = rng.choice(MANAGERS) if rng.random() < 0.1 else manager
        event(ts, "stage_changed", stage="negotiation", amount=quote, currency=currency, margin=margin, who=who,
              offer=rng.choice(OFFERS) if rng.random() < 0.2 else None)
    if outcome < 0.55:
        event(ts + int(rng.expovariate(1 / (5 * 86400)) * us) + us, "lost", reason=rng.choice(LOSS_REASONS))
        return next_event, next_order
    if outcome > 0.85:
        return next_event, next_order  # still open
    won_us = ts + int(rng.expovariate(1 / (5 * 86400)) * us) + us
    if rng.random() < 0.7:  # the won event carries the final amount, else the latest quote counts
        quote = int(quote * rng.uniform(0.95, 1.05))
        margin = int(quote * rng.uniform(0.1, 0.4))
        event(won_us, "won", amount=quote, currency=currency, margin=margin)
    else:
        event(won_us, "won")
    order_us = won_us + int(rng.expovariate(1 / (3 * 86400)) * us)
    repeats = 0 if rng.random() < 0.7 else rng.randint(1, 4)
    for i in range(1 + repeats):
        amount = quote if i == 0 else int(rng.lognormvariate(math.log(9000), 0.7) * scale * 100)
        out["orders"].add_row(order_us // (DAY_S * us), (
            f"O{next_order:08d}", order_us, lead_id if rng.random() < 0.85 else None, email, phone, money(amount),
            currency, money(int(amount * rng.uniform(0.15, 0.4)))))
        next_order += 1
        order_us += int(rng.expovariate(1 / (60 * 86400)) * us) + 86400 * us
    return next_event, next_order


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", required=True, help="lake directory to create")
    parser.add_argument("--touchpoints", type=int, default=1_000_000, help="about this many touchpoints")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tenant", default="bench")
    parser.add_argument("--days", type=int, default=365, help="days of data, from 2025-01-01")
    parser.add_argument("--cli", help="the throughline binary: turn the tables into Delta tables "
                                      "(`throughline lake migrate`) once written")
    args = parser.parse_args()
    summary = write_lake(args.lake, args.touchpoints, args.seed, args.tenant, args.days, cli=args.cli)
    print(json.dumps(summary, indent=2))


def write_lake(lake, touchpoints, seed, tenant, days=365, cli=None):
    """Generates the lake; with `cli`, then migrates it to Delta tables (before any other
    throughline command touches it). The summary file is written last: a lake without one
    is incomplete."""
    if os.path.exists(os.path.join(lake, "tables")):
        sys.exit(f"{lake} already holds a lake; give a new directory")
    started = time.time()
    out = generate(lake, touchpoints, seed, tenant, days)
    summary = {
        "generator_version": GENERATOR_VERSION, "touchpoints_requested": touchpoints, "seed": seed,
        "tenant": tenant, "days": days, "seconds": round(time.time() - started, 1),
        "tables": {t: {"rows": f.rows, "files": f.files, "mib": round(f.bytes / 2 ** 20, 1)} for t, f in out.items()},
        "delta": False,
    }
    if cli:
        migrate(cli, lake)
        summary["delta"] = True
    with open(os.path.join(lake, "bench-lake.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return summary


def migrate(cli, lake):
    """`throughline lake migrate`: the plain Parquet tables become Delta tables in place (a
    table that already has a Delta log is left as it is)."""
    done = subprocess.run([cli, "--lake", lake, "lake", "migrate"], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"throughline lake migrate failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")


if __name__ == "__main__":
    main()
