"""Page-load benchmark of the web dashboard for a study with 100,000 trials.

Builds an ASHA study in-process through the service (a memory journal, every
epoch reported, so learning curves are real), serves it with the dashboard,
and drives Debian's chromium through Playwright. Measured, for the large study
and for a small baseline study (1,000 trials) in the same run:

- first contentful paint, summary drawn, first table page drawn, all charts drawn
  (User Timing marks the page sets, in ms since navigation start), on the first
  load after the server started (cold: the model is built from every trial) and
  on a reload (warm);
- a table page: sort by value (click to drawn), next page, a filter;
- live update: a Report made in the service until the open page shows its
  journal position;
- in-process, without the browser (`ModelCache`, as the dashboard uses it): the
  model built from every trial, then after one more Report the summary, a
  table page, and each chart recomputed (any-time curve first: it gathers the
  rung results the next ones reuse).

    .venv/bin/python benchmarks/dashboard_load.py [--trials 100000] [--baseline 1000] [--write-docs]

`--write-docs` writes the tables to docs/generated/dashboard_load.md.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from rung.core.space import Categorical, Float, Int, SearchSpace
from rung.core.study import StudySpec
from rung.core.types import Budget, Decision, JobKind
from rung.server.dashboard.model import ModelCache
from rung.server.http import start_dashboard
from rung.server.service import IssuedJob, StudyService
from rung.server.storage import MemoryJournal

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_report.py
from _report import Fragment, add_write_docs_flag  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
OPEN_JOBS = 6  # left running: 3 for the live update, 2 in-process, 1 so that the study never ends (which re-sends every trial)
WAIT_MS = 120_000  # a wait this long means the page is broken, not slow


def objective(config: dict[str, Any], epoch: int) -> float:
    lr = config["lr"]
    return 0.1 + abs(math.log10(lr) + 2.5) / 3 / epoch**0.5 + (0.02 if config["opt"] == "sgd" else 0)


def build_study(service: StudyService, name: str, trials: int) -> list[IssuedJob]:
    """Runs an ASHA study to `trials` trials; returns OPEN_JOBS jobs still running."""
    space = SearchSpace({"lr": Float(1e-5, 1.0, log=True), "width": Int(16, 512),
                         "opt": Categorical(("sgd", "adam", "rmsprop"))})
    service.create_study(StudySpec(name, space, budget=Budget(max_trials=trials)))
    open_jobs: list[IssuedJob] = []
    while True:
        job = service.suggest(name, "bench-worker", "")
        if job.job.kind not in (JobKind.START, JobKind.RESUME):
            return open_jobs
        if len(open_jobs) < OPEN_JOBS and job.job.trial_id >= trials - OPEN_JOBS:
            open_jobs.append(job)
            continue
        for epoch in range(job.job.resume_from + 1, job.job.milestone + 1):
            decision, _ = service.report(
                name, job.job.trial_id, job.lease_id, epoch, objective(dict(job.job.config), epoch)
            )
            if decision is not Decision.CONTINUE:
                break


def marks(page: Page) -> dict[str, float]:
    return page.evaluate("""() => {
        const at = n => { const e = performance.getEntriesByName(n); return e.length ? e[e.length - 1].startTime : null; };
        return { fcp: at("first-contentful-paint"), summary: at("rung:summary"),
                 table: at("rung:table"), charts: at("rung:charts") };
    }""")


def load(page: Page, url: str | None = None) -> dict[str, float]:
    """Opens `url` (None: reloads) and waits for every chart; returns the page's timings."""
    if url is None:
        page.reload()
    else:
        page.goto(url)
    page.wait_for_function("() => document.body.dataset.chartsSeq !== undefined", timeout=WAIT_MS)
    return marks(page)


def timed(action: Any, page: Page, ready: str) -> float:
    start = time.perf_counter()
    action()
    page.wait_for_function(f"() => {ready}", timeout=WAIT_MS)
    return (time.perf_counter() - start) * 1000


def measure(service: StudyService, name: str, open_jobs: list[IssuedJob], url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile, sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1300, "height": 900},
        )
        page = browser.new_page()
        out: dict[str, Any] = {"cold": load(page, f"{url}#/study/{name}")}
        warm = [load(page) for _ in range(3)]
        out["warm"] = {k: statistics.median(w[k] for w in warm) for k in warm[0]}
        total = page.evaluate("document.body.dataset.tableReady").split(":")[3]
        sort, nxt, filt = [], [], []
        for i in range(3):
            order = "asc" if i % 2 == 0 else "desc"
            sort.append(timed(lambda: page.click("th[data-sort=value]"), page,
                              f"document.body.dataset.tableReady === '0:value:{order}:{total}:'"))
            nxt.append(timed(lambda: page.click("#next"), page,
                             f"document.body.dataset.tableReady === '50:value:{order}:{total}:'"))
        for i, text in enumerate(["opt=adam", "opt=sgd", ""]):
            filt.append(timed(lambda: page.fill("#filter", text), page,
                              f"document.body.dataset.tableReady.startsWith('0:') && "
                              f"document.body.dataset.tableReady.endsWith(':{text}')"))
        out["table_ms"] = {"sort": statistics.median(sort), "next_page": statistics.median(nxt),
                           "filter_incl_250ms_debounce": statistics.median(filt)}
        live = []
        for job in open_jobs[:3]:
            start = time.perf_counter()
            service.report(name, job.job.trial_id, job.lease_id, 1, 0.5)
            seq = service.journal_position(name)
            page.wait_for_function(f"() => +document.body.dataset.seq >= {seq}", timeout=WAIT_MS)
            live.append((time.perf_counter() - start) * 1000)
        out["live_update_ms"] = statistics.median(live)
        browser.close()
    return out


