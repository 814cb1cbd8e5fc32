#!/usr/bin/env python3
"""Jobs, imports, compaction and readers at the same time on one tenant, and jobs killed
with SIGKILL (issue #14, items 13 and 14). Every check is on the data the lake serves
meanwhile or afterwards, never on a timing:

1. Two jobs at once. Each round imports fresh touchpoints (and re-imports stored ones, so
   the jobs have files to compact), then starts two `throughline attribute` together.
   Each succeeds or fails with a message (exit 1 and stderr, no panic, no signal); at
   least one succeeds; the touchpoints hold every imported event_id once; attribution
   repeats no (conversion, model, touchpoint) row and its credits sum to 1 per conversion
   and model. After the last round a lone job must compute the same attribution.
2. Imports during a job. Fresh and already stored touchpoints are imported while a job
   runs: every import succeeds and stores exactly its new rows, the job succeeds, nothing
   is lost or doubled, and the next job succeeds.
3. Readers during jobs. A writer imports touchpoints, runs jobs and `lake optimize` in
   turn while `kpi --live`, `kpi`, `ltv`, `funnel`, `sql` and the HTTP API's
   /v1/kpi?live=true, /v1/kpi, /v1/ltv and /v1/funnel are read over and over. Every read
   succeeds; `sql` sees each touchpoint once, a touchpoint count the lake really held
   (never decreasing), leads and deal events exactly as stored, and sound attribution.
   How many reads overlapped a job or a compaction is printed (at least one must).
4. kill -9 during a job, at delays spread over a job's duration measured at the start,
   each after fresh imports (so the kill can land in the compaction): the touchpoints are
   unchanged, attribution is the previous version's or the complete new one, the
   rollup KPIs equal the live ones, and the next job succeeds.

Usage: python tests/concurrency.py --cli path/to/throughline [--rounds 3]
"""

import argparse
import csv
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samplesdata"
TENANT = "kitchens"
PHONE_COUNTRY = "380"
OTHER_INPUTS = ["leads", "deal_events", "orders", "ad_costs"]
# Touchpoints imported at the start, and in each later import of fresh ones.
FIRST_TOUCHPOINTS = 3000
FRESH_TOUCHPOINTS = 200
results = {"passed": 0, "failed": 0}

# One `throughline sql` run: the facts every scenario checks, read from one snapshot.
LAKE_FACTS = """
SELECT
  (SELECT count(*) FROM touchpoints) AS touchpoints,
  (SELECT count(DISTINCT event_id) FROM touchpoints) AS touchpoint_ids,
  (SELECT count(*) FROM leads) AS leads,
  (SELECT count(*) FROM deal_events) AS deal_events,
  (SELECT count(*) FROM attribution) AS attribution_rows,
  (SELECT count(*) FROM (SELECT conversion_id, model, event_id, count(*) AS c FROM attribution
                         GROUP BY 1, 2, 3 HAVING count(*) > 1)) AS repeated_groups,
  (SELECT count(*) FROM (SELECT conversion_id, model FROM attribution
                         GROUP BY 1, 2 HAVING abs(sum(credit) - 1) > 1e-9)) AS credits_off,
  (SELECT count(DISTINCT model) FROM attribution) AS models,
  (SELECT count(DISTINCT conversion_id) FROM attribution) AS conversions,
  (SELECT count(DISTINCT event_id) FROM attribution) AS credited_touchpoints,
  (SELECT sum(revenue_credit) FROM attribution) AS revenue_credit,
  (SELECT count(DISTINCT revenue) FROM (SELECT model, sum(revenue_credit) AS revenue
                                        FROM attribution GROUP BY model)) AS model_revenues
"""
# What identifies one job's result (same touchpoints in, same values out).
RESULT_FACTS = ["attribution_rows", "conversions", "credited_touchpoints", "revenue_credit"]


def check(name, condition, detail=""):
    if condition:
        results["passed"] += 1
        print(f"ok   {name}")
    else:
        results["failed"] += 1
        print(f"FAIL {name} {detail}")


