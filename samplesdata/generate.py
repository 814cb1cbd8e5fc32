#!/usr/bin/env python3
"""Generate Throughline's demo data set: 90 days of a Kyiv kitchen-furniture maker.

"Kukhni Dnipro" makes made-to-measure kitchens in Kyiv. People find it via Google
Ads, Meta and TikTok ads, organic search, referrals, social posts, the newsletter and
tracked messenger links; they leave a lead (web form, phone call, messenger), a sales
manager works the deal (measurement -> proposal -> contract) and some customers come
back for worktops and accessories.

Usage:
    python3 samplesdata/generate.py --seed 7 --out samplesdata

Standard library only and deterministic: one seeded `random.Random` drives every
choice, generation runs in a fixed order and nothing depends on hash order or the
wall clock, so the same seed always writes byte-identical files.

The economics are built in on purpose (see README.md): Google search pays back
well, Meta is mediocre, TikTok brings cheap leads that rarely close, and the Meta
"broad" campaign clearly loses money.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

# ---------------------------------------------------------------------------
# Calendar and time zone
# ---------------------------------------------------------------------------

START_DATE = date(2026, 8, 1)
DAYS = 90  # 2026-08-01 .. 2026-10-29
END_DATE = START_DATE + timedelta(days=DAYS - 1)

# Europe/Kyiv leaves summer time (+03:00) on the last Sunday of October at 01:00
# UTC, i.e. 04:00 EEST becomes 03:00 EET. Everything is kept as naive UTC
# internally and only given its Kyiv offset when written.
DST_END_UTC = datetime(2026, 10, 25, 1, 0, 0)
DST_END_LOCAL = datetime(2026, 10, 25, 3, 0, 0)  # local wall clock from which +02:00 applies

SITE = "https://kukhni-dnipro.ua"
CURRENCY = "UAH"

# The autumn price test (10 % off) starts here; deals created from this day on
# are split 50/50 between `standard` and `autumn-10`.
OFFER_TEST_START = date(2026, 9, 15)
OFFER_TEST_SHARE = 0.5
OFFER_WIN_LIFT = 1.3      # the discount closes noticeably more deals...
OFFER_DISCOUNT = 0.10     # ...at 10 % lower prices and a thinner margin

# ---------------------------------------------------------------------------
# Business volumes
# ---------------------------------------------------------------------------

VISITORS = 6000              # journeys started in the window (=> ~11k touchpoints)
UNTRACKED_LEADS = 55         # calls/messages with no web visit: word of mouth, signage
REPEAT_PERSON_SHARE = 0.10   # leads by someone who already left a lead (identity stitching)
POST_LEAD_VISIT_SHARE = 0.15  # leads whose visitor comes back to the site afterwards

# Journey length (number of site visits) 1..8; most journeys are short.
JOURNEY_LENGTH_WEIGHTS = [52, 22, 12, 6, 4, 2, 1.2, 0.8]
SAME_DAY_RETURN_SHARE = 0.3   # the next visit is minutes/hours later, else days
MEAN_DAYS_BETWEEN_VISITS = 4.0

# Kitchen price (UAH): log-normal around the median, clamped to the product range.
KITCHEN_MEDIAN = 92000
KITCHEN_SIGMA = 0.42
KITCHEN_MIN, KITCHEN_MAX = 35000, 260000
MARGIN_STANDARD = (0.28, 0.40)
MARGIN_AUTUMN_10 = (0.25, 0.33)

# Repeat orders: worktops, accessories, sometimes a second kitchen.
REPEAT_CUSTOMER_SHARE = 0.55   # of won customers; many fall past the window end
REPEAT_DELAY_DAYS = (10, 80, 22)  # triangular(low, high, mode)
REPEAT_AMOUNT = (2000, 60000)
REPEAT_MARGIN = (0.30, 0.45)
REPEAT_ORDER_WITH_LEAD_ID = 0.3

DEAL_STAGES = ["new", "qualified", "measurement", "proposal", "negotiation"]
# Days spent before moving to the next stage: (min, max) uniform.
STAGE_DAYS = {
    "new": (0.05, 1.5),
    "qualified": (1.0, 5.0),
    "measurement": (1.5, 6.0),
    "proposal": (1.0, 6.0),
    "negotiation": (1.0, 8.0),
}
WON_FROM_PROPOSAL_SHARE = 0.25   # signed right after the quote, no haggling
OPEN_INSTEAD_OF_LOST = 0.2        # of non-won deals: still open at the window end

LOSS_REASONS_BY_STAGE = {
    "new": {"not target": 35, "no response": 35, "out of delivery area": 20, "too expensive": 10},
    "qualified": {"no response": 30, "too expensive": 30, "timing": 25, "not target": 10,
                  "out of delivery area": 5},
    "measurement": {"too expensive": 35, "timing": 30, "chose competitor": 25, "no response": 10},
    "proposal": {"too expensive": 40, "chose competitor": 35, "timing": 15, "no response": 10},
    "negotiation": {"chose competitor": 45, "too expensive": 40, "timing": 15},
}

# ---------------------------------------------------------------------------
# Sales team
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Manager:
    name: str
    share: float            # share of incoming leads
    response_median_min: float
    no_response_rate: float
    win_factor: float       # fast, experienced managers close more


MANAGERS = [
    Manager("Olena Kovalenko", 0.30, 8, 0.03, 1.10),
    Manager("Iryna Bondarenko", 0.25, 20, 0.04, 1.00),
    Manager("Andrii Melnyk", 0.25, 45, 0.04, 0.95),
    Manager("Taras Shevchuk", 0.20, 150, 0.10, 0.80),
]
WORK_START_HOUR, WORK_END_HOUR = 9, 20   # leads outside these hours wait for the morning
SLOW_RESPONSE_HOURS = 24
SLOW_RESPONSE_WIN_FACTOR = 0.7

# ---------------------------------------------------------------------------
# Ad campaigns
# ---------------------------------------------------------------------------

GOOGLE_ACCOUNT = "7423185096"
META_ACCOUNT = "1029384756102938"
TIKTOK_ACCOUNT = "7165432109876543210"


@dataclass(frozen=True)
class Campaign:
    key: str
    platform: str          # google_ads | meta | tiktok
    account_id: str
    campaign_id: str
    name: str              # exact name in the ad platform (ad_costs.csv)
    cpc: float             # mean cost per click, UAH
    ctr: float             # click-through rate, for impressions
    tracked: float         # share of billed clicks that reach the site's tracker
    landing: tuple[str, ...]
    contents: tuple[str, ...] = ()   # utm_content (Meta/TikTok ad names)
    terms: tuple[str, ...] = ()      # utm_term = the keyword, as Google's {keyword} gives it
    utm_campaign: str = ""  # Google: the tracking template's slug; Meta/TikTok use `name`
    starts: date = START_DATE


CAMPAIGNS = [
    Campaign("g_search", "google_ads", GOOGLE_ACCOUNT, "21874563021",
             "Search | Kukhni na zamovlennia | Kyiv", cpc=34.5, ctr=0.072, tracked=0.85,
             landing=("/kukhni-na-zamovlennia/", "/kukhni/kutovi/", "/ceny/", "/kukhni/suchasni/"),
             terms=("кухні на замовлення", "кухня київ", "кутова кухня", "кухні ціна", "кухня під замовлення"),
             utm_campaign="search_kyiv"),
    Campaign("g_brand", "google_ads", GOOGLE_ACCOUNT, "21874563022",
             "Search | Brand | Kukhni Dnipro", cpc=10.0, ctr=0.21, tracked=0.85,
             landing=("/", "/portfolio/", "/kontakty/"),
             # Most people type the brand the way the domain spells it.
             terms=("kukhni dnipro", "kukhni dnipro", "kukhnidnipro", "кухні дніпро"),
             utm_campaign="brand"),
    Campaign("g_pmax", "google_ads", GOOGLE_ACCOUNT, "21874563023",
             "PMax | Kitchens, worktops | Kyiv oblast", cpc=20.0, ctr=0.016, tracked=0.6,
             landing=("/", "/kukhni/suchasni/", "/kukhni/loft/", "/portfolio/"),
             utm_campaign="pmax_kyiv"),
    Campaign("m_lal", "meta", META_ACCOUNT, "120210000000001",
             "KD Leads Lookalike", cpc=15.0, ctr=0.011, tracked=0.45,
             landing=("/zamir/", "/kukhni/suchasni/", "/portfolio/"),
             contents=("carousel_kutovi", "reels_loft_15s", "photo_bila_kukhnia")),
    Campaign("m_rtg", "meta", META_ACCOUNT, "120210000000002",
             "KD Retargeting 30d", cpc=12.0, ctr=0.019, tracked=0.45,
             landing=("/portfolio/", "/ceny/", "/zamir/"),
             contents=("testimonial_video", "carousel_portfolio")),
    Campaign("m_broad", "meta", META_ACCOUNT, "120210000000003",
             "KD Broad UA", cpc=17.0, ctr=0.008, tracked=0.45,
             landing=("/", "/kukhni/suchasni/"),
             contents=("reels_trendy_2026", "photo_ostriv")),
    Campaign("tt_traffic", "tiktok", TIKTOK_ACCOUNT, "1801234567890",
             "KD_TT_Traffic_Ideas", cpc=8.0, ctr=0.007, tracked=0.25,
             landing=("/", "/kukhni/loft/", "/blog/idei-dlia-malenkoi-kukhni/"),
             contents=("ugc_pov_remont", "hack_zberigannia", "before_after_15s")),
    # Brand-awareness video: spend and video clicks, but it links to the TikTok
    # profile, not the site, so no touchpoint ever carries its name.
    Campaign("tt_awareness", "tiktok", TIKTOK_ACCOUNT, "1801234567891",
             "KD_TT_Awareness_TopView", cpc=6.0, ctr=0.0035, tracked=0.0,
             landing=(), starts=date(2026, 9, 1)),
]
CAMPAIGN_BY_KEY = {c.key: c for c in CAMPAIGNS}
AWARENESS_DAILY_CLICKS = (80, 150)

# Not every billed click becomes a touchpoint: people bounce before the tag fires,
# block scripts, or tap by accident inside the Instagram/TikTok in-app browser
# (hence the low `tracked` shares of the social campaigns). Daily clicks =
# touchpoints / (tracked share +- jitter) + a few.
TRACKED_JITTER = 0.1
CPC_JITTER = 0.15

# Safari/ITP and privacy browsers strip click ids from some paid clicks.
CLICK_ID_STRIPPED = 0.03
# Share of Google clicks from iOS with gbraid / wbraid instead of gclid.
GBRAID_SHARE, WBRAID_SHARE = 0.04, 0.08
# Meta/TikTok campaign names as typed into utm_campaign: exact, lower or upper case.
CAMPAIGN_CASE_WEIGHTS = {"exact": 75, "lower": 20, "upper": 5}
# Rows whose utm_*/click columns are filled (else only the URL carries them).
FILLED_COLUMNS_SHARE = 0.4
# Facebook appends fbclid to organic outbound links too.
ORGANIC_FBCLID_SHARE = 0.15

# ---------------------------------------------------------------------------
# Channels: how visitors arrive and how good their leads are
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Channel:
    key: str
    first_weight: float     # share of journeys that start here
    return_weight: float    # share of later visits that come from here
    lead_rate: float        # chance a visitor from here leaves a lead
    win_rate: float         # chance a deal from here is won (before adjustments)
    junk_rate: float        # leads that never become a deal (spam, not a buyer)
    early_loss: float       # share of lost deals lost at new/qualified
    price_factor: float     # relative kitchen budget
    lead_sources: dict[str, float]


WEB_SOURCES = {"form": 60, "call": 30, "viber": 4, "telegram": 4, "whatsapp": 2}
CHANNELS = [
    #       key            first return lead  win   junk early price lead sources
    Channel("g_search",       21,   6, 0.070, 0.48, 0.08, 0.35, 1.10, {"form": 60, "call": 40}),
    Channel("g_brand",         5,  18, 0.140, 0.50, 0.06, 0.30, 1.05, {"form": 55, "call": 45}),
    Channel("g_pmax",         14,   4, 0.040, 0.28, 0.15, 0.50, 0.95, {"form": 70, "call": 30}),
    Channel("m_lal",          16,   0, 0.035, 0.17, 0.18, 0.55, 0.90, {"form": 80, "instagram": 12, "call": 8}),
    Channel("m_rtg",           0,  13, 0.060, 0.24, 0.12, 0.45, 0.95, {"form": 80, "instagram": 12, "call": 8}),
    Channel("m_broad",        20,   0, 0.020, 0.02, 0.35, 0.75, 0.80, {"form": 85, "instagram": 15}),
    Channel("tt_traffic",     19,   2, 0.100, 0.025, 0.35, 0.85, 0.70,
            {"form": 65, "telegram": 15, "instagram": 12, "call": 8}),
    Channel("organic",         9,  18, 0.070, 0.38, 0.08, 0.35, 1.00, WEB_SOURCES),
    Channel("direct",          4,  20, 0.060, 0.38, 0.10, 0.35, 1.00, WEB_SOURCES),
    Channel("email",         1.5,   6, 0.080, 0.40, 0.05, 0.30, 1.00, {"form": 70, "call": 30}),
    Channel("referral",      3.5,   2, 0.080, 0.34, 0.10, 0.40, 1.05, WEB_SOURCES),
    Channel("social_organic", 3.5,  3, 0.050, 0.22, 0.15, 0.50, 0.90,
            {"instagram": 50, "form": 40, "telegram": 10}),
    Channel("messenger",       2,   6, 0.120, 0.36, 0.08, 0.35, 1.00, {}),  # source = the messenger
]
CHANNEL_BY_KEY = {c.key: c for c in CHANNELS}
# Lead with no web journey at all (word of mouth, a finished kitchen seen at friends').
OFFLINE = Channel("offline", 0, 0, 0, 0.45, 0.08, 0.30, 1.05,
                  {"call": 70, "instagram": 15, "viber": 10, "telegram": 5})
# How much the first touch (vs the last touch before the lead) decides lead quality.
FIRST_TOUCH_QUALITY_WEIGHT = 0.6
EXTRA_VISIT_LEAD_LIFT = 0.3   # each extra visit makes a lead more likely...
MAX_LEAD_RATE = 0.5
# TikTok audiences bounce: their journeys are shorter.
SHORT_JOURNEY_CHANNELS = {"tt_traffic": 0.6, "m_broad": 0.8}

MESSENGER_LEAD_HAS_VISITOR = 0.7
FORM_LEAD_HAS_CLICK_ID = 0.7
CALL_LEAD_HAS_VISITOR = 0.1
CALL_LEAD_HAS_CLICK_ID = 0.45   # call tracking passes the gclid of the session
CALL_ANSWERED_LIVE = 0.8

# Site paths.
GENERIC_PATHS = ["/", "/kukhni-na-zamovlennia/", "/kukhni/suchasni/", "/kukhni/klasychni/",
                 "/kukhni/kutovi/", "/kukhni/loft/", "/kukhni/z-ostrovom/", "/portfolio/",
                 "/ceny/", "/zamir/", "/kontakty/", "/stilnytsi/"]
BLOG_PATHS = ["/blog/yak-vybraty-stilnytsiu/", "/blog/kukhnia-v-khrushchovtsi/",
              "/blog/skilky-koshtuie-kukhnia-2026/", "/blog/fasady-mdf-chy-dsp/",
              "/portfolio/kukhnia-obolon-48/", "/portfolio/kukhnia-pozniaky-ostriv/"]
PROMO_PATH = "/akciya-osin/"
REFERRERS = [  # (referrer, weight): a home-decor blog, a furniture marketplace, a renovation forum
    ("https://domivka-decor.com.ua/blog/kukhni-2026-trendy/", 40),
    ("https://domivka-decor.com.ua/blog/yak-zamovyty-kukhniu/", 15),
    ("https://mebli-market.com.ua/kukhni/kyiv/", 30),
    ("https://kyiv-remont.forum.ua/t/kukhnia-na-zamovlennia-vidhuky/", 15),
]
NEWSLETTERS = [  # (first day sent, utm_campaign)
    (date(2026, 8, 1), "2026-08-digest"),
    (date(2026, 9, 1), "2026-09-digest"),
    (date(2026, 9, 15), "2026-09-autumn-10"),
    (date(2026, 10, 1), "2026-10-digest"),
]

# People.
FIRST_NAMES = ["olena", "iryna", "oksana", "nataliia", "tetiana", "yuliia", "kateryna", "anna",
               "mariia", "viktoriia", "svitlana", "oleksandr", "andrii", "serhii", "dmytro",
               "volodymyr", "mykola", "ivan", "yurii", "maksym", "bohdan", "roman", "vitalii",
               "halyna", "liudmyla", "denys", "artem", "taras"]
LAST_NAMES = ["shevchenko", "kovalenko", "bondarenko", "tkachenko", "kravchenko", "boiko",
              "melnyk", "oliinyk", "lysenko", "moroz", "marchenko", "petrenko", "savchenko",
              "rudenko", "pavlenko", "klymenko", "koval", "shevchuk", "polishchuk", "hnatiuk",
              "kovalchuk", "tkachuk", "levchenko", "ponomarenko", "karpenko", "romanenko"]
EMAIL_DOMAINS = {"gmail.com": 60, "ukr.net": 24, "i.ua": 5, "meta.ua": 3, "outlook.com": 8}
MOBILE_CODES = ["050", "066", "095", "099", "067", "068", "096", "097", "098", "063", "073", "093"]

# Local hour-of-day weights for site visits (evenings are when people plan kitchens).
HOUR_WEIGHTS = [1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2.5, 3.5, 4, 4, 4.5, 4.5, 4.2, 4,
                4.2, 4.5, 5, 5.5, 5.8, 5, 3.5, 2]
WEEKDAY_WEIGHTS = [1.0, 1.0, 0.95, 0.95, 0.9, 1.1, 1.15]  # Mon..Sun


# ---------------------------------------------------------------------------
# Time helpers: naive UTC inside, Kyiv time outside
# ---------------------------------------------------------------------------

def utc_from_local(local: datetime) -> datetime:
    """Kyiv wall clock -> UTC. In the repeated hour of 25 Oct picks the later (+02:00)."""
    return local - timedelta(hours=3 if local < DST_END_LOCAL else 2)


def kyiv_offset_hours(utc: datetime) -> int:
    return 3 if utc < DST_END_UTC else 2


def to_local(utc: datetime) -> datetime:
    return utc + timedelta(hours=kyiv_offset_hours(utc))


def fmt_ts(utc: datetime) -> str:
    offset = kyiv_offset_hours(utc)
    return (utc + timedelta(hours=offset)).strftime("%Y-%m-%dT%H:%M:%S") + f"+0{offset}:00"


WINDOW_END = utc_from_local(datetime.combine(END_DATE + timedelta(days=1), datetime.min.time()))


def fmt_money(value: float) -> str:
    return f"{round(value, 2):.2f}"


# ---------------------------------------------------------------------------
# Random helpers
# ---------------------------------------------------------------------------

class Rng(random.Random):
    def pick(self, weights: dict):
        """A key of `weights`, chosen with the given relative weights."""
        return self.choices(list(weights), weights=list(weights.values()))[0]

    def chance(self, p: float) -> bool:
        return self.random() < p

    def hex(self, n: int) -> str:
        return f"{self.getrandbits(4 * n):0{n}x}"

    def token(self, n: int, alphabet: str) -> str:
        return "".join(self.choice(alphabet) for _ in range(n))

    def local_time_on(self, day: date) -> datetime:
        """A random moment of a Kyiv calendar day, as UTC, weighted by hour of day."""
        hour = self.choices(range(24), weights=HOUR_WEIGHTS)[0]
        local = datetime(day.year, day.month, day.day, hour, self.randrange(60), self.randrange(60))
        return utc_from_local(local)


B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def make_click_id(rng: Rng, kind: str) -> str:
    """Click ids shaped like the real ones (prefix, alphabet), shortened to keep the files small."""
    if kind == "gclid":
        return "Cj0KCQjw" + rng.token(20, B64URL) + "_BwE"
    if kind == "gbraid":
        return "0AAAAAD" + rng.token(20, B64URL)
    if kind == "wbraid":
        return "CjgKCAjw" + rng.token(22, B64URL)
    if kind == "fbclid":
        return "IwAR" + rng.token(24, B64URL)
    if kind == "ttclid":
        return "E.C.P." + rng.token(22, B64)
    raise ValueError(kind)


# ---------------------------------------------------------------------------
# Touchpoints
# ---------------------------------------------------------------------------

@dataclass
class Touch:
    ts: datetime
    channel: str
    url: str
    referrer: str
    params: dict            # utm_* in URL order
    click_id: str = ""
    click_id_type: str = ""
    campaign: str = ""      # campaign key for paid touches (ad_costs matching)


@dataclass
class Journey:
    index: int
    visitor_id: str
    touches: list[Touch] = field(default_factory=list)


def vary_case(rng: Rng, name: str) -> str:
    style = rng.pick(CAMPAIGN_CASE_WEIGHTS)
    return name.lower() if style == "lower" else name.upper() if style == "upper" else name


def build_url(path: str, params: dict, click: tuple[str, str] | None) -> str:
    pairs = list(params.items())
    if click:
        pairs.append(click)  # ad platforms append their click id after the tagged URL
    if not pairs:
        return SITE + path
    return SITE + path + "?" + urlencode(pairs, quote_via=quote, safe="")


def make_touch(rng: Rng, channel: str, ts: datetime) -> Touch:
    """One site visit from `channel` at `ts`: landing URL, referrer and tags."""
    day = to_local(ts).date()
    params: dict[str, str] = {}
    referrer = ""
    click_kind = ""
    campaign = ""
    path = rng.choice(GENERIC_PATHS)

    if channel in CAMPAIGN_BY_KEY:
        c = CAMPAIGN_BY_KEY[channel]
        campaign = c.key
        path = rng.choice(c.landing)
        if day >= OFFER_TEST_START and rng.chance(0.25):
            path = PROMO_PATH
        if c.platform == "google_ads":
            params = {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": c.utm_campaign,
                      "utm_id": c.campaign_id}
            if c.terms:
                params["utm_term"] = rng.choice(c.terms)
            r = rng.random()
            click_kind = "gbraid" if r < GBRAID_SHARE else "wbraid" if r < GBRAID_SHARE + WBRAID_SHARE else "gclid"
            referrer = "https://www.google.com/" if rng.chance(0.3) else ""
        elif c.platform == "meta":
            source = "instagram" if rng.chance(0.55) else "facebook"
            params = {"utm_source": source, "utm_medium": "paid_social",
                      "utm_campaign": vary_case(rng, c.name), "utm_content": rng.choice(c.contents)}
            click_kind = "fbclid"
            if rng.chance(0.3):  # in-app browsers mostly send no referrer
                referrer = "https://l.instagram.com/" if source == "instagram" else "https://m.facebook.com/"
        else:  # tiktok
            params = {"utm_source": "tiktok", "utm_medium": "cpc",
                      "utm_campaign": vary_case(rng, c.name), "utm_content": rng.choice(c.contents)}
            click_kind = "ttclid"
        if rng.chance(CLICK_ID_STRIPPED):
            click_kind = ""
    elif channel == "organic":
        path = rng.choice(GENERIC_PATHS + BLOG_PATHS * 2)
        referrer = "https://www.google.com/" if rng.chance(0.9) else "https://www.google.com.ua/"
    elif channel == "direct":
        pass
    elif channel == "email":
        sent = [name for start, name in NEWSLETTERS if start <= day]
        params = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": sent[-1],
                  "utm_content": rng.choice(["hero-button", "portfolio-link", "footer-link"])}
        if sent[-1].endswith("autumn-10"):
            path = PROMO_PATH
    elif channel == "referral":
        referrer = rng.choices([r for r, _ in REFERRERS], weights=[w for _, w in REFERRERS])[0]
        path = rng.choice(["/", "/portfolio/", "/kukhni-na-zamovlennia/", "/kukhni/suchasni/"])
    elif channel == "social_organic":
        if rng.chance(0.5):  # tagged link in the Instagram bio
            referrer = "https://l.instagram.com/"
            params = {"utm_source": "instagram", "utm_medium": "social", "utm_campaign": "bio-link"}
            path = "/portfolio/"
        else:  # a Facebook page post
            referrer = rng.choice(["https://m.facebook.com/", "https://l.facebook.com/"])
            path = rng.choice(BLOG_PATHS + ["/portfolio/"])
            if rng.chance(ORGANIC_FBCLID_SHARE):
                click_kind = "fbclid"
    elif channel == "messenger":
        app = rng.pick({"telegram": 45, "viber": 40, "whatsapp": 15})
        params = {"utm_source": app, "utm_medium": "messenger",
                  "utm_campaign": rng.pick({"manager-link": 60, "channel-post": 40})}
        path = rng.choice(["/portfolio/", "/ceny/", "/zamir/", "/kukhni/suchasni/"])
    else:
        raise ValueError(channel)

    click = (click_kind, make_click_id(rng, click_kind)) if click_kind else None
    return Touch(ts=ts, channel=channel, url=build_url(path, params, click), referrer=referrer,
                 params=params, click_id=click[1] if click else "",
                 click_id_type=click_kind, campaign=campaign)


def day_weights() -> list[float]:
    """Demand per day: weekly rhythm plus autumn renovation season building up."""
    weights = []
    for i in range(DAYS):
        d = START_DATE + timedelta(days=i)
        season = 0.85 + 0.3 * i / (DAYS - 1)
        weights.append(WEEKDAY_WEIGHTS[d.weekday()] * season)
    return weights


def generate_journeys(rng: Rng) -> list[Journey]:
    first_weights = {c.key: c.first_weight for c in CHANNELS if c.first_weight}
    return_weights = {c.key: c.return_weight for c in CHANNELS if c.return_weight}
    days = day_weights()
    journeys = []
    for i in range(VISITORS):
        journey = Journey(index=i, visitor_id="v-" + rng.hex(12))
        first = rng.pick(first_weights)
        length = rng.choices(range(1, 9), weights=JOURNEY_LENGTH_WEIGHTS)[0]
        if first in SHORT_JOURNEY_CHANNELS and not rng.chance(SHORT_JOURNEY_CHANNELS[first]):
            length = 1
        day = START_DATE + timedelta(days=rng.choices(range(DAYS), weights=days)[0])
        ts = rng.local_time_on(day)
        channel = first
        for n in range(length):
            if ts >= WINDOW_END:
                break
            journey.touches.append(make_touch(rng, channel, ts))
            # People often click the same ad again; otherwise they come back by
            # searching the brand, typing the address, a retargeting ad, ...
            channel = first if rng.chance(0.15) and first not in ("direct",) else rng.pick(return_weights)
            if rng.chance(SAME_DAY_RETURN_SHARE):
                ts += timedelta(minutes=rng.uniform(10, 300))
            else:
                ts += timedelta(days=rng.expovariate(1 / MEAN_DAYS_BETWEEN_VISITS) + 0.2)
            ts = ts.replace(microsecond=0)
        journeys.append(journey)
    return journeys


# ---------------------------------------------------------------------------
# People and contact formats
# ---------------------------------------------------------------------------

@dataclass
class Person:
    email: str              # canonical lower-case address ("" = never gave one)
    phone: str              # 9 national digits after the trunk 0, e.g. "671234567"


def format_phone(rng: Rng, national: str) -> str:
    """The same Ukrainian mobile number in the formats people and CRMs write it."""
    op, a, b, c = national[:2], national[2:5], national[5:7], national[7:]
    style = rng.pick({"intl_spaced": 30, "e164": 25, "national": 20, "brackets": 15, "digits": 10})
    if style == "intl_spaced":
        return f"+380 {op} {a} {b} {c}"
    if style == "e164":
        return f"+380{national}"
    if style == "national":
        return f"0{op} {a} {b} {c}"
    if style == "brackets":
        return f"(0{op}) {a}-{b}-{c}"
    return f"380{national}"


def format_email(rng: Rng, email: str) -> str:
    """As typed into a form: mostly fine, sometimes capitalised or with stray spaces."""
    style = rng.pick({"plain": 70, "capitalised": 12, "upper": 5, "spaces": 9, "capitalised_spaces": 4})
    if style.startswith("capitalised"):
        local, domain = email.split("@")
        email = ".".join(p.capitalize() for p in local.split(".")) + "@" + domain.capitalize()
    elif style == "upper":
        email = email.upper()
    if style.endswith("spaces"):
        email = rng.choice([" ", "  ", ""]) + email + rng.choice([" ", "\t", " "])
    return email


class People:
    def __init__(self, rng: Rng):
        self.rng = rng
        self.emails: dict[str, None] = {}
        self.phones: dict[str, None] = {}

    def new(self) -> Person:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        while True:
            phone = rng.choice(MOBILE_CODES)[1:] + f"{rng.randrange(10_000_000):07d}"
            if phone not in self.phones:
                break
        self.phones[phone] = None
        email = ""
        if rng.chance(0.75):
            while True:
                local = rng.pick({f"{first}.{last}": 40, f"{first}{last[0]}{rng.randrange(70, 100)}": 25,
                                  f"{last}.{first[0]}": 20, f"{first}_{last}{rng.randrange(1, 30)}": 15})
                email = f"{local}@{rng.pick(EMAIL_DOMAINS)}"
                if email not in self.emails:
                    break
                first = rng.choice(FIRST_NAMES)
            self.emails[email] = None
        return Person(email=email, phone=phone)


# ---------------------------------------------------------------------------
# Leads
# ---------------------------------------------------------------------------

@dataclass
class Lead:
    ts: datetime
    source: str
    quality: Channel          # blended channel profile that drives the deal
    channel: str              # channel credited in the diagnostics (last non-direct touch)
    first_channel: str
    visitor_id: str = ""
    click_id: str = ""
    lead_id: str = ""
    person: Person | None = None
    email: str = ""
    phone: str = ""
    manager: Manager | None = None
    first_response: datetime | None = None


def blend(first: Channel, last: Channel) -> Channel:
    """Lead quality: mostly where the person came from, partly what finally convinced them.

    The win rate is blended geometrically: someone who found the brand through a
    TikTok video and later searched its name is still a weak prospect, not an
    average of the two.
    """
    w = FIRST_TOUCH_QUALITY_WEIGHT
    mix = lambda a, b: w * a + (1 - w) * b  # noqa: E731
    win = first.win_rate ** w * last.win_rate ** (1 - w)
    return Channel(f"{first.key}>{last.key}", 0, 0, mix(first.lead_rate, last.lead_rate),
                   win, mix(first.junk_rate, last.junk_rate),
                   mix(first.early_loss, last.early_loss), mix(first.price_factor, last.price_factor),
                   last.lead_sources)


def choose_source(rng: Rng, last: Touch, sources: dict) -> str:
    if last.channel == "messenger":
        return last.params["utm_source"] if rng.chance(0.85) else "form"
    return rng.pick(sources)


def lead_from_journey(rng: Rng, journey: Journey) -> Lead | None:
    """Decide whether this visitor leaves a lead, and attach the lead to the journey."""
    touches = journey.touches
    first = CHANNEL_BY_KEY[touches[0].channel]
    non_direct = [t for t in touches if t.channel != "direct"]
    last_touch = touches[-1]
    last = CHANNEL_BY_KEY[non_direct[-1].channel] if non_direct else first
    quality = blend(first, last)
    p = min(MAX_LEAD_RATE, quality.lead_rate * (1 + EXTRA_VISIT_LEAD_LIFT * (len(touches) - 1)))
    if not rng.chance(p):
        return None
    ts = (last_touch.ts + timedelta(seconds=rng.randrange(60, 2400)))
    if ts >= WINDOW_END:
        return None
    source = choose_source(rng, last_touch, CHANNEL_BY_KEY[last_touch.channel].lead_sources or WEB_SOURCES)
    lead = Lead(ts=ts, source=source, quality=quality, channel=last.key, first_channel=first.key)

    click_ids = [t for t in touches if t.click_id]
    if source == "form":
        lead.visitor_id = journey.visitor_id
        if click_ids and rng.chance(FORM_LEAD_HAS_CLICK_ID):
            lead.click_id = click_ids[-1].click_id
    elif source == "call":
        if rng.chance(CALL_LEAD_HAS_VISITOR):
            lead.visitor_id = journey.visitor_id
        gclids = [t for t in touches if t.click_id_type == "gclid"]
        if gclids and rng.chance(CALL_LEAD_HAS_CLICK_ID):
            lead.click_id = gclids[-1].click_id
    elif rng.chance(MESSENGER_LEAD_HAS_VISITOR):
        lead.visitor_id = journey.visitor_id
    return lead


def add_post_lead_visits(rng: Rng, journey: Journey, lead_ts: datetime) -> None:
    """Some leads come back to look at the portfolio while waiting for the measurer."""
    if not rng.chance(POST_LEAD_VISIT_SHARE):
        return
    ts = lead_ts
    for _ in range(rng.choice([1, 1, 2])):
        ts = (ts + timedelta(days=rng.uniform(0.5, 6))).replace(microsecond=0)
        if ts >= WINDOW_END:
            return
        journey.touches.append(make_touch(rng, rng.pick({"direct": 50, "g_brand": 20, "organic": 20, "email": 10}), ts))


def offline_leads(rng: Rng) -> list[Lead]:
    leads = []
    days = day_weights()
    for _ in range(UNTRACKED_LEADS):
        day = START_DATE + timedelta(days=rng.choices(range(DAYS), weights=days)[0])
        ts = rng.local_time_on(day)
        leads.append(Lead(ts=ts, source=rng.pick(OFFLINE.lead_sources), quality=OFFLINE,
                          channel="offline", first_channel="offline"))
    return leads


def first_response(rng: Rng, lead: Lead) -> datetime | None:
    m = lead.manager
    if rng.chance(m.no_response_rate):
        return None
    if lead.source == "call" and rng.chance(CALL_ANSWERED_LIVE):
        return lead.ts + timedelta(seconds=rng.randrange(5, 90))
    start = lead.ts
    local = to_local(start)
    # Outside working hours (and on Sundays) the lead waits for the next morning.
    if local.hour >= WORK_END_HOUR or local.hour < WORK_START_HOUR or local.weekday() == 6:
        nxt = local if local.hour < WORK_START_HOUR else local + timedelta(days=1)
        while nxt.weekday() == 6:
            nxt += timedelta(days=1)
        start = utc_from_local(nxt.replace(hour=WORK_START_HOUR, minute=0, second=0))
    delay_min = m.response_median_min * math.exp(rng.gauss(0, 1.0))
    if rng.chance(0.03):  # forgotten in the inbox
        delay_min += rng.uniform(24 * 60, 72 * 60)
    response = (start + timedelta(minutes=delay_min + rng.uniform(0.5, 3))).replace(microsecond=0)
    # The export is taken at the window end: a later answer is not known yet.
    return response if response < WINDOW_END else None


def contact_fields(rng: Rng, lead: Lead) -> None:
    """What contact data this kind of lead carries, in whatever format it arrived."""
    p = lead.person
    if lead.source == "call" or lead.source in ("viber", "whatsapp"):
        lead.phone = format_phone(rng, p.phone)  # the caller id / messenger account
        if lead.source != "call" and p.email and rng.chance(0.2):
            lead.email = format_email(rng, p.email)
        return
    give_phone = rng.chance(0.9 if lead.source == "form" else 0.75)
    give_email = bool(p.email) and rng.chance(0.65)
    if not give_phone and not give_email:
        give_phone = True
    if give_phone:
        lead.phone = format_phone(rng, p.phone)
    if give_email:
        lead.email = format_email(rng, p.email)


def generate_leads(rng: Rng, journeys: list[Journey]) -> list[Lead]:
    leads = []
    for journey in journeys:
        if not journey.touches:
            continue
        lead = lead_from_journey(rng, journey)
        if lead:
            add_post_lead_visits(rng, journey, lead.ts)
            leads.append(lead)
    leads += offline_leads(rng)
    # Ids, people and managers are handed out in time order, like a CRM would.
    leads.sort(key=lambda lead: (lead.ts, lead.visitor_id, lead.source))
    people = People(rng)
    known: list[Person] = []
    managers = {m.name: m.share for m in MANAGERS}
    manager_by_name = {m.name: m for m in MANAGERS}
    for n, lead in enumerate(leads, start=1):
        lead.lead_id = f"lead-{n:05d}"
        if known and rng.chance(REPEAT_PERSON_SHARE):
            lead.person = rng.choice(known)  # came back on another device / channel
        else:
            lead.person = people.new()
            known.append(lead.person)
        contact_fields(rng, lead)
        lead.manager = manager_by_name[rng.pick(managers)]
        lead.first_response = first_response(rng, lead)
    return leads


# ---------------------------------------------------------------------------
# Deals
# ---------------------------------------------------------------------------

@dataclass
class DealEvent:
    ts: datetime
    deal_id: str
    lead_id: str
    type: str
    stage: str
    amount: float | None
    margin: float | None
    loss_reason: str
    manager: str
    offer: str


@dataclass
class Deal:
    deal_id: str
    lead: Lead
    offer: str
    events: list[DealEvent]
    outcome: str              # won | lost | open
    amount: float | None = None
    margin: float | None = None
    won_ts: datetime | None = None


def round_price(value: float) -> float:
    return float(int(round(value / 50.0)) * 50)


class Quota:
    """Turns probabilities into outcomes with little noise.

    Per group, an outcome happens each time the running sum of probabilities
    crosses a whole number. A channel has only a few dozen leads, so independent
    coin flips would make the designed economics (TikTok rarely closes, Meta broad
    never pays back) a matter of the seed's luck.
    """

    def __init__(self, rng: Rng):
        self.rng = rng
        self.acc: dict[str, float] = {}

    def draw(self, group: str, p: float) -> bool:
        acc = self.acc.get(group)
        acc = (self.rng.random() if acc is None else acc) + p
        hit = acc >= 1.0
        self.acc[group] = acc - 1.0 if hit else acc
        return hit


def win_probability(lead: Lead, offer: str) -> float:
    p = lead.quality.win_rate * lead.manager.win_factor
    if offer == "autumn-10":
        p *= OFFER_WIN_LIFT
    if (lead.first_response - lead.ts) > timedelta(hours=SLOW_RESPONSE_HOURS):
        p *= SLOW_RESPONSE_WIN_FACTOR
    return min(p, 0.85)


def simulate_deal(rng: Rng, quota: Quota, deal_id: str, lead: Lead, created: datetime) -> Deal:
    q = lead.quality
    offer = "standard"
    if to_local(created).date() >= OFFER_TEST_START and rng.chance(OFFER_TEST_SHARE):
        offer = "autumn-10"

    if quota.draw(lead.channel, win_probability(lead, offer)):
        final_stage = "proposal" if rng.chance(WON_FROM_PROPOSAL_SHARE) else "negotiation"
        outcome = "won"
    else:
        outcome = "open" if rng.chance(OPEN_INSTEAD_OF_LOST) else "lost"
        early = rng.chance(q.early_loss)
        final_stage = rng.pick({"new": 45, "qualified": 55} if early else
                               {"measurement": 40, "proposal": 40, "negotiation": 20})

    # The quote: kitchen size and finish drive the price; the autumn offer takes 10 % off.
    quote = KITCHEN_MEDIAN * q.price_factor * math.exp(rng.gauss(0, KITCHEN_SIGMA))
    if offer == "autumn-10":
        quote *= 1 - OFFER_DISCOUNT
    quote = round_price(min(KITCHEN_MAX, max(KITCHEN_MIN, quote)))

    base = dict(deal_id=deal_id, lead_id=lead.lead_id, manager=lead.manager.name, offer=offer)
    events = [DealEvent(created, type="created", stage="new", amount=None, margin=None, loss_reason="", **base)]
    deal = Deal(deal_id, lead, offer, events, outcome="open")
    ts = created
    amount = None  # the current quote, set from the proposal stage on
    for stage in DEAL_STAGES[1:DEAL_STAGES.index(final_stage) + 1]:
        prev = DEAL_STAGES[DEAL_STAGES.index(stage) - 1]
        ts = (ts + timedelta(days=rng.uniform(*STAGE_DAYS[prev]))).replace(microsecond=0)
        if ts >= WINDOW_END:
            return deal  # still in progress when the data set ends
        if stage == "proposal":
            amount = quote
        elif stage == "negotiation" and rng.chance(0.5):
            # Haggling: a small discount or a cheaper worktop.
            amount = round_price(max(KITCHEN_MIN, quote * (1 - rng.uniform(0.0, 0.06))))
        events.append(DealEvent(ts, type="stage_changed", stage=stage, amount=amount, margin=None,
                                loss_reason="", **base))

    if outcome == "open":
        return deal
    wait = STAGE_DAYS[final_stage]
    if outcome == "lost":
        reason = rng.pick(LOSS_REASONS_BY_STAGE[final_stage])
        if final_stage in ("new", "qualified") and lead.channel == "m_broad" and rng.chance(0.4):
            reason = "out of delivery area"  # the broad campaign targets all of Ukraine
        days = rng.uniform(5, 14) if reason == "no response" else rng.uniform(*wait)
        ts = (ts + timedelta(days=days)).replace(microsecond=0)
        if ts < WINDOW_END:
            events.append(DealEvent(ts, type="lost", stage=final_stage, amount=None, margin=None,
                                    loss_reason=reason, **base))
            deal.outcome = "lost"
        return deal

    ts = (ts + timedelta(days=rng.uniform(*wait))).replace(microsecond=0)
    if ts >= WINDOW_END:
        return deal
    final_amount = amount if amount is not None else quote
    lo, hi = MARGIN_AUTUMN_10 if offer == "autumn-10" else MARGIN_STANDARD
    margin = round(final_amount * rng.uniform(lo, hi), 2)
    events.append(DealEvent(ts, type="won", stage=final_stage, amount=final_amount, margin=margin,
                            loss_reason="", **base))
    deal.outcome, deal.amount, deal.margin, deal.won_ts = "won", final_amount, margin, ts
    return deal


def generate_deals(rng: Rng, leads: list[Lead]) -> list[Deal]:
    deals = []
    quota = Quota(rng)
    for lead in leads:
        # Unanswered leads and junk (spam, wrong number, wants a wardrobe) get no deal.
        if lead.first_response is None or rng.chance(lead.quality.junk_rate):
            continue
        created = lead.first_response + timedelta(minutes=rng.uniform(5, 24 * 60))
        if created >= WINDOW_END:
            continue
        deals.append(simulate_deal(rng, quota, f"deal-{len(deals) + 1:05d}", lead,
                                   created.replace(microsecond=0)))
    return deals


# ---------------------------------------------------------------------------
# Orders
# ---------------------------------------------------------------------------

@dataclass
class Order:
    ts: datetime
    lead_id: str
    email: str
    phone: str
    amount: float
    margin: float
    order_id: str = ""


def generate_orders(rng: Rng, deals: list[Deal]) -> list[Order]:
    orders = []
    for deal in deals:
        if deal.outcome != "won":
            continue
        lead, person = deal.lead, deal.lead.person
        # The contract carries the CRM's copy of the contact data.
        orders.append(Order(deal.won_ts, lead.lead_id, person.email, f"+380{person.phone}",
                            deal.amount, deal.margin))
        if not rng.chance(REPEAT_CUSTOMER_SHARE):
            continue
        ts = deal.won_ts
        for _ in range(rng.choice([1, 1, 1, 2])):
            ts = (ts + timedelta(days=rng.triangular(*REPEAT_DELAY_DAYS))).replace(microsecond=0)
            if ts >= WINDOW_END:
                break
            # Shop orders: no lead id, contact typed at the counter in any format.
            amount = round(rng.uniform(*REPEAT_AMOUNT) if rng.chance(0.15) else rng.uniform(2000, 18000), -1)
            margin = round(amount * rng.uniform(*REPEAT_MARGIN), 2)
            email = format_email(rng, person.email) if person.email and rng.chance(0.6) else ""
            phone = format_phone(rng, person.phone) if not email or rng.chance(0.5) else ""
            lead_id = lead.lead_id if rng.chance(REPEAT_ORDER_WITH_LEAD_ID) else ""
            orders.append(Order(ts, lead_id, email, phone, amount, margin))
    orders.sort(key=lambda o: (o.ts, o.lead_id, o.amount))
    for n, order in enumerate(orders, start=1):
        order.order_id = f"ord-{n:05d}"
    return orders


# ---------------------------------------------------------------------------
# Ad costs
# ---------------------------------------------------------------------------

def generate_ad_costs(rng: Rng, touches: list[Touch]) -> list[dict]:
    per_day = Counter((t.campaign, to_local(t.ts).date()) for t in touches if t.campaign)
    rows = []
    for i in range(DAYS):
        day = START_DATE + timedelta(days=i)
        for c in CAMPAIGNS:
            if day < c.starts:
                continue
            if c.landing:
                tracked = per_day[(c.key, day)]
                share = c.tracked * rng.uniform(1 - TRACKED_JITTER, 1 + TRACKED_JITTER)
                clicks = math.ceil(tracked / min(share, 1.0)) + rng.randrange(0, 3)
            else:
                clicks = rng.randint(*AWARENESS_DAILY_CLICKS)
            cost = clicks * c.cpc * rng.uniform(1 - CPC_JITTER, 1 + CPC_JITTER)
            impressions = round(clicks / (c.ctr * rng.uniform(0.8, 1.2))) if clicks else rng.randrange(50, 400)
            rows.append({"date": day.isoformat(), "platform": c.platform, "account_id": c.account_id,
                         "campaign_id": c.campaign_id, "campaign_name": c.name,
                         "ad_group_id": "", "ad_group_name": "", "ad_id": "", "ad_name": "",
                         "impressions": impressions, "clicks": clicks, "cost": fmt_money(cost),
                         "currency": CURRENCY})
    return rows


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------

TOUCHPOINT_COLUMNS = ["event_id", "ts", "visitor_id", "url", "referrer", "utm_source", "utm_medium",
                      "utm_campaign", "utm_content", "utm_term", "utm_id", "click_id", "click_id_type"]
LEAD_COLUMNS = ["lead_id", "ts", "visitor_id", "click_id", "email", "phone", "source", "manager",
                "first_response_ts"]
DEAL_EVENT_COLUMNS = ["event_id", "deal_id", "lead_id", "ts", "type", "stage", "amount", "currency",
                      "margin", "loss_reason", "manager", "offer"]
ORDER_COLUMNS = ["order_id", "ts", "lead_id", "email", "phone", "amount", "currency", "margin"]
AD_COST_COLUMNS = ["date", "platform", "account_id", "campaign_id", "campaign_name", "ad_group_id",
                   "ad_group_name", "ad_id", "ad_name", "impressions", "clicks", "cost", "currency"]


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    # LF line endings keep the committed files diff-friendly; quoting is RFC 4180.
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writeheader()
        writer.writerows(rows)


def touchpoint_rows(rng: Rng, journeys: list[Journey]) -> list[dict]:
    ordered = sorted(((t.ts, j.index, k, j.visitor_id, t) for j in journeys for k, t in enumerate(j.touches)),
                     key=lambda x: x[:3])
    rows = []
    for n, (_, _, _, visitor_id, t) in enumerate(ordered, start=1):
        row = {"event_id": f"tp-{n:06d}", "ts": fmt_ts(t.ts), "visitor_id": visitor_id, "url": t.url,
               "referrer": t.referrer}
        # Most trackers only send the URL; some also send parsed columns.
        if (t.params or t.click_id) and rng.chance(FILLED_COLUMNS_SHARE):
            row.update(t.params)
            row["click_id"], row["click_id_type"] = t.click_id, t.click_id_type
        rows.append(row)
    return rows


def lead_rows(leads: list[Lead]) -> list[dict]:
    return [{"lead_id": l.lead_id, "ts": fmt_ts(l.ts), "visitor_id": l.visitor_id, "click_id": l.click_id,
             "email": l.email, "phone": l.phone, "source": l.source, "manager": l.manager.name,
             "first_response_ts": fmt_ts(l.first_response) if l.first_response else ""} for l in leads]


def deal_event_rows(deals: list[Deal]) -> list[dict]:
    events = sorted((e for d in deals for e in d.events), key=lambda e: (e.ts, e.deal_id))
    return [{"event_id": f"de-{n:06d}", "deal_id": e.deal_id, "lead_id": e.lead_id, "ts": fmt_ts(e.ts),
             "type": e.type, "stage": e.stage, "amount": fmt_money(e.amount) if e.amount is not None else "",
             "currency": CURRENCY, "margin": fmt_money(e.margin) if e.margin is not None else "",
             "loss_reason": e.loss_reason, "manager": e.manager, "offer": e.offer}
            for n, e in enumerate(events, start=1)]


def order_rows(orders: list[Order]) -> list[dict]:
    return [{"order_id": o.order_id, "ts": fmt_ts(o.ts), "lead_id": o.lead_id, "email": o.email,
             "phone": o.phone, "amount": fmt_money(o.amount), "currency": CURRENCY,
             "margin": fmt_money(o.margin)} for o in orders]


# ---------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------

def print_summary(out: Path, counts: dict, costs: list[dict], leads: list[Lead], deals: list[Deal],
                  orders: list[Order]) -> None:
    print(f"Wrote {out}/")
    for name, n in counts.items():
        print(f"  {name:<18} {n:>7} rows")
    by_platform = defaultdict(float)
    by_campaign = defaultdict(float)
    for row in costs:
        by_platform[row["platform"]] += float(row["cost"])
        by_campaign[row["campaign_name"]] += float(row["cost"])
    print("Ad cost (UAH):")
    for platform, cost in by_platform.items():
        print(f"  {platform:<18} {cost:>12,.2f}")
    won = [d for d in deals if d.outcome == "won"]
    revenue = sum(d.amount for d in won)
    margin = sum(d.margin for d in won)
    repeat = [o for o in orders if not any(o.ts == d.won_ts and o.lead_id == d.lead.lead_id for d in won)]
    print(f"Won deals: {len(won)} of {len(leads)} leads ({len(won) / len(leads):.0%}), "
          f"revenue {revenue:,.2f} UAH, margin {margin:,.2f} UAH")
    print(f"Repeat orders: {len(repeat)}, revenue {sum(o.amount for o in repeat):,.2f} UAH")

    # Diagnostic: won margin per channel against its spend, credited to the last
    # non-direct touch before the lead and, for comparison, to the first touch.
    # Lets the demo's attribution output be sanity-checked (see README.md).
    print("Channel          leads  won   margin(last)  won   margin(first)     cost  last/cost first/cost")
    last = defaultdict(lambda: [0, 0, 0.0])
    first = defaultdict(lambda: [0, 0, 0.0])
    for lead in leads:
        last[lead.channel][0] += 1
        first[lead.first_channel][0] += 1
    for d in won:
        for stats, key in ((last, d.lead.channel), (first, d.lead.first_channel)):
            stats[key][1] += 1
            stats[key][2] += d.margin
    for key in [c.key for c in CHANNELS] + ["offline"]:
        cost = by_campaign[CAMPAIGN_BY_KEY[key].name] if key in CAMPAIGN_BY_KEY else 0.0
        ratios = [f"{s[key][2] / cost:9.2f}" if cost else "        -" for s in (last, first)]
        print(f"  {key:<15} {last[key][0]:>4} {last[key][1]:>4} {last[key][2]:>13,.0f} "
              f"{first[key][1]:>4} {first[key][2]:>14,.0f} {cost:>8,.0f}  {ratios[0]}  {ratios[1]}")
    print(f"  {'tt_awareness':<15} {by_campaign[CAMPAIGN_BY_KEY['tt_awareness'].name]:>61,.0f}  (no touchpoints)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    rng = Rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)

    journeys = generate_journeys(rng)
    leads = generate_leads(rng, journeys)
    deals = generate_deals(rng, leads)
    orders = generate_orders(rng, deals)
    touches = [t for j in journeys for t in j.touches]
    costs = generate_ad_costs(rng, touches)

    tables = {
        "touchpoints.csv": (TOUCHPOINT_COLUMNS, touchpoint_rows(rng, journeys)),
        "leads.csv": (LEAD_COLUMNS, lead_rows(leads)),
        "deal_events.csv": (DEAL_EVENT_COLUMNS, deal_event_rows(deals)),
        "orders.csv": (ORDER_COLUMNS, order_rows(orders)),
        "ad_costs.csv": (AD_COST_COLUMNS, costs),
    }
    for name, (columns, rows) in tables.items():
        write_csv(args.out / name, columns, rows)
    print_summary(args.out, {n: len(r) for n, (_, r) in tables.items()}, costs, leads, deals, orders)


if __name__ == "__main__":
    main()
