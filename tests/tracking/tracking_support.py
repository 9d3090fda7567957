"""Helpers of the tracking tests: a real MLflow server, a TCP relay that can go away,
SDK workers that train instantly, and checks of what a mirror wrote against ListTrials."""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from rung.client import Client, Decision
from rung.v1 import rung_pb2 as pb
from support import ServerProcess

from rung import wire

STATUS = {v: k.value for k, v in wire.TRIAL_STATUSES.items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float, every: float = 0.3) -> Any:
    """Calls `check` until it returns without raising AssertionError; re-raises the last."""
    give_up = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > give_up:
                raise
        time.sleep(every)


def mlflow_cli() -> str | None:
    found = Path(sys.executable).parent / "mlflow"
    return str(found) if found.exists() else shutil.which("mlflow")


class MlflowServer:
    """`mlflow server` on a SQLite store in `folder`, in a process group of its own."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0, nice: int = 0) -> MlflowServer:
        """`nice`: a lower priority (a benchmark's stand-in for a server on another machine)."""
        cli = mlflow_cli()
        assert cli is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "mlflow.log", "ab") as log:
            self.proc = subprocess.Popen(
                [*(["nice", "-n", str(nice)] if nice else []), cli, "server",
                 "--backend-store-uri", f"sqlite:///{self.folder}/mlflow.db",
                 "--default-artifact-root", str(self.folder / "art"), "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", "1"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        give_up = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, (self.folder / "mlflow.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                pass
            assert time.monotonic() < give_up, "mlflow server did not start"
            time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class Relay(threading.Thread):
    """Forwards 127.0.0.1:`port` to `target`; until started nothing listens on the port,
    which is what an MLflow server that is down looks like to its clients."""

    def __init__(self, target: int, port: int | None = None):
        super().__init__(daemon=True)
        self.target, self.port = target, port or free_port()
        self._halt = threading.Event()

    def run(self) -> None:
        with socket.create_server(("127.0.0.1", self.port), reuse_port=False) as listener:
            listener.settimeout(0.2)
            while not self._halt.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                threading.Thread(target=self._pipe, args=(conn,), daemon=True).start()

    def _pipe(self, conn: socket.socket) -> None:
        with conn, socket.create_connection(("127.0.0.1", self.target)) as upstream:
            ends = [conn, upstream]
            while not self._halt.is_set():
                ready, _, _ = select.select(ends, [], [], 0.2)
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is conn else conn).sendall(data)

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(5)


def metric(config: dict[str, Any], resource: int) -> float:
    """A deterministic learning curve."""
    return round((float(config["x"]) - 0.3) ** 2 + 1.0 / resource, 9)


def create_study(address: str, name: str, trials: int = 24) -> None:
    from scipy import stats

    with Client(address) as client:
        client.create_study(
            name, space={"x": stats.uniform(0, 1), "opt": ["sgd", "adam"], "depth": [2, 3]},
            r_min=1, r_max=9, eta=3, max_trials=trials, seed=7,
        )


class Workers:
    """`n` SDK workers on threads; each report is acknowledged before the next (a short
    sleep per epoch keeps the study running while a test kills the server)."""

    def __init__(self, address: str, study: str, n: int = 4, epoch_seconds: float = 0.01):
        self.address, self.study, self.epoch_seconds = address, study, epoch_seconds
        self.acks = 0
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(n)]

    def start(self) -> Workers:
        for t in self.threads:
            t.start()
        return self

    def _run(self, index: int) -> None:
        try:
            with Client(self.address, retry_seconds=60, call_timeout=10) as client:
                for trial in client.study(self.study).trials(worker_id=f"w{index}", max_wait=0.05):
                    with trial:
                        for resource in trial.epochs():
                            time.sleep(self.epoch_seconds)
                            decision = trial.report(resource, metric(trial.config, resource))
                            with self.lock:
                                self.acks += 1
                            if decision is not Decision.CONTINUE:
                                break
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)

    def wait_for_acks(self, n: int, timeout: float = 60.0) -> None:
        give_up = time.monotonic() + timeout
        while self.acks < n:
            assert not self.errors, self.errors
            assert time.monotonic() < give_up, f"{self.acks} reports after {timeout} s"
            time.sleep(0.02)

    def join(self, timeout: float = 120.0) -> None:
        give_up = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, give_up - time.monotonic()))
        assert not self.errors, self.errors
        assert not any(t.is_alive() for t in self.threads), "workers still running"


def run_study_through_a_kill(
    server: ServerProcess, study: str, mirrored: Callable[[], bool], kill_after: int = 20
) -> None:
    """Runs the study to its end with 4 workers, SIGKILLing the server once `kill_after`
    reports were acknowledged and `mirrored()` says the mirror wrote some of them, and
    restarting it on the same database."""
    create_study(server.address, study)
    workers = Workers(server.address, study, epoch_seconds=0.1).start()
    workers.wait_for_acks(kill_after)
    give_up = time.monotonic() + 30
    while not mirrored():
        assert time.monotonic() < give_up, "the mirror wrote nothing in 30 s"
        time.sleep(0.05)
    server.kill()
    server.start()
    workers.join()


def expected_curve(trial: pb.Trial) -> list[tuple[int, float]]:
    """(resource, value) a run should hold: every report once, a resource re-reported
    by a resumed segment keeping its first value."""
    curve: list[tuple[int, float]] = []
    for o in trial.observations:
        if not curve or o.resource > curve[-1][0]:
            curve.append((o.resource, o.value))
    return curve


def metrics_lines(server: ServerProcess) -> str:
    """The server's metrics page; its address is the line after `rung serving on`."""
    proc = server.proc
    assert proc is not None and proc.stdout is not None
    url = getattr(proc, "metrics_url", None)
    if url is None:
        line = proc.stdout.readline()
        match = re.search(r"http://\S+/metrics", line)
        assert match, line
        url = proc.metrics_url = match.group(0)  # type: ignore[attr-defined]
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.read().decode()


def sample(text: str, name: str, **labels: str) -> float | None:
    """One sample's value from a Prometheus text page (None if absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} ") or (not want and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    return None


def trial_statuses(trials: Iterable[pb.Trial]) -> dict[int, str]:
    return {t.id: STATUS[t.status] for t in trials}
