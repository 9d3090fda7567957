"""Shared test helpers: a real `rung serve` subprocess on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parents[1]


def rung_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rung.cli", *args]


class ServerProcess:
    """`rung serve` on a free loopback port, restartable on the same database."""

    def __init__(self, db: Path, extra_args: Sequence[str] = (), lease_seconds: float = 60.0):
        self.db = db
        self.extra_args = list(extra_args)
        self.lease_seconds = lease_seconds
        self.proc: subprocess.Popen[str] | None = None
        self.address = ""
        self.port = 0

    def start(self) -> "ServerProcess":
        # Reuse the port after a restart so clients with an open channel reconnect.
        args = rung_command(
            "serve", "--host", "127.0.0.1", "--port", str(self.port), "--db", str(self.db),
            "--lease-seconds", str(self.lease_seconds), *self.extra_args,
        )
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("rung serving on "):
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
            raise RuntimeError(f"server failed to start: {line!r}\n{err}")
        self.address = line.rsplit(" ", 1)[1]
        self.port = int(self.address.rsplit(":", 1)[1])
        return self

    def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def terminate(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=30)

    def restart(self) -> None:
        self.kill()
        self.start()


def subprocess_env() -> dict[str, str]:
    """Environment for child processes: one torch thread each on this 2-core machine."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
