"""How many ask/tell calls per second does one `rung serve` answer?

    .venv/bin/python benchmarks/server_throughput.py [--clients 8] [--seconds 10]

A real `rung serve` subprocess with a SQLite journal on loopback; `--clients`
threads, each with its own channel, run workers that train instantly: Suggest,
then one Report per epoch of the job (every Report is a durable SQLite commit).
The baseline, measured in the same run against the same server with the same
number of clients, is the standard health check: a unary RPC that does no work,
so the ratio is the cost of rung's own work (scheduling, journaling) on top of
gRPC itself.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "rung.db"
        proc, address = spawn_server(["--port", "0", "--db", str(db)], db.with_suffix(".log"))
        try:
            with Client(address) as client:
                client.create_study(
                    "bench", space={"x": [i / 100 for i in range(100)], "y": list(range(50))},
                    r_min=1, r_max=27, eta=3, max_trials=10**9,
                )
            base = run_threads(args.clients, args.seconds, health_calls(address))
            rate = run_threads(args.clients, args.seconds, ask_tell_calls(address, "bench"))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"{args.clients} clients, {args.seconds:.0f} s each, one 2-core machine (server and clients)")
    print(f"baseline, health checks:        {base:8,.0f} calls/s")
    print(f"rung Suggest + Report (durable): {rate:8,.0f} calls/s = {rate / base:.2f}x the baseline")


if __name__ == "__main__":
    main()
