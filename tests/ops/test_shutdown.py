"""Graceful shutdown: in-flight calls finish, new ones are refused, nothing acknowledged is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from rung.server.app import start_server
from rung.server.launch import spawn_server
from rung.server.service import StudyService
from rung.server.storage import Event, MemoryJournal
from rung.v1 import rung_pb2 as pb
from rung.v1 import rung_pb2_grpc
from support import ServerProcess

# A call already queued inside gRPC core when the server stops is cancelled, never
# run: CANCELLED. Every call made after that is refused UNAVAILABLE.
NOT_RUN = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}
SPACE = [pb.Parameter(name="x", int_domain=pb.IntDomain(low=1, high=100))]


def spec(name: str, trials: int = 1000) -> pb.StudySpec:
    return pb.StudySpec(
        name=name,
        space=SPACE,
        scheduler=pb.SchedulerSpec(r_min=1, r_max=3, eta=3),
        budget=pb.Budget(max_trials=trials),
    )


class GatedJournal(MemoryJournal):
    """Holds the first 'suggest' write until the test opens the gate.

    A suggest holds only its study's lock, so calls about other studies still run.
    """

    def __init__(self) -> None:
        super().__init__()
        self.writing = threading.Event()
        self.gate = threading.Event()
        self.closed = False

    def append(self, event: Event) -> None:
        if event.kind == "suggest":
            self.writing.set()
            assert self.gate.wait(60), "the test never opened the gate"
        super().append(event)

    def close(self) -> None:
        self.closed = True


def refused_code(port: int) -> grpc.StatusCode | None:
    """Makes a fresh call; None if the service answered it (NOT_FOUND: no such study)."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            rung_pb2_grpc.RungStub(channel).GetStudy(pb.GetStudyRequest(study="nope"), timeout=30)
        except grpc.RpcError as exc:
            return None if exc.code() == grpc.StatusCode.NOT_FOUND else exc.code()
    raise AssertionError("a study named 'nope' exists")


def test_stop_finishes_in_flight_writes_and_refuses_new_calls() -> None:
    journal = GatedJournal()
    running = start_server(StudyService(journal))
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    stub = rung_pb2_grpc.RungStub(channel)
    stub.CreateStudy(pb.CreateStudyRequest(spec=spec("inflight")), timeout=10)
    results: dict[str, object] = {}

    def suggest() -> None:
        request = pb.SuggestRequest(study="inflight", worker_id="w", request_id="r")
        try:
            results["job"] = stub.Suggest(request, timeout=60)
        except grpc.RpcError as exc:
            results["error"] = exc.code()

    caller = threading.Thread(target=suggest)
    caller.start()
    assert journal.writing.wait(30)
    stopper = threading.Thread(target=running.stop, kwargs={"grace": 60})
    stopper.start()
    first_refusal = next(
        (code for code in (refused_code(running.port) for _ in range(200)) if code), None
    )
    assert first_refusal in NOT_RUN
    assert [refused_code(running.port) for _ in range(3)] == [grpc.StatusCode.UNAVAILABLE] * 3
    assert stopper.is_alive() and not journal.closed  # still waiting for the in-flight write

    journal.gate.set()
    caller.join(30)
    stopper.join(30)
    channel.close()
    assert "error" not in results
    assert results["job"].kind == pb.START  # type: ignore[attr-defined]
    assert journal.closed
    assert [e.kind for e in journal.events("inflight")] == ["created", "suggest"]


