"""A fleet of mostly idle GPU workers against one `rung serve`: many connections, heartbeats.

    .venv/bin/python benchmarks/fleet.py [--workers 5000] [--minutes 10] [--cycle 30]
        [--processes 3] [--db sqlite|postgresql]

Each simulated worker has its own gRPC channel and its own TCP connection (a
local subchannel pool; gRPC would otherwise share one connection between
channels to the same address) and loops as an SDK worker does: Suggest;
"train" for an exponential time of mean `--cycle` seconds, sending a Heartbeat
every lease_seconds / 3 (the SDK's interval: 20 s with the default 60 s
lease); Report at the job's milestone. Workers start spread over the first
cycle, as a fleet that comes up over a minute would. The workers are asyncio
tasks in `--processes` client processes on the same machine as the server.

Reported: calls per second; per RPC p50, p99 and max latency as the client
sees it (from sending to the answer; the channel's connection is made before
its first timed call); errors by status code; the server's resident memory
(sampled every 5 s: at the start, largest, at the end); the server's open
TCP connections once every worker is up; how late the client processes' event
loops ran a timer probed every 50 ms (the part of a latency that is the
clients' own); and, from the server's own latency histogram (`--metrics-port`),
the fraction of calls it handled within 50 ms and the bucket holding its p99:
the part of the latency spent in the server, not in the client processes that
share its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import socket
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from rung.client import Client
from rung.core.space import Float
from rung.server.launch import resident_mib, spawn_server

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_report.py, also when imported
from _report import Fragment, add_write_docs_flag  # noqa: E402

STUDY = "fleet"
CALL_TIMEOUT = 30.0
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]
LAG_PERIOD = 0.05  # seconds between the client event loops' timer probes


async def simulated_worker(
    address: str, name: str, cycle: float, heartbeat: float, deadline: float, start_delay: float,
    latencies: dict[str, list[float]], errors: Counter,
) -> None:
    import grpc

    from rung.v1 import rung_pb2 as pb
    from rung.v1 import rung_pb2_grpc

    await asyncio.sleep(start_delay)
    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        await channel.channel_ready()
        stub = rung_pb2_grpc.RungStub(channel)

        async def call(method: str, request: object) -> object | None:
            sent, began = time.time(), time.perf_counter()
            try:
                answer = await getattr(stub, method)(request, timeout=CALL_TIMEOUT)
            except grpc.aio.AioRpcError as exc:
                errors[f"{method} {exc.code().name}"] += 1
                return None
            latencies[method].append((sent, time.perf_counter() - began))
            return answer

        while time.time() < deadline:
            job = await call("Suggest", pb.SuggestRequest(  # never retried: a first attempt
                study=STUDY, worker_id=name, request_id=uuid.uuid4().hex, first_attempt=True))
            if job is None or job.kind in (pb.WAIT, pb.DONE):
                await asyncio.sleep(1.0)
                continue
            finish = time.time() + random.expovariate(1.0 / cycle)
            while time.time() + heartbeat < min(finish, deadline):
                await asyncio.sleep(heartbeat)
                await call("Heartbeat", pb.HeartbeatRequest(study=STUDY, lease_id=job.lease_id))
            if finish > deadline:  # the fleet stops mid-job, as machines are taken back
                return
            await asyncio.sleep(max(0.0, finish - time.time()))
            await call("Report", pb.ReportRequest(
                study=STUDY, trial_id=job.trial_id, lease_id=job.lease_id,
                resource=job.milestone, value=random.random()))


async def loop_lag(deadline: float, lags: list[float], period: float = LAG_PERIOD) -> None:
    """How late this process's event loop runs a timer: a call answered in time is only
    seen once the loop gets to it, so this much of a client-side latency is the client's."""
    while time.time() < deadline:
        due = time.perf_counter() + period
        await asyncio.sleep(period)
        lags.append(time.perf_counter() - due)


def client_process(
    address: str, names: list[str], cycle: float, heartbeat: float, deadline: float,
    out: str,
) -> None:
    """Runs its share of the fleet; writes latencies (s), its event loop's lags (s) and
    error counts to `out` as JSON."""
    latencies: dict[str, list[tuple[float, float]]] = {"Suggest": [], "Heartbeat": [], "Report": []}
    lags: list[float] = []
    errors: Counter = Counter()

    async def run() -> None:
        await asyncio.gather(loop_lag(deadline, lags), *(
            simulated_worker(address, name, cycle, heartbeat, deadline,
                             random.uniform(0.0, cycle), latencies, errors)
            for name in names
        ))

    asyncio.run(run())
    Path(out).write_text(
        json.dumps({"latencies": latencies, "lags": lags, "errors": dict(errors)})
    )