LABELS = {"fcp": "first contentful paint", "summary": "summary drawn", "table": "first table page drawn",
          "charts": "all charts drawn", "sort": "sort by value", "next_page": "next page",
          "filter_incl_250ms_debounce": "filter (with the 250 ms debounce)"}
CHARTS = ("anytime", "curves", "rungs", "importance", "parallel")  # anytime first: it gathers rung results


def in_process(service: StudyService, name: str, jobs: list[IssuedJob]) -> dict[str, float]:
    """Seconds: the model built from every trial; after a first Report (with jobs[0]) that
    fills the model's caches, a second one (jobs[1]) and then the summary, a table page
    and each chart, as the dashboard computes them."""
    cache = ModelCache(service)
    out = {}
    start = time.perf_counter()
    cache.read(name, lambda m: None)
    out["model built from every trial"] = time.perf_counter() - start
    for n, job in enumerate(jobs[:2]):
        service.report(name, job.job.trial_id, job.lease_id, 1, 0.5)
        start = time.perf_counter()
        cache.read(name, lambda m: m.summary(time.time()))
        summary = time.perf_counter() - start
        start = time.perf_counter()
        cache.read(name, lambda m: m.page(0, 50, "value", False, "", ""))
        page = time.perf_counter() - start
        if n == 0:
            out["first summary after the build"], out["first table page after the build"] = summary, page
    out["summary after a later report"], out["table page after a later report"] = summary, page
    data = cache.read(name, lambda m: m.chart_data())
    for chart in CHARTS:
        start = time.perf_counter()
        getattr(data, chart)()
        out[f"chart: {chart}"] = time.perf_counter() - start
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    add_write_docs_flag(parser)
    args = parser.parse_args()
    service = StudyService(MemoryJournal(), lease_seconds=24 * 3600)  # open jobs outlive the build
    results, events, direct = {}, {}, {}
    for name, n in (("baseline", args.baseline), ("large", args.trials)):
        start = time.perf_counter()
        open_jobs = build_study(service, name, n)
        events[name] = service.journal_position(name)
        print(f"built {name}: {n} trials, {events[name]} events "
              f"in {time.perf_counter() - start:.0f} s", flush=True)
        server = start_dashboard(service)
        try:
            results[name] = measure(service, name, open_jobs, f"http://127.0.0.1:{server.port}/")
        finally:
            server.stop()
        print(name, results[name], flush=True)
        direct[name] = in_process(service, name, open_jobs[3:5])
        print(name, direct[name], flush=True)
    out = Fragment("dashboard_load")
    out.print(f"\nASHA studies (r_max 9, eta 3, every epoch reported) of {args.baseline:,} trials "
              f"({events['baseline']:,} journal events) and {args.trials:,} trials "
              f"({events['large']:,} journal events), a memory journal; Debian's chromium, headless, "
              "through Playwright:")
    out.print()
    out.print("| measurement (ms) | %s trials | %s trials | ratio |" % (f"{args.baseline:,}", f"{args.trials:,}"))
    out.print("|---|---:|---:|---:|")
    rows = [(f"{kind}: {LABELS[k]}", results["baseline"][kind][k], results["large"][kind][k])
            for kind in ("cold", "warm") for k in ("fcp", "summary", "table", "charts")]
    rows += [(f"table: {LABELS[k]}", results["baseline"]["table_ms"][k], results["large"]["table_ms"][k])
             for k in results["large"]["table_ms"]]
    rows.append(("live update: Report to page", results["baseline"]["live_update_ms"],
                 results["large"]["live_update_ms"]))
    for label, small, large in rows:
        out.print(f"| {label} | {small:.0f} | {large:.0f} | {large / small:.1f} |")
    out.print()
    out.print("In-process, the same studies (`ModelCache`, no browser, no HTTP), after the page loads above:")
    out.print()
    out.print("| computed (ms) | %s trials | %s trials |" % (f"{args.baseline:,}", f"{args.trials:,}"))
    out.print("|---|---:|---:|")
    for label in direct["large"]:
        out.print(f"| {label} | {direct['baseline'][label] * 1e3:.1f} | {direct['large'][label] * 1e3:.1f} |")
    out.write_if(args.write_docs)


if __name__ == "__main__":
    main()