def test_sigterm_exits_zero_and_loses_no_acknowledged_report(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "rung.db", extra_args=["--log-format", "json"]).start()
    channel = grpc.insecure_channel(server.address)
    stub = rung_pb2_grpc.RungStub(channel)
    stub.CreateStudy(pb.CreateStudyRequest(spec=spec("term")), timeout=10)
    acknowledged: list[tuple[int, int]] = []
    refusals: list[grpc.StatusCode] = []
    enough = threading.Event()

    def work(worker: str) -> None:
        n = 0
        try:
            while True:
                n += 1
                job = stub.Suggest(
                    pb.SuggestRequest(study="term", worker_id=worker, request_id=f"{worker}-{n}"),
                    timeout=10,
                )
                if job.kind != pb.START:
                    continue
                stub.Report(
                    pb.ReportRequest(
                        study="term",
                        trial_id=job.trial_id,
                        lease_id=job.lease_id,
                        resource=1,
                        value=0.5,
                    ),
                    timeout=10,
                )
                acknowledged.append((job.trial_id, 1))
                if len(acknowledged) >= 20:
                    enough.set()
        except grpc.RpcError as exc:
            refusals.append(exc.code())

    workers = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for w in workers:
        w.start()
    assert enough.wait(60)
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    for w in workers:
        w.join(60)
    assert server.proc.wait(timeout=60) == 0
    channel.close()
    assert refusals and set(refusals) <= NOT_RUN
    logs = [json.loads(line) for line in server.log.read_text().splitlines() if line.strip()]
    assert "stopped; journal closed" in [line["msg"] for line in logs]

    server.start()
    try:
        with grpc.insecure_channel(server.address) as again:
            trials = (
                rung_pb2_grpc.RungStub(again)
                .ListTrials(pb.ListTrialsRequest(study="term"), timeout=10)
                .trials
            )
        stored = {(t.id, o.resource) for t in trials for o in t.observations}
        assert set(acknowledged) <= stored
    finally:
        assert server.terminate() == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_right_after_startup_is_a_graceful_stop(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """The handlers are installed before the address is printed: no window of sudden death."""
    server = ServerProcess(tmp_path / "rung.db").start()
    assert server.proc is not None
    server.proc.send_signal(sig)
    assert server.proc.wait(timeout=60) == 0


# Injected through Python's own start-up hook, in the real `rung serve` process: the first
# Heartbeat blocks the event loop for good (a stand-in for a bug that hangs it).
STUCK_LOOP = """
import pathlib, time
import rung.server.rpc as rpc

async def heartbeat_that_hangs(self, request, context):
    pathlib.Path({marker!r}).touch()
    time.sleep(3600)

rpc.RungServicer.Heartbeat = heartbeat_that_hangs
"""


def stuck_server(tmp_path: Path, stop_timeout: float) -> tuple[subprocess.Popen[str], Path]:
    """A `rung serve` whose event loop is blocked; returns it and its log."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    marker = tmp_path / "loop-blocked"
    (hooks / "sitecustomize.py").write_text(STUCK_LOOP.format(marker=str(marker)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hooks), os.environ.get("PYTHONPATH", "")])}
    log = tmp_path / "serve.log"
    proc, address = spawn_server(
        ["--port", "0", "--db", str(tmp_path / "rung.db"), "--stop-timeout", str(stop_timeout)],
        log, env=env,
    )
    channel = grpc.insecure_channel(address)
    hung = rung_pb2_grpc.RungStub(channel).Heartbeat.future(
        pb.HeartbeatRequest(study="s", lease_id="l"), timeout=120
    )
    for _ in range(600):
        if marker.exists():
            break
        time.sleep(0.05)
    assert marker.exists(), "the Heartbeat never reached the server"
    hung.add_done_callback(lambda _: channel.close())
    return proc, log


def test_a_stop_that_hangs_ends_the_process_with_every_threads_stack(tmp_path: Path) -> None:
    proc, log = stuck_server(tmp_path, stop_timeout=6)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 1
    text = log.read_text()
    assert "shutting down" in text
    assert "Timeout (0:00:06)!" in text and "(most recent call first)" in text
    assert "heartbeat_that_hangs" in text  # the stuck thread, named
    assert "stopped; journal closed" not in text


def test_a_second_signal_during_the_stop_exits_at_once(tmp_path: Path) -> None:
    proc, log = stuck_server(tmp_path, stop_timeout=600)
    proc.send_signal(signal.SIGTERM)
    for _ in range(600):
        if "shutting down" in log.read_text():
            break
        time.sleep(0.05)
    assert "shutting down" in log.read_text()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 128 + signal.SIGINT
    text = log.read_text()
    assert "second SIGINT during the stop: exiting now" in text
    assert "heartbeat_that_hangs" in text


def test_stop_timeout_must_leave_room_for_the_grace_period(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rung.cli", "serve", "--db", str(tmp_path / "r.db"),
         "--stop-timeout", "2"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "--stop-timeout: must be a finite number of seconds, more than the 5" in done.stderr