class Lake:
    """`throughline` on one lake directory, for the test's tenant."""

    def __init__(self, cli, root):
        self.cli = cli
        self.root = root
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("THROUGHLINE_")}

    def argv(self, *args):
        return [self.cli, "--lake", str(self.root), *args]

    def run(self, *args):
        return subprocess.run(self.argv(*args), capture_output=True, text=True, env=self.env)

    def start(self, *args):
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=self.env)

    def start_job(self):
        return self.start("attribute", "--tenant", TENANT)

    def run_job(self):
        return self.run("attribute", "--tenant", TENANT)

    def log_entries(self, table):
        """How many commits the table's Delta log holds."""
        return len(list((self.root / "tables" / table / "_delta_log").glob("*.json")))

    def commits_since(self, table, first):
        """The table's commits from version `first` on, as `v5 OPTIMIZE (read v4, +91 -182 files)`."""
        described = []
        for entry in sorted((self.root / "tables" / table / "_delta_log").glob("*.json"))[first:]:
            actions = [json.loads(line) for line in entry.read_text().splitlines() if line.strip()]
            info = next((a["commitInfo"] for a in actions if "commitInfo" in a), {})
            adds = sum("add" in a for a in actions)
            removes = sum("remove" in a for a in actions)
            read = f"read v{info['readVersion']}, " if info.get("readVersion") is not None else ""
            described.append(f"v{int(entry.stem)} {info.get('operation')} ({read}+{adds} -{removes} files)")
        return described

    def facts(self):
        """LAKE_FACTS as a dict of strings, or why `throughline sql` could not answer."""
        out = self.run("sql", "--tenant", TENANT, "--format", "csv", LAKE_FACTS)
        rows = list(csv.DictReader(io.StringIO(out.stdout)))
        if out.returncode != 0 or len(rows) != 1:
            return f"exit {out.returncode}: {out.stdout.strip()[-300:]} {out.stderr.strip()[-800:]}"
        return rows[0]


class Ended:
    """How a process ended: exit code (negative: the signal that stopped it) and output."""

    def __init__(self, code, stdout, stderr):
        self.code, self.stdout, self.stderr = code, stdout, stderr

    @classmethod
    def of(cls, proc):
        stdout, stderr = proc.communicate()
        return cls(proc.returncode, stdout, stderr)

    @classmethod
    def of_run(cls, completed):
        return cls(completed.returncode, completed.stdout, completed.stderr)

    def succeeded(self):
        return self.code == 0

    def failed_cleanly(self):
        """Exit 1 with a message: an error the program reported, not a panic or a signal."""
        return self.code == 1 and bool(self.stderr.strip()) and "panicked" not in self.stderr

    def summary(self):
        if self.code == 0:
            return "succeeded"
        if self.code < 0:
            return f"stopped by signal {-self.code}"
        first = next((line for line in self.stderr.splitlines() if line.strip()), "(no message)")
        return f"failed with exit {self.code}: {first.strip()[:300]}"

    def detail(self):
        return f"exit {self.code}; stderr: {self.stderr.strip()[-1500:]}"


