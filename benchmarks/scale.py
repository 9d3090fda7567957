"""Studies of many trials: latency, restart time, memory, database size, listing.

    .venv/bin/python benchmarks/scale.py [--trials 10000,100000] [--db sqlite,postgresql]

For each size the study's journal is made once in this process by the real
service on an in-memory journal (ASHA, eta 3, rungs 1-3-9, instant training),
then written directly into each backend in large batches (the issue allows this for
the largest sizes; the events are exactly those the RPCs would have written).
Then, against a real `rung serve` subprocess on that database:

- restart after SIGKILL with no snapshot (the whole journal replayed), and
  after SIGKILL once a snapshot exists (the server saves one at SIGTERM):
  time from spawn to the first GetStudy answered;
- Suggest and Report latency measured by one client (p50, p99) over
  `--calls` cycles, on top of the big study (each includes its commit);
- the server-side time of a decision (p50, p99 of Suggest and Report calls
  into the service in this process, in memory: no gRPC, no disk) over
  `--calls` cycles once the study has its size;
- the server's resident memory (VmRSS) after those calls;
- the database's size on disk;
- the time to list every trial page by page (1000 per page).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np

from rung.client import Client
from rung.client.sdk import RETRYABLE
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.space import Float, SearchSpace
from rung.core.types import Budget, Decision, JobKind
from rung.server.journals import open_journal
from rung.server.launch import resident_mib, spawn_server
from rung.server.service import StudyService
from rung.server.storage import MemoryJournal
from rung.v1 import rung_pb2 as pb

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_report.py, also when imported
from _report import Fragment, add_write_docs_flag  # noqa: E402

STUDY = "scale"
BATCH = 20_000


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def make_journal(trials: int, calls: int) -> tuple[MemoryJournal, np.ndarray]:
    """The journal of a study of `trials` trials (plus room for more), trained instantly, and
    the service's own time per Suggest or Report (ms) over `calls` more cycles at that size:
    the decision and its bookkeeping in memory, without gRPC or the disk."""
    journal = MemoryJournal()
    service = StudyService(journal, clock=Clock(), lease_seconds=1e9)
    service.create_study(StudySpec(
        name=STUDY, space=SearchSpace({"x": Float(0.0, 1.0)}),
        scheduler=SchedulerSettings("asha", 1, 9, 3, 0), searcher="random",
        budget=Budget(max_trials=10 * trials), seed=1,
    ))
    started, timed, seconds = 0, 0, []
    while timed < calls:
        t0 = time.perf_counter()
        issued = service.suggest(STUDY, "gen", "")
        times = [time.perf_counter() - t0]
        job = issued.job
        started += job.kind is JobKind.START
        for r in range(job.resume_from + 1, job.milestone + 1):
            value = float(job.config["x"]) + 1.0 / r
            t0 = time.perf_counter()
            decision = service.report(STUDY, job.trial_id, issued.lease_id, r, value)[0]
            times.append(time.perf_counter() - t0)
            if decision is not Decision.CONTINUE:
                break
        if started > trials:
            seconds += times
            timed += 1
    service.close()
    return journal, np.array(seconds) * 1e3


def copy_into(source: MemoryJournal, target: str) -> int:
    journal = open_journal(target)
    events = list(source.events(STUDY))
    for start in range(0, len(events), BATCH):
        journal.append_many(events[start:start + BATCH])
    journal.close()
    return len(events)


def db_mib(target: str) -> float:
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target) as conn:
            return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20
    return sum(p.stat().st_size for p in Path(target).parent.glob(Path(target).name + "*")) / 2**20


def start(target: str, log: Path) -> tuple[subprocess.Popen[str], str, float]:
    """Spawns the server; returns it, its address and the seconds until ListStudies answered.

    Asked every 20 ms, not through the SDK's retries: on PostgreSQL the server answers
    UNAVAILABLE as a standby until it holds the lead, and the SDK's back-off (0.05 s
    doubling to 2 s) would add up to its last delay to the time measured. What the SDK
    retries is retried (a call that reaches a standby as it hands its port over is
    CANCELLED)."""
    began = time.perf_counter()
    proc, address = spawn_server(["--port", "0", "--db", target, "--lease-seconds", "3600"], log)
    with Client(address, retry_seconds=0, call_timeout=600) as client:
        while True:
            try:
                client.list_studies()
                return proc, address, time.perf_counter() - began
            except grpc.RpcError as exc:
                if exc.code() not in RETRYABLE or proc.poll() is not None:
                    raise
                time.sleep(0.02)


def latencies(address: str, calls: int) -> tuple[np.ndarray, np.ndarray]:
    suggest, report = [], []
    with Client(address) as client:
        handle = client.study(STUDY)
        while len(report) < calls:
            t0 = time.perf_counter()
            job = handle.suggest("bench")
            suggest.append(time.perf_counter() - t0)
            if job.kind in (pb.WAIT, pb.DONE):
                continue
            request = pb.ReportRequest(study=STUDY, trial_id=job.trial_id, lease_id=job.lease_id,
                                       resource=job.resume_from + 1, value=0.5)
            t0 = time.perf_counter()
            client.call("Report", request)
            report.append(time.perf_counter() - t0)
    return np.array(suggest) * 1e3, np.array(report) * 1e3


def measure(
    source: MemoryJournal, target: str, empty: str, log: Path, calls: int
) -> dict[str, float]:
    row: dict[str, float] = {}
    proc, _, row["start_empty_s"] = start(empty, log)  # process start-up alone, same moment
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    row["events"] = copy_into(source, target)
    proc, address, row["restart_full_s"] = start(target, log)  # no snapshot yet: full replay
    suggest, report = latencies(address, calls)
    row["suggest_p50_ms"], row["suggest_p99_ms"] = np.percentile(suggest, [50, 99])
    row["report_p50_ms"], row["report_p99_ms"] = np.percentile(report, [50, 99])
    row["rss_mib"] = resident_mib(proc.pid)
    with Client(address, call_timeout=600) as client:
        t0 = time.perf_counter()
        listed = client.list_trials(STUDY, page_size=1000)
        row["list_all_s"] = time.perf_counter() - t0
        row["trials"] = len(listed)
    proc.send_signal(signal.SIGTERM)  # a graceful stop saves a snapshot
    proc.wait(timeout=600)
    proc, address, _ = start(target, log)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    proc, address, row["restart_snapshot_s"] = start(target, log)
    row["rss_after_restart_mib"] = resident_mib(proc.pid)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=600)
    row["db_mib"] = db_mib(target)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--trials", default="10000,100000")
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--calls", type=int, default=500)
    add_write_docs_flag(parser)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    pg = None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for n in (int(x) for x in args.trials.split(",")):
                t0 = time.perf_counter()
                source, decide = make_journal(n, args.calls)  # one journal for every backend
                generated = {"generate_s": time.perf_counter() - t0}
                generated["decide_p50_ms"], generated["decide_p99_ms"] = np.percentile(
                    decide, [50, 99]
                )
                for backend in args.db.split(","):
                    if backend == "sqlite":
                        target = os.path.join(tmp, f"scale-{n}.db")
                        empty = os.path.join(tmp, f"empty-{n}.db")
                    else:
                        if pg is None:
                            from pg_support import PostgresServer

                            pg = PostgresServer().start()
                        target, empty = pg.new_database(), pg.new_database()
                    row = generated | measure(
                        source, target, empty, Path(tmp) / f"{backend}-{n}.log", args.calls
                    )
                    print(backend, n, {k: round(float(v), 3) for k, v in row.items()}, flush=True)
                    rows.append((backend, n, row))
                del source
        finally:
            if pg is not None:
                pg.stop()
    out = Fragment("scale")
    out.print("\n| journal | trials | events | decision p50/p99 ms (server-side) | Suggest p50/p99 ms "
              "| Report p50/p99 ms | start, empty "
              "DB s | restart, full replay s | restart, snapshot + tail s | RSS MiB (after restart) "
              "| DB MiB | list all s |")
    out.print("|---|---:|---:|---|---|---|---:|---:|---:|---|---:|---:|")
    for backend, n, r in rows:
        out.print(f"| {backend} | {int(r['trials']):,} | {int(r['events']):,} | "
                  f"{r['decide_p50_ms']:.3f} / {r['decide_p99_ms']:.3f} | "
                  f"{r['suggest_p50_ms']:.2f} / {r['suggest_p99_ms']:.2f} | "
                  f"{r['report_p50_ms']:.2f} / {r['report_p99_ms']:.2f} | {r['start_empty_s']:.2f} | "
                  f"{r['restart_full_s']:.2f} | "
                  f"{r['restart_snapshot_s']:.2f} | {r['rss_mib']:.0f} ({r['rss_after_restart_mib']:.0f}) | "
                  f"{r['db_mib']:.0f} | {r['list_all_s']:.2f} |")
    out.write_if(args.write_docs)


if __name__ == "__main__":
    main()