def established_connections(port: int) -> int:
    """Established TCP connections to `port` on this machine (server side), from /proc."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":
                count += 1
    return count


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_side_latency(port: int) -> dict[str, tuple[int, float, float]]:
    """Per RPC of the fleet: calls, the fraction the server answered within 50 ms, and the
    upper bound of the histogram bucket that holds the 99th percentile."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    buckets: dict[str, list[tuple[float, float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "grpc_server_handling_seconds_bucket":
                method = sample.labels["grpc_method"]
                if method in ("Suggest", "Report", "Heartbeat"):
                    buckets.setdefault(method, []).append((float(sample.labels["le"]), sample.value))
    out = {}
    for method, rows in sorted(buckets.items()):
        rows.sort()
        count = rows[-1][1]
        within = next(c for le, c in rows if le >= 0.05) / count
        p99_bound = next(le for le, c in rows if c >= 0.99 * count)
        out[method] = (int(count), within, p99_bound)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--workers", type=int, default=5000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--cycle", type=float, default=30.0, help="mean seconds per job")
    parser.add_argument("--lease-seconds", type=float, default=60.0)
    parser.add_argument("--processes", type=int, default=3, help="client processes")
    parser.add_argument("--db", default="sqlite", help="sqlite or a postgresql:// URL")
    parser.add_argument("--max-workers", type=int, default=None,
                        help="passed to rung serve (default: the server's)")
    parser.add_argument("--snapshot-every", type=int, default=None,
                        help="passed to rung serve (default: the server's)")
    add_write_docs_flag(parser)
    args = parser.parse_args()
    heartbeat = args.lease_seconds / 3  # the SDK's interval
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "fleet.db") if args.db == "sqlite" else args.db
        metrics_port = free_port()
        proc, address = spawn_server(
            ["--port", "0", "--db", db, "--lease-seconds", str(args.lease_seconds),
             "--metrics-port", str(metrics_port),
             *(["--snapshot-every", str(args.snapshot_every)] if args.snapshot_every else []),
             *(["--max-workers", str(args.max_workers)] if args.max_workers else [])],
            Path(tmp) / "server.log",
        )
        try:
            with Client(address) as client:
                client.create_study(STUDY, space={"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)},
                                    r_min=1, r_max=27, eta=3, max_trials=10**9)
            began = time.time()
            deadline = began + args.minutes * 60
            names = [f"gpu-{i}" for i in range(args.workers)]
            outs = [str(Path(tmp) / f"client-{i}.json") for i in range(args.processes)]
            ctx = mp.get_context("spawn")
            clients = [
                ctx.Process(target=client_process, args=(
                    address, names[i::args.processes], args.cycle, heartbeat, deadline, outs[i]))
                for i in range(args.processes)
            ]
            for c in clients:
                c.start()
            rss = [resident_mib(proc.pid)]
            connections = 0
            while any(c.is_alive() for c in clients):
                time.sleep(5.0)
                rss.append(resident_mib(proc.pid))
                if time.time() > began + 1.5 * args.cycle and not connections:
                    connections = established_connections(int(address.rsplit(":", 1)[1]))
            for c in clients:
                c.join()
            elapsed = time.time() - began
            server_alive = proc.poll() is None
            handled = server_side_latency(metrics_port)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        calls: dict[str, np.ndarray] = {}
        errors: Counter = Counter()
        lags: list[float] = []
        for out in outs:
            part = json.loads(Path(out).read_text())
            lags += part["lags"]
            for method, rows in part["latencies"].items():
                rows = np.array(rows, dtype=float).reshape(-1, 2)  # (sent at, seconds)
                calls[method] = np.concatenate([calls.get(method, np.empty((0, 2))), rows])
            errors.update(part["errors"])
    total = sum(len(v) for v in calls.values()) + sum(errors.values())
    out = Fragment("fleet")
    out.print(f"{args.workers} workers, {args.processes} client processes, {elapsed:.0f} s, "
              f"mean job {args.cycle:.0f} s, heartbeat every {heartbeat:.0f} s; "
              f"server alive at the end: {server_alive}")
    out.print(f"calls: {total:,} ({total / elapsed:,.0f}/s); errors: {sum(errors.values())} "
              f"{dict(errors) if errors else ''}")
    out.print(f"server RSS MiB: start {rss[0]:.0f}, max {max(rss):.0f}, end {rss[-1]:.0f}; "
              f"established connections to the server after the first cycle: {connections:,}")
    lag_ms = np.array(lags) * 1e3
    out.print(f"client event loops' timer lag ms (a probe every {LAG_PERIOD * 1e3:.0f} ms in each "
              f"client process): p50 {np.percentile(lag_ms, 50):.1f}, "
              f"p99 {np.percentile(lag_ms, 99):.1f}, max {lag_ms.max():.0f}")
    warm = began + 2 * args.cycle  # every worker is up and past its first job
    for title, keep in (("every call", lambda t: t >= 0), (
            f"calls sent after the first {2 * args.cycle:.0f} s (the fleet up)", lambda t: t >= warm)):
        out.print(f"\n{title}:\n\n| RPC | calls | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|")
        for method, rows in [*calls.items(), ("all", np.concatenate(list(calls.values())))]:
            ms = rows[keep(rows[:, 0]), 1] * 1e3
            if len(ms):
                p50, p99 = np.percentile(ms, [50, 99])
                out.print(f"| {method} | {len(ms):,} | {p50:.1f} | {p99:.1f} | {ms.max():.0f} |")
    out.print("\nserver-side, from the server's own histogram (grpc_server_handling_seconds: "
              "from the handler's start to its answer, whole run):\n\n"
              "| RPC | calls | within 50 ms | p99 at most (bucket bound) ms |\n|---|---:|---:|---:|")
    for method, (count, within, p99_bound) in handled.items():
        out.print(f"| {method} | {count:,} | {within:.4%} | {p99_bound * 1e3:g} |")
    everything = np.concatenate(list(calls.values()))
    minutes = ((everything[:, 0] - began) // 60).astype(int)
    out.print("\np99 ms by minute of the run: " + ", ".join(
            f"{np.percentile(everything[minutes == m, 1], 99) * 1e3:.0f}" for m in sorted(set(minutes))))
    out.write_if(args.write_docs)


if __name__ == "__main__":
    main()