class TouchpointFeed:
    """Touchpoints to import: the sample's rows in a fixed shuffled order (so each batch
    spreads over the whole period's date partitions), then the same rows again under new
    event_ids once the sample is used up. Knows every event_id stored so far."""

    def __init__(self, work):
        with open(SAMPLES / "touchpoints.csv", newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            self.columns = reader.fieldnames
            self.sample = list(reader)
        random.Random(14).shuffle(self.sample)
        self.work = work
        self.taken = 0
        self.batches = []
        self.stored = set()

    def fresh(self, n):
        """A CSV file of n touchpoints never imported before, and their event_ids."""
        rows = []
        for _ in range(n):
            generation, i = divmod(self.taken, len(self.sample))
            row = dict(self.sample[i])
            if generation:
                row["event_id"] = f"{row['event_id']}-again{generation}"
            rows.append(row)
            self.taken += 1
        path = self.work / f"touchpoints-{len(self.batches):03}.csv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(rows)
        batch = (path, {r["event_id"] for r in rows})
        self.batches.append(batch)
        return batch

    def stored_batch(self, pick):
        """A batch already stored, to import again (`pick` chooses among them)."""
        stored = [b for b in self.batches if b[1] <= self.stored]
        return stored[pick % len(stored)]


def import_touchpoints(lake, path):
    """Imports one file; the exit, and (stored, already in the lake, rejected) if reported."""
    out = lake.run("import", "--tenant", TENANT, "--table", "touchpoints", str(path))
    match = re.search(r"(\d+) rows stored in touchpoints, (\d+) already in the lake, (\d+) rejected", out.stdout)
    counts = tuple(int(g) for g in match.groups()) if match else None
    return Ended.of_run(out), counts


def import_fresh(lake, feed, when, n=FRESH_TOUCHPOINTS):
    """Imports n new touchpoints: the import succeeds and stores every one of them."""
    path, ids = feed.fresh(n)
    ended, counts = import_touchpoints(lake, path)
    check(f"{when}: an import of {len(ids)} new touchpoints stores them all",
          ended.succeeded() and counts == (len(ids), 0, 0), f"{counts}; {ended.detail()}")
    if ended.succeeded():
        feed.stored |= ids


def import_again(lake, feed, when, pick=0):
    """Imports a stored batch again: it succeeds and reports every row as already stored."""
    path, ids = feed.stored_batch(pick)
    ended, counts = import_touchpoints(lake, path)
    check(f"{when}: importing {len(ids)} stored touchpoints again stores none", ended.succeeded()
          and counts == (0, len(ids), 0), f"{counts}; {ended.detail()}")


def read_facts(lake, when):
    facts = lake.facts()
    check(f"{when}: `throughline sql` answers", isinstance(facts, dict), str(facts))
    return facts if isinstance(facts, dict) else None


def check_touchpoints(facts, expected, when):
    rows, ids = int(facts["touchpoints"]), int(facts["touchpoint_ids"])
    check(f"{when}: touchpoints hold the {expected} imported event_ids, each once", rows == ids == expected,
          f"{rows} rows, {ids} distinct event_ids")


def check_attribution(facts, when):
    check(f"{when}: attribution repeats no (conversion_id, model, event_id)", facts["repeated_groups"] == "0",
          f"{facts['repeated_groups']} repeated groups")
    check(f"{when}: credits of every conversion sum to 1 in every model", facts["credits_off"] == "0",
          f"{facts['credits_off']} (conversion, model) pairs off")
    check(f"{when}: attribution has the six models, each crediting the same revenue",
          facts["models"] == "6" and facts["model_revenues"] == "1",
          f"{facts['models']} models, {facts['model_revenues']} different revenue totals")


def result_of(facts):
    return {k: facts[k] for k in RESULT_FACTS}


def sound_lake(lake, feed, when):
    """The facts after a writer ran: every stored touchpoint once, sound attribution."""
    facts = read_facts(lake, when)
    if facts:
        check_touchpoints(facts, len(feed.stored), when)
        check_attribution(facts, when)
    return facts


def set_up(lake, feed):
    """A tenant with the sample's leads, deals, orders and costs and part of its
    touchpoints, attributed once; returns how long that job took (for scenario 4)."""
    print("# setup")
    ended = Ended.of_run(lake.run("tenants", "add", "--tenant", TENANT, "--name", "Kukhni Dnipro"))
    check(f"tenant {TENANT} is added", ended.succeeded(), ended.detail())
    for table in OTHER_INPUTS:
        ended = Ended.of_run(lake.run("import", "--tenant", TENANT, "--table", table,
                                      "--phone-country", PHONE_COUNTRY, str(SAMPLES / f"{table}.csv")))
        check(f"the sample's {table} are imported", ended.succeeded(), ended.detail())
    import_fresh(lake, feed, "setup", FIRST_TOUCHPOINTS)
    import_fresh(lake, feed, "setup")
    started = time.monotonic()
    ended = Ended.of_run(lake.run_job())
    seconds = time.monotonic() - started
    check("the first job succeeds", ended.succeeded(), ended.detail())
    print(f"     a job takes {seconds:.1f} s here (compaction included)")
    sound_lake(lake, feed, "after the first job")
    return seconds


def two_jobs_at_once(lake, feed, rounds):
    print("# two jobs at once")
    last = None
    for r in range(1, rounds + 1):
        when = f"round {r}"
        import_fresh(lake, feed, when)
        import_again(lake, feed, when, pick=r)
        first = lake.log_entries("touchpoints")
        jobs = [lake.start_job(), lake.start_job()]
        ended = [Ended.of(job) for job in jobs]
        print(f"     touchpoints commits of the two jobs: {', '.join(lake.commits_since('touchpoints', first))}")
        for i, e in enumerate(ended, 1):
            check(f"{when}, job {i} {e.summary()}", e.succeeded() or e.failed_cleanly(), e.detail())
        check(f"{when}: at least one of the two jobs succeeds", any(e.succeeded() for e in ended))
        last = sound_lake(lake, feed, f"{when}, after both jobs")
    ended = Ended.of_run(lake.run_job())
    check("a lone job after the races succeeds", ended.succeeded(), ended.detail())
    alone = sound_lake(lake, feed, "after the lone job")
    if last and alone:
        check("the last race committed what a lone job computes from the same touchpoints",
              result_of(last) == result_of(alone), f"race {result_of(last)} != lone {result_of(alone)}")


def imports_during_a_job(lake, feed, max_imports):
    print("# imports during a job")
    job = lake.start_job()
    during = 0
    for i in range(max_imports):
        if job.poll() is not None:
            break
        when = f"import {i + 1} during the job"
        import_fresh(lake, feed, when)
        import_again(lake, feed, when, pick=i)
        during += 1
    ended = Ended.of(job)
    print(f"     {during} pair(s) of imports started while the job ran")
    check("at least one import started while the job ran", during >= 1)
    check(f"the job that ran beside the imports {ended.summary()}", ended.succeeded(), ended.detail())
    sound_lake(lake, feed, "after the imports and the job")
    ended = Ended.of_run(lake.run_job())
    check("the next job succeeds", ended.succeeded(), ended.detail())
    sound_lake(lake, feed, "after the next job")


class Writer(threading.Thread):
    """Imports fresh touchpoints, runs a job, imports more, runs `lake optimize`, `cycles`
    times. Records each step's span and outcome, and every touchpoint count it committed."""

    def __init__(self, lake, feed, cycles):
        super().__init__()
        self.lake, self.feed, self.cycles = lake, feed, cycles
        self.steps = []  # (name, start, end, Ended)
        self.held_counts = {len(feed.stored)}

    def step(self, name, args):
        started = time.monotonic()
        ended = Ended.of_run(self.lake.run(*args))
        self.steps.append((name, started, time.monotonic(), ended))
        return ended

    def add_touchpoints(self):
        path, ids = self.feed.fresh(FRESH_TOUCHPOINTS)
        ended = self.step("import", ["import", "--tenant", TENANT, "--table", "touchpoints", str(path)])
        if ended.succeeded():
            self.feed.stored |= ids
        self.held_counts.add(len(self.feed.stored))

    def run(self):
        for _ in range(self.cycles):
            self.add_touchpoints()
            self.step("attribute", ["attribute", "--tenant", TENANT])
            self.add_touchpoints()
            self.step("lake optimize", ["lake", "optimize", "--tenant", TENANT])

    def busy_spans(self):
        """When a job or a compaction ran."""
        return [(start, end) for name, start, end, _ in self.steps if name != "import"]


REPORT_READERS = [
    ("kpi --live", ["kpi", "--tenant", TENANT, "--live", "--format", "csv"]),
    ("kpi", ["kpi", "--tenant", TENANT, "--format", "csv"]),
    ("ltv", ["ltv", "--tenant", TENANT, "--format", "csv"]),
    ("funnel", ["funnel", "--tenant", TENANT, "--format", "csv"]),
]
HTTP_READERS = ["/v1/kpi?live=true", "/v1/kpi", "/v1/ltv", "/v1/funnel"]


class Read:
    """One reader run: which reader, when (to tell whether a writer ran meanwhile), whether
    it answered, and for `sql` the facts it saw."""

    def __init__(self, reader, start, end, ok, detail, facts=None):
        self.reader, self.start, self.end, self.ok, self.detail, self.facts = reader, start, end, ok, detail, facts
        self.overlapped = False


def read_report(lake, reader, args):
    """One run of a report command: it must exit 0 and print something."""
    started = time.monotonic()
    ended = Ended.of_run(lake.run(*args))
    return Read(reader, started, time.monotonic(), ended.succeeded() and bool(ended.stdout.strip()),
                ended.detail())


def read_sql(lake):
    """One `throughline sql` run of LAKE_FACTS; its facts are checked afterwards."""
    started = time.monotonic()
    facts = lake.facts()
    ok = isinstance(facts, dict)
    return Read("sql", started, time.monotonic(), ok, "" if ok else facts, facts if ok else None)


def read_http(base, key, path):
    started = time.monotonic()
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=300) as answer:
            status, body = answer.status, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read().decode(errors="replace")
    except OSError as e:
        status, body = None, str(e)
    return Read(f"HTTP {path}", started, time.monotonic(), status == 200, f"HTTP {status}: {body[:500]}")


