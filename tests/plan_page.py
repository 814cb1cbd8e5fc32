#!/usr/bin/env python3
"""The budget planner's HTML page rendered in a real browser (Debian's `chromium`, headless).

On the demo lake (`throughline demo --keep DIR`) and on a user's CSV whose channel names
try to break out of the page:
- the page names nothing to load (no `src`, `href`, `url()`, link or script) and renders (a
  screenshot of the size asked for) with no console message;
- the DOM chromium built has one chart per channel row, each with as many week dots as the
  chart says it has weeks, the fitted curve and the current and proposed markers;
- a channel named `<script>…` stays text: the built DOM has no script element and shows
  the name.

    python tests/plan_page.py --cli target/debug/throughline --lake DEMO_LAKE
"""
import argparse
import datetime
import html.parser
import os
import shutil
import struct
import subprocess
import sys
import tempfile

failures = 0


def check(name, ok, detail=""):
    global failures
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
    failures += 0 if ok else 1


class Dom(html.parser.HTMLParser):
    """What the checks read from the DOM: charts with their dots and lines, table rows."""

    def __init__(self):
        super().__init__()
        self.charts, self.rows, self.scripts, self.text = [], 0, 0, []
        self.in_tbody = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "svg":
            self.charts.append({"channel": attrs.get("data-channel"), "weeks": int(attrs.get("data-weeks", -1)),
                                "dots": 0, "fit": 0, "current": 0, "proposed": 0})
        elif tag == "circle" and self.charts:
            self.charts[-1]["dots"] += "week" in attrs.get("class", "")
        elif tag in ("polyline", "line") and self.charts:
            cls = attrs.get("class", "")
            for key in ("fit", "current", "proposed"):
                self.charts[-1][key] += cls == key
        elif tag == "tbody":
            self.in_tbody = True
        elif tag == "tr" and self.in_tbody:
            self.rows += 1
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag):
        if tag == "tbody":
            self.in_tbody = False

    def handle_data(self, data):
        self.text.append(data)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    return struct.unpack(">II", head[16:24]) if head[:8] == b"\x89PNG\r\n\x1a\n" else (0, 0)


def render(browser, page, scratch):
    """The DOM chromium built, its log, and the screenshot's size."""
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              "--enable-logging=stderr", "--v=0", "--window-size=1280,1800"]
    url = "file://" + os.path.abspath(page)
    dom = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True, timeout=120)
    shot = os.path.join(scratch, "page.png")
    subprocess.run(common + [f"--screenshot={shot}", url], capture_output=True, text=True, timeout=120)
    return dom.stdout, dom.stderr, png_size(shot) if os.path.exists(shot) else (0, 0)


def console_messages(log):
    """Lines chromium logs for the page itself: console output and failed loads (its own
    start-up noise, e.g. no D-Bus in a container, is not the page's)."""
    return [line for line in log.splitlines()
            if "CONSOLE" in line or "Failed to load" in line or "net::ERR" in line or "Refused" in line]


def plan_page(cli, args, out):
    done = subprocess.run([cli] + args + ["--format", "html", "--out", out, "--bootstrap", "10"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"throughline {' '.join(args)} failed: {done.stderr}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli", required=True)
    parser.add_argument("--lake", required=True, help="a lake with the demo tenant, attributed")
    parser.add_argument("--browser", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        demo = os.path.join(scratch, "demo.html")
        plan_page(args.cli, ["--lake", args.lake, "plan", "--tenant", "demo", "--budget", "110000"], demo)
        with open(demo) as f:
            raw = f.read()
        loads = [w for w in ("src=", "href=", "url(", "@import", "<link", "<script") if w in raw]
        check("the page asks for nothing from elsewhere (no src, href, url(), link or script)", not loads, loads)
        dom_text, log, size = render(args.browser, demo, scratch)
        dom = Dom()
        dom.feed(dom_text)
        check("the demo plan renders to a 1280x1800 screenshot", size == (1280, 1800), size)
        check("no console message and no failed request", not console_messages(log), console_messages(log))
        check("one chart per channel row", len(dom.charts) == dom.rows > 0, (len(dom.charts), dom.rows))
        for chart in dom.charts:
            check(f"{chart['channel']}: {chart['weeks']} week dots, the curve, current and proposed marked",
                  chart["weeks"] > 0 and chart["dots"] == chart["weeks"] and chart["fit"] == 1
                  and chart["current"] == 1 and chart["proposed"] == 1, chart)
        check("the caveats are on the page", "attribution is not incrementality" in "".join(dom.text))

        # A user's series whose channel names are markup.
        series = os.path.join(scratch, "series.csv")
        hostile = "<script>alert(1)</script>"
        with open(series, "w") as f:
            f.write("date,channel,spend,margin\n")
            for day in range(84):
                when = datetime.date(2026, 1, 1) + datetime.timedelta(days=day)
                for name, base in ((hostile, 100.0), ('Brand "Q4" & co', 60.0)):
                    spend = base * (1.3 if (day // 7) % 2 else 0.7)
                    quoted = name.replace('"', '""')
                    f.write(f'{when},"{quoted}",{spend:.2f},{spend * 2.5:.2f}\n')
        hostile_page = os.path.join(scratch, "hostile.html")
        plan_page(args.cli, ["plan", "--input", series, "--budget", "4480"], hostile_page)
        dom_text, log, _ = render(args.browser, hostile_page, scratch)
        dom = Dom()
        dom.feed(dom_text)
        check("a channel named <script> is text, not a script", dom.scripts == 0 and hostile in "".join(dom.text),
              (dom.scripts, dom_text[:400]))
        check("names with quotes and & survive", any(c["channel"] == 'Brand "Q4" & co' for c in dom.charts),
              [c["channel"] for c in dom.charts])
        check("no console message on the hostile page", not console_messages(log), console_messages(log))
    print(f"{failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
