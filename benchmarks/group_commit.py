"""What group commit buys: the service's durable call rate against an in-memory journal.

    .venv/bin/python benchmarks/group_commit.py [--clients 1,4,16,64] [--seconds 4] [--write-docs]

No gRPC here (benchmarks/server_throughput.py measures over the wire, where on
a 2-core machine the Python clients and server compete for the cores): K
threads call the service directly, each as an instantly-training worker
(Suggest, then a Report per epoch), on an ASHA study. The same run measures
the in-memory journal (no I/O: the baseline), SQLite and PostgreSQL (a
throw-away local server), and counts how many events each transaction carried;
from the service's commit metrics (`rung_journal_commit_seconds` and
`rung_journal_wait_seconds`, as the metrics endpoint shows them) it gives the
mean time one transaction took and the mean time an event waited to be durable.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rung.core.space import Float, SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, Decision
from rung.server.journals import open_journal
from rung.server.service import StudyService
from rung.server.storage import Event, Journal, MemoryJournal

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_report.py
from _report import Fragment, add_write_docs_flag  # noqa: E402


class CountingJournal:
    """Counts the transactions and events the commit thread writes."""

    def __init__(self, inner: Journal):
        self.inner, self.batches, self.events = inner, 0, 0

    def append_many(self, events: list[Event]) -> None:
        self.inner.append_many(events)
        self.batches += 1
        self.events += len(events)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def mean_seconds(histogram: Any) -> float:
    """Mean of a prometheus_client Histogram: its _sum over its _count."""
    samples = {s.name.rsplit("_", 1)[-1]: s.value for m in histogram.collect() for s in m.samples}
    return samples["sum"] / samples["count"] if samples.get("count") else float("nan")


def rate(journal: CountingJournal, clients: int, seconds: float) -> tuple[float, float, float]:
    """Calls per second, mean commit seconds, mean wait seconds."""
    service = StudyService(journal)  # type: ignore[arg-type]
    name = f"s{time.monotonic_ns()}"
    service.create_study(StudySpec(
        name=name, space=SearchSpace({"x": Float(0.0, 1.0)}),
        scheduler=SchedulerSettings("asha", 1, 27, 3, 0), budget=Budget(max_trials=10**9),
    ))
    stop, counts = threading.Event(), [0] * clients

    def worker(i: int) -> None:
        while not stop.is_set():
            issued = service.suggest(name, f"w{i}", "")
            counts[i] += 1
            job = issued.job
            for r in range(job.resume_from + 1, job.milestone + 1):
                counts[i] += 1
                value = float(job.config["x"]) + 1.0 / r
                if service.report(name, job.trial_id, issued.lease_id, r, value)[0] is not Decision.CONTINUE:
                    break

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    service.close()
    metrics = service.commit_metrics
    return (sum(counts) / elapsed, mean_seconds(metrics.commit_seconds),
            mean_seconds(metrics.wait_seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--clients", default="1,4,16,64")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--db", default="sqlite,postgresql")
    add_write_docs_flag(parser)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from pg_support import PostgresServer

    pg = PostgresServer().start() if "postgresql" in args.db else None
    out = Fragment("group_commit")
    out.print(f"K threads calling the service directly, each an instantly-training worker on an "
              f"ASHA study, {args.seconds:g} s per cell; commit and wait are means, from the "
              f"service's commit metrics:")
    out.print()
    out.print("| journal | K | baseline (in-memory journal) calls/s | durable calls/s | ratio "
              "| events per transaction | commit ms | wait ms |")
    out.print("|---|---:|---:|---:|---:|---:|---:|---:|")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for backend in args.db.split(","):
                for k in (int(x) for x in args.clients.split(",")):
                    base, _, _ = rate(CountingJournal(MemoryJournal()), k, args.seconds)
                    target = str(Path(tmp) / f"{k}.db") if backend == "sqlite" else pg.new_database()
                    journal = CountingJournal(open_journal(target))
                    durable, commit, wait = rate(journal, k, args.seconds)
                    journal.close()
                    out.print(f"| {backend} | {k} | {base:,.0f} | {durable:,.0f} | {durable / base:.2f} "
                              f"| {journal.events / max(1, journal.batches):.1f} "
                              f"| {commit * 1e3:.2f} | {wait * 1e3:.2f} |")
    finally:
        if pg is not None:
            pg.stop()
    out.write_if(args.write_docs)


if __name__ == "__main__":
    main()