def start_server(lake, log):
    key = lake.run("keys", "create", "--tenant", TENANT, "--scope", "read").stdout.split()[-1]
    server = subprocess.Popen(lake.argv("serve", "--addr", "127.0.0.1:0"), stdout=subprocess.PIPE,
                              stderr=log, text=True, env=dict(lake.env, THROUGHLINE_LOG="warn"))
    line = server.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    if not match:
        server.kill()
        server.wait()
        return None, None, key
    return server, match.group(1).rstrip("/"), key


def readers_during_jobs(lake, feed, cycles, work):
    print("# readers during jobs")
    stored = read_facts(lake, "before the readers")
    if not stored:
        return
    log = open(work / "serve.log", "w")
    server, base, key = start_server(lake, log)
    check("`throughline serve` starts", server is not None, (work / "serve.log").read_text()[-800:])
    writer = Writer(lake, feed, cycles)
    report_reads, sql_reads, http_reads = [], [], []
    readers = [
        # The reports one after the other; `sql` on its own, so that it reads many times.
        (lambda: [read_report(lake, name, args) for name, args in REPORT_READERS], report_reads),
        (lambda: [read_sql(lake)], sql_reads),
    ]
    if server:
        readers.append((lambda: [read_http(base, key, path) for path in HTTP_READERS], http_reads))
    read_while_writing(writer, readers)
    if server:
        server.terminate()
        server.wait()
    log.close()

    for name in ("import", "attribute", "lake optimize"):
        steps = [ended for step, _, _, ended in writer.steps if step == name]
        bad = [ended for ended in steps if not ended.succeeded()]
        check(f"writer: all {len(steps)} `{name}` runs succeed", steps and not bad,
              "; ".join(f"{e.summary()} ({e.detail()})" for e in bad[:2]))
    check_reads(report_reads + sql_reads + http_reads, writer.busy_spans())
    check_sql_reads([r.facts for r in sql_reads if r.facts], stored, writer.held_counts)
    sound_lake(lake, feed, "after the writer")


