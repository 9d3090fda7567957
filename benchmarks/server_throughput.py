"""How many ask/tell calls per second does one `rung serve` answer?

    .venv/bin/python benchmarks/server_throughput.py [--clients 1,4,16,64] [--seconds 5]
        [--rounds 3] [--db sqlite,postgresql] [--postgres-url URL]
        [--variants rung,cached_answers,no_durability,no_fsync]

A real `rung serve` subprocess on loopback, with a SQLite journal or a
PostgreSQL one (a throw-away local server, as the tests start, unless
`--postgres-url` names a database); for each K in `--clients`, K threads, each
with its own channel, run workers that train instantly: Suggest, then one
Report per epoch of the job (every Report is a durable commit).
The baseline, measured in the same run against the same server with the same
number of clients, is the standard health check: a unary RPC that does no work,
so the ratio is the cost of rung's own work (scheduling, journaling) on top of
gRPC itself. Baseline and rung cells alternate `--rounds` times for each K and
the table gives the median of the rounds' ratios (with their range): on a
shared machine one pair of cells can be off by a tenth.

`--variants` also measures servers with one piece patched out at start-up
(benchmarks/ablations/sitecustomize.py), to show where the time goes:
`cached_answers` (Suggest and Report repeat their first answer: gRPC and
rung's messages without the service), `no_durability` (the service decides
but nothing is written, calls answer at once) and `no_fsync` (SQLite commits
reach the operating system but are not synced to the disk).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rung.client import Client
from rung.server.launch import spawn_server
from rung.v1 import rung_pb2 as pb

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_report.py, also when imported
from _report import Fragment, add_write_docs_flag  # noqa: E402


def run_threads(n: int, seconds: float, work: Callable[[threading.Event], int]) -> float:
    """Runs `work` in n threads until `seconds` pass; returns calls per second."""
    stop = threading.Event()
    counts = [0] * n

    def body(i: int) -> None:
        counts[i] = work(stop)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


def health_calls(address: str) -> Callable[[threading.Event], int]:
    def work(stop: threading.Event) -> int:
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            calls = 0
            while not stop.is_set():
                stub.Check(health_pb2.HealthCheckRequest(service=""))
                calls += 1
            return calls

    return work


def ask_tell_calls(address: str, study: str) -> Callable[[threading.Event], int]:
    """A worker that trains instantly: each Suggest, then a Report per epoch of the job."""

    def work(stop: threading.Event) -> int:
        calls = 0
        with Client(address) as client:
            handle = client.study(study)
            while not stop.is_set():
                job = handle.suggest()
                calls += 1
                for epoch in range(job.resume_from + 1, job.milestone + 1):
                    value = 1.0 / epoch + (job.trial_id % 97) / 1000
                    request = pb.ReportRequest(
                        study=study, trial_id=job.trial_id, lease_id=job.lease_id,
                        resource=epoch, value=value,
                    )
                    calls += 1
                    if client.call("Report", request).decision != pb.CONTINUE:
                        break
            return calls

    return work


ABLATIONS = Path(__file__).resolve().parent / "ablations"


def server_env(variant: str) -> dict[str, str] | None:
    """The environment of a server with `variant`'s piece patched out; None for rung as is."""
    if variant == "rung":
        return None
    path = os.pathsep.join(filter(None, [str(ABLATIONS), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "RUNG_ABLATION": variant}


def measure(
    db: str, log: Path, clients: list[int], seconds: float, rounds: int, variant: str = "rung"
) -> list[tuple[int, float, float, list[float]]]:
    """(K, median baseline calls/s, median rung calls/s, each round's ratio) for each K,
    against one server (of `variant`) on `db`."""
    proc, address = spawn_server(["--port", "0", "--db", db], log, env=server_env(variant))
    rows = []
    try:
        with Client(address) as client:
            client.create_study(
                "bench", space={"x": [i / 100 for i in range(100)], "y": list(range(50))},
                r_min=1, r_max=27, eta=3, max_trials=10**9,
            )
        for k in clients:
            pairs = [
                (run_threads(k, seconds, health_calls(address)),
                 run_threads(k, seconds, ask_tell_calls(address, "bench")))
                for _ in range(rounds)
            ]
            base, rate = (statistics.median(column) for column in zip(*pairs))
            ratios = [r / b for b, r in pairs]
            rows.append((k, base, rate, ratios))
            print(f"  {k:3d} clients: baseline {base:7,.0f}/s, rung {rate:7,.0f}/s, ratios "
                  + ", ".join(f"{x:.2f}" for x in ratios), flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return rows


def throwaway_postgres() -> "object":
    """The tests' throw-away PostgreSQL server (Debian's binaries, a temp folder, loopback)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from pg_support import PostgresServer, unavailable

    reason = unavailable()
    if reason:
        raise SystemExit(f"no PostgreSQL for the benchmark: {reason}")
    return PostgresServer().start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--clients", default="1,4,16,64", help="comma-separated K values")
    parser.add_argument("--seconds", type=float, default=5.0, help="per cell")
    parser.add_argument("--rounds", type=int, default=3, help="baseline/rung pairs per K")
    parser.add_argument("--db", default="sqlite,postgresql", help="backends to measure")
    parser.add_argument("--postgres-url", default=None, help="an empty database to use")
    parser.add_argument("--variants", default="rung",
                        help="servers to measure: rung, cached_answers, no_durability, no_fsync")
    add_write_docs_flag(parser)
    args = parser.parse_args()
    clients = [int(k) for k in args.clients.split(",")]
    variants = args.variants.split(",")
    unknown = set(variants) - {"rung", "cached_answers", "no_durability", "no_fsync"}
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}")
    tables = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.db.split(","):
            postgres = None if backend == "sqlite" or args.postgres_url else throwaway_postgres()
            try:
                for variant in variants:
                    print(f"{backend}, {variant}:", flush=True)
                    if backend == "sqlite":
                        db = str(Path(tmp) / f"{variant}.db")
                    else:
                        db = args.postgres_url or postgres.new_database()  # type: ignore[attr-defined]
                    tables[backend, variant] = measure(
                        db, Path(tmp) / f"{backend}-{variant}.log", clients, args.seconds,
                        args.rounds, variant,
                    )
            finally:
                if postgres is not None:
                    postgres.stop()  # type: ignore[attr-defined]
    out = Fragment("server_throughput")
    out.print(f"\n{args.seconds:.0f} s per cell, {args.rounds} rounds, medians; server and clients "
              "on one machine (loopback)")
    out.print("| journal | server | K | baseline (health checks) calls/s "
              "| rung Suggest + Report calls/s | ratio (median) | ratios (range) |")
    out.print("|---|---|---:|---:|---:|---:|---:|")
    for (backend, variant), rows in tables.items():
        for k, base, rate, ratios in rows:
            out.print(f"| {backend} | {variant} | {k} | {base:,.0f} | {rate:,.0f} | "
                      f"{statistics.median(ratios):.2f} | {min(ratios):.2f}-{max(ratios):.2f} |")
    out.write_if(args.write_docs)

if __name__ == "__main__":
    main()
