"""Shared test helpers: a real `rung serve` subprocess on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

from rung.server.launch import spawn_server

REPO = Path(__file__).resolve().parents[1]


def rung_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rung.cli", *args]


class ServerProcess:
    """`rung serve` on a free loopback port, restartable on the same database.

    `db` is a SQLite file or a postgresql:// URL; the log goes beside the file,
    or to `log` (required with a URL).
    """

    def __init__(
        self,
        db: Path | str,
        extra_args: Sequence[str] = (),
        lease_seconds: float = 60.0,
        log: Path | None = None,
    ):
        self.db = db
        if log is None and not isinstance(db, Path):
            raise ValueError("a server on a database URL needs a log path")
        self._log = log
        self.extra_args = list(extra_args)
        self.lease_seconds = lease_seconds
        self.proc: subprocess.Popen[str] | None = None
        self.address = ""
        self.port = 0

    def start(self) -> "ServerProcess":
        # Reuse the port after a restart so clients with an open channel reconnect.
        args = [
            "--host", "127.0.0.1", "--port", str(self.port), "--db", str(self.db),
            "--lease-seconds", str(self.lease_seconds), *self.extra_args,
        ]
        self.proc, self.address = spawn_server(args, self.log, cwd=REPO)
        self.port = int(self.address.rsplit(":", 1)[1])
        return self

    @property
    def log(self) -> Path:
        """The server's log, kept across restarts."""
        if self._log is not None:
            return self._log
        assert isinstance(self.db, Path)
        return self.db.with_suffix(".log")

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


def verify_asha_history(trials: Sequence[Any], eta: int, levels: Sequence[int]) -> int:
    """Checks a finished ASHA study's trial records (rung.v1 Trial messages).

    - every promotion out of rung level L, made at journal position s, picked a
      trial in the top floor(n / eta) of the n results recorded at L before s
      (ties: earlier report);
    - no trial was promoted twice out of the same rung;
    - every trial's completed segments are contiguous from 0 and never overlap
      (a segment whose lease was lost is re-issued with the same milestone).
    Returns the number of promotions checked.
    """
    results: dict[int, list[tuple[float, int, int]]] = {level: [] for level in levels}
    for t in trials:
        milestones = {s.milestone for s in t.segments}
        for o in t.observations:
            if o.resource in results and o.resource in milestones:
                results[o.resource].append((o.value, o.seq, t.id))
    promotions = 0
    for t in trials:
        kept = [s for s in t.segments if not s.lost]
        assert kept, f"trial {t.id} has no completed segment"
        assert kept[0].resume_from == 0, f"trial {t.id} does not start at 0"
        for before, after in zip(kept, kept[1:]):
            assert after.resume_from == before.milestone, f"trial {t.id}: gap or overlap {before} {after}"
        for lost, retry in zip(t.segments, t.segments[1:]):
            if lost.lost:
                assert retry.milestone == lost.milestone and retry.resume_from <= lost.resume_from
        promoted_from = [s.resume_from for s in kept if s.resume_from > 0]
        assert len(promoted_from) == len(set(promoted_from)), f"trial {t.id} promoted twice"
        for seg in kept:
            if seg.resume_from == 0:
                continue
            # The first issue of this promotion (a lost attempt may precede the kept one).
            first_seq = min(s.seq for s in t.segments if s.resume_from == seg.resume_from or
                            (s.milestone == seg.milestone and s.lost))
            recorded = sorted(r for r in results[seg.resume_from] if r[1] < first_seq)
            top = [trial for _, _, trial in recorded[: len(recorded) // eta]]
            assert t.id in top, (
                f"trial {t.id} promoted from r={seg.resume_from} at seq {first_seq} "
                f"but the top {len(top)} were {top}"
            )
            promotions += 1
    return promotions