def read_while_writing(writer, readers):
    """Runs the writer, and each reader (a function doing some reads, and the list to keep
    them in) over and over in its own thread until the writer is done."""

    def keep_reading(read_once, into):
        while writer.is_alive():
            into.extend(read_once())

    threads = [threading.Thread(target=keep_reading, args=reader) for reader in readers]
    writer.start()
    for thread in threads:
        thread.start()
    for thread in [writer] + threads:
        thread.join()


def check_reads(reads, busy_spans):
    """Every read answered; at least one ran while a job or a compaction did."""
    for read in reads:
        read.overlapped = any(read.start < end and start < read.end for start, end in busy_spans)
    overlapped = sum(r.overlapped for r in reads)
    print(f"     {len(reads)} reads, {overlapped} of them while a job or `lake optimize` ran")
    check("at least one read overlapped a job or a compaction", overlapped >= 1)
    for reader in [r for r, _ in REPORT_READERS] + ["sql"] + [f"HTTP {p}" for p in HTTP_READERS]:
        runs = [r for r in reads if r.reader == reader]
        failed = [r for r in runs if not r.ok]
        check(f"{reader}: all {len(runs)} reads answer ({sum(r.overlapped for r in runs)} during a writer)",
              runs and not failed,
              f"{len(failed)} failed ({sum(r.overlapped for r in failed)} during a writer); first: "
              f"{failed[0].detail if failed else ''}")


