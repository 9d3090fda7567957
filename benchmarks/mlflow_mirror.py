"""Does the MLflow mirror slow the workers down? Suggest/Report latency with and without it.

    .venv/bin/python benchmarks/mlflow_mirror.py [--workers 16] [--seconds 60]
        [--epoch-ms 200] [--outage 30] [--mlflow-nice 10] [--write-docs]

Three configurations, measured in the same run, each a fresh `rung serve`
subprocess on its own SQLite journal, with `--workers` client threads (each its
own channel, as benchmarks/server_throughput.py runs them) that Suggest and then
Report every epoch of the job, sleeping `--epoch-ms` per epoch as training would:

  no mirror      rung serve as is
  mlflow up      rung serve --mlflow-uri, a real `mlflow server` (SQLite store)
  mlflow stopped the same, with the MLflow server frozen (SIGSTOP: connections
                 hang, the worst case for a client) for `--outage` seconds in the
                 middle of the run, then let go (SIGCONT)

It prints p50 and p99 of each call and their ratio to the no-mirror baseline
(the target is within 2x), and how long after the run the mirror had caught up
(rung_tracking_lag_events back to 0), and the largest lag seen at the end of a
cell. Not a test: timings on a shared machine. `--write-docs` writes the table to
docs/generated/mlflow_mirror.md.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "tracking")]

from rung.client import Client
from rung.server.launch import spawn_server
from rung.v1 import rung_pb2 as pb
from tracking_support import MlflowServer, sample

sys.path.insert(0, str(REPO / "benchmarks"))  # benchmarks/_report.py
from _report import Fragment, add_write_docs_flag  # noqa: E402


def worker(address: str, study: str, stop: threading.Event, epoch: float,
           suggest: list[float], report: list[float]) -> None:
    with Client(address) as client:
        handle = client.study(study)
        while not stop.is_set():
            started = time.perf_counter()
            job = handle.suggest()
            suggest.append(time.perf_counter() - started)
            if job.kind != pb.START and job.kind != pb.RESUME:
                time.sleep(0.01)
                continue
            for resource in range(job.resume_from + 1, job.milestone + 1):
                time.sleep(epoch)
                request = pb.ReportRequest(study=study, trial_id=job.trial_id,
                                           lease_id=job.lease_id, resource=resource,
                                           value=1.0 / resource + (job.trial_id % 97) / 1000)
                started = time.perf_counter()
                answer = client.call("Report", request)
                report.append(time.perf_counter() - started)
                if answer.decision != pb.CONTINUE:
                    break


def metrics_url(proc: object) -> str:
    line = proc.stdout.readline()  # type: ignore[attr-defined]
    match = re.search(r"http://\S+/metrics", line)
    assert match, line
    return match.group(0)


def lag(url: str) -> float:
    with urllib.request.urlopen(url, timeout=5) as answer:
        page = answer.read().decode()
    return sample(page, "rung_tracking_lag_events", mirror="mlflow", study="bench") or 0.0


def run(tmp: Path, name: str, args: argparse.Namespace, mlflow: MlflowServer | None,
        outage: bool, catch_up: bool) -> dict[str, float]:
    """One cell: a fresh server, the workers for `--seconds`, latencies; with `catch_up`,
    how long the mirror then took to write everything."""
    serve = ["--port", "0", "--db", str(tmp / f"{name}.db"), "--metrics-port", "0"]
    if mlflow is not None:
        serve += ["--mlflow-uri", mlflow.uri, "--mlflow-experiment", f"bench-{name}"]
    proc, address = spawn_server(serve, tmp / f"{name}.log")
    url = metrics_url(proc)
    try:
        with Client(address) as client:
            client.create_study("bench", space={"x": [i / 100 for i in range(100)],
                                                "y": list(range(50))},
                                r_min=1, r_max=9, eta=3, max_trials=10**9)
        time.sleep(3)  # the server's start-up (and the mirror's imports) out of the timings
        stop = threading.Event()
        suggest: list[float] = []
        report: list[float] = []
        threads = [threading.Thread(target=worker, args=(address, "bench", stop,
                                                         args.epoch_ms / 1000, suggest, report))
                   for _ in range(args.workers)]
        for t in threads:
            t.start()
        if outage and mlflow is not None and mlflow.proc is not None:
            quiet = (args.seconds - args.outage) / 2
            time.sleep(quiet)
            os.killpg(mlflow.proc.pid, signal.SIGSTOP)
            print(f"  {name}: MLflow stopped (SIGSTOP) for {args.outage:.0f} s", flush=True)
            time.sleep(args.outage)
            os.killpg(mlflow.proc.pid, signal.SIGCONT)
            time.sleep(args.seconds - quiet - args.outage)
        else:
            time.sleep(args.seconds)
        stop.set()
        for t in threads:
            t.join()
        ended = time.monotonic()
        row = {
            "suggest_p50": statistics.quantiles(suggest, n=100)[49],
            "suggest_p99": statistics.quantiles(suggest, n=100)[98],
            "report_p50": statistics.quantiles(report, n=100)[49],
            "report_p99": statistics.quantiles(report, n=100)[98],
            "calls": len(suggest) + len(report),
            "lag": lag(url) if mlflow is not None else 0.0,
            "catch_up": float("nan"),
        }
        if mlflow is not None and catch_up:
            while time.monotonic() - ended < args.catch_up_limit:
                if lag(url) == 0:
                    row["catch_up"] = time.monotonic() - ended
                    break
                time.sleep(0.5)
        print(f"  {name}: {row['calls']:,} calls, Suggest p50 {row['suggest_p50'] * 1e3:.2f} ms "
              f"p99 {row['suggest_p99'] * 1e3:.2f} ms, Report p50 {row['report_p50'] * 1e3:.2f} "
              f"ms p99 {row['report_p99'] * 1e3:.2f} ms, lag at the end {row['lag']:,.0f} events",
              flush=True)
        return row
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=40.0, help="per cell")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the three configurations, interleaved (a shared "
                             "machine's load moves between cells); the table gives medians")
    parser.add_argument("--epoch-ms", type=float, default=200.0,
                        help="simulated training per epoch")
    parser.add_argument("--outage", type=float, default=30.0, help="seconds MLflow is stopped")
    parser.add_argument("--mlflow-nice", type=int, default=10,
                        help="the MLflow server's niceness: on this shared machine it stands in "
                             "for a tracking server elsewhere (0: same priority as rung)")
    parser.add_argument("--catch-up-limit", type=float, default=180.0,
                        help="seconds to wait after a run for the mirror to catch up")
    add_write_docs_flag(parser)
    args = parser.parse_args()
    if args.outage >= args.seconds:
        parser.error("--outage must be shorter than --seconds")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        mlflow = MlflowServer(tmp / "mlflow").start(nice=args.mlflow_nice)
        try:
            cells: dict[str, list[dict[str, float]]] = {
                "no mirror": [], "mlflow up": [], "mlflow stopped": []}
            for i in range(args.rounds):
                last = i == args.rounds - 1
                print(f"round {i + 1}:", flush=True)
                cells["no mirror"].append(run(tmp, f"none{i}", args, None, False, False))
                cells["mlflow up"].append(run(tmp, f"up{i}", args, mlflow, False, last))
                cells["mlflow stopped"].append(run(tmp, f"stopped{i}", args, mlflow, True, last))
        finally:
            mlflow.stop()
    rows = {name: {key: statistics.median(c[key] for c in runs) if key != "catch_up"
                   else runs[-1][key] for key in runs[0]} for name, runs in cells.items()}
    base = rows["no mirror"]
    out = Fragment("mlflow_mirror")
    out.print(f"\n{args.workers} workers, {args.rounds} rounds of {args.seconds:.0f} s cells "
              "(medians), "
              f"{args.epoch_ms:.0f} ms per epoch; MLflow stopped for {args.outage:.0f} s; "
              f"server, MLflow (nice {args.mlflow_nice}) and workers on one machine:")
    out.print()
    out.print("| configuration | calls | calls/s | Suggest p50 | Suggest p99 | Report p50 | Report p99 "
              "| ratios to no mirror (S p50, S p99, R p50, R p99) | mirror lag at the end of a cell "
              "| caught up after the last round |")
    out.print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for name, row in rows.items():
        ratios = ", ".join(f"{row[k] / base[k]:.2f}" for k in
                           ("suggest_p50", "suggest_p99", "report_p50", "report_p99"))
        mirrored = name != "no mirror"
        caught = "-" if not mirrored else (
            "not within the limit" if row["catch_up"] != row["catch_up"]
            else f"{row['catch_up']:.0f} s")
        lag_cell = f"{row['lag']:,.0f} events" if mirrored else "-"
        out.print(f"| {name} | {row['calls']:,.0f} | {row['calls'] / args.seconds:,.0f} "
                  f"| {row['suggest_p50'] * 1e3:.2f} ms "
                  f"| {row['suggest_p99'] * 1e3:.2f} ms | {row['report_p50'] * 1e3:.2f} ms "
                  f"| {row['report_p99'] * 1e3:.2f} ms | {ratios} | {lag_cell} | {caught} |")
    out.write_if(args.write_docs)


if __name__ == "__main__":
    main()