def check_sql_reads(seen, stored, held_counts):
    """What the `sql` reader saw while the writer ran."""
    counts = [int(f["touchpoints"]) for f in seen]
    check(f"sql reads: every touchpoint count ({len(set(counts))} different) is one the lake held",
          set(counts) <= held_counts, f"{sorted(set(counts) - held_counts)} not in {sorted(held_counts)}")
    check("sql reads: touchpoint counts never go down", counts == sorted(counts), str(counts))
    check("sql reads: each touchpoint once", all(f["touchpoints"] == f["touchpoint_ids"] for f in seen),
          str([(f["touchpoints"], f["touchpoint_ids"]) for f in seen]))
    for table in ("leads", "deal_events"):
        values = {f[table] for f in seen}
        check(f"sql reads: {table} always count the stored {stored[table]}", values <= {stored[table]},
              str(sorted(values)))
    check("sql reads: attribution never repeats a row and its credits always sum to 1",
          all(f["repeated_groups"] == "0" and f["credits_off"] == "0" and f["models"] == "6" for f in seen),
          str([(f["repeated_groups"], f["credits_off"], f["models"]) for f in seen]))


def kpi_csv(lake, live):
    args = ["kpi", "--tenant", TENANT, "--format", "csv"] + (["--live"] if live else [])
    return Ended.of_run(lake.run(*args))


def kills_during_jobs(lake, feed, job_seconds, kills):
    print("# kill -9 during a job")
    for i in range(kills):
        delay = job_seconds * (i + 0.5) / kills
        when = f"kill {i + 1} ({delay:.1f} s into the job)"
        import_fresh(lake, feed, when)
        before = read_facts(lake, f"{when}, before")
        commits = {table: lake.log_entries(table) for table in ("touchpoints", "attribution")}
        job = lake.start_job()
        time.sleep(delay)
        if job.poll() is None:
            job.send_signal(signal.SIGKILL)
        ended = Ended.of(job)
        made = [table for table, n in commits.items() if lake.log_entries(table) > n]
        print(f"     {when}: the job {'was killed' if ended.code == -signal.SIGKILL else ended.summary()}"
              f" after committing to {', '.join(made) or 'no table'}")
        after = sound_lake(lake, feed, f"{when}, after")
        rollups, live = kpi_csv(lake, live=False), kpi_csv(lake, live=True)
        check(f"{when}: `kpi` (rollups) answers as `kpi --live`",
              rollups.succeeded() and live.succeeded() and rollups.stdout == live.stdout,
              f"rollups: {rollups.stdout[:600]} {rollups.stderr[-400:]}\nlive: {live.stdout[:600]} {live.stderr[-400:]}")
        ended = Ended.of_run(lake.run_job())
        check(f"{when}: the next job succeeds", ended.succeeded(), ended.detail())
        new = sound_lake(lake, feed, f"{when}, after the next job")
        if before and after and new:
            check(f"{when}: attribution was the previous result or the complete new one",
                  result_of(after) in (result_of(before), result_of(new)),
                  f"{result_of(after)} is neither {result_of(before)} nor {result_of(new)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli", required=True, help="the throughline binary")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of two jobs at once and of kills; writer cycles under the readers")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="throughline-concurrency-") as tmp:
        work = Path(tmp)
        lake = Lake(args.cli, work / "lake")
        feed = TouchpointFeed(work)
        job_seconds = set_up(lake, feed)
        two_jobs_at_once(lake, feed, args.rounds)
        imports_during_a_job(lake, feed, max_imports=10)
        readers_during_jobs(lake, feed, max(1, args.rounds - 1), work)
        kills_during_jobs(lake, feed, job_seconds, args.rounds + 1)
    print(f"concurrency: {results['passed']} passed, {results['failed']} failed "
          f"({time.monotonic() - started:.0f} s)")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
