"""`rung worker --gpus-per-trial N`: N rank processes per trial, and what happens when one dies.

The supervisor starts ranks 0..N-1 as `rung worker` processes (the same
command with `--ddp-rank R`; MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE,
LOCAL_RANK and LOCAL_WORLD_SIZE set as torchrun sets them), each in its own
session, and watches them. Rank 0 is the worker that talks to the server.

When a rank exits abnormally, the others are killed at once (they would only
wait in collectives until the timeout), and the job rank 0 held, recorded in
the group's folder (`ddp.JOB_FILE`), is settled with the server:

* a rank's training code raised (it said so in ``error-<rank>.json``): the
  trial **fails** with that reason, the earliest one when several ranks raised,
  as it would on one GPU: retrying a bug elsewhere only fails again;
* a rank died without saying why (SIGKILL, the kernel's OOM killer, a segfault,
  a lost GPU): the job is **handed back** (Release), so a worker resumes it from
  its last rung's checkpoint: the machine failed, not the configuration. A trial
  whose ranks die twice on this worker fails, so it cannot kill groups forever.

Then a fresh group starts and takes the next job. `max_failures` broken groups
in a row (not counting divergence and out-of-memory) stop the supervisor.
SIGTERM and SIGINT go to rank 0, which finishes its epoch, checkpoints and
hands the job back, then tells the other ranks to exit.
"""

from __future__ import annotations

import logging
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .ddp import EXIT_TRIAL_FAILED, JOB_FILE, JOBS_ENDED_FILE, read_json

log = logging.getLogger("rung.worker")

EXIT_USAGE = 2  # a rank refused its flags (or its objective cannot run on several processes)
EXIT_GRACE_SECONDS = 30.0  # after rank 0 exits cleanly, how long the others have to follow
POLL_SECONDS = 0.1

Settle = Callable[[dict, str | None], None]
"""Ends a job rank 0 held: (job file contents, failure reason, or None to hand it back)."""


@dataclass
class GroupEnd:
    """How a group of ranks ended: each rank's exit status, and which ones the supervisor killed."""

    codes: list[int]
    killed: set[int] = field(default_factory=set)

    @property
    def clean(self) -> bool:
        return self.codes[0] == 0 and all(
            code == 0 for rank, code in enumerate(self.codes) if rank not in self.killed
        )

    def crashed(self, folder: Path) -> list[tuple[int, int]]:
        """(rank, status) of ranks that died without saying why (not killed by the supervisor)."""
        return [
            (rank, code)
            for rank, code in enumerate(self.codes)
            if rank not in self.killed
            and code != 0
            and not (code == EXIT_TRIAL_FAILED and (folder / f"error-{rank}.json").exists())
        ]


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Supervisor:
    """Runs groups of `world_size` ranks one after another until one ends cleanly."""

    def __init__(
        self,
        rank_command: Callable[[int, Path], list[str]],
        world_size: int,
        settle: Settle,
        max_failures: int = 3,
        env: dict[str, str] | None = None,
    ) -> None:
        self.rank_command = rank_command
        self.world_size = world_size
        self.settle = settle
        self.max_failures = max_failures
        self.env = env if env is not None else {}
        self.stopping = False
        self.ranks: list[subprocess.Popen[bytes]] = []
        self.crashes: dict[int, int] = {}  # trial id -> groups its ranks crashed on this worker

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._forward)
        failures = 0
        generation = 0
        while True:
            folder = Path(tempfile.mkdtemp(prefix="rung-ddp-"))
            try:
                end = self._run_group(generation, folder)
                if end.clean:
                    return 0
                if EXIT_USAGE in end.codes:
                    return EXIT_USAGE
                configuration = self._settle(end, folder)
                if (folder / JOBS_ENDED_FILE).exists():
                    failures = 0  # the group trained jobs before it broke
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            if self.stopping:
                return 0
            if not configuration:
                failures += 1
                if failures == self.max_failures:
                    log.error("%d trial groups in a row failed; stopping", failures)
                    return 1
            generation += 1

    def _tell(self, job: dict, reason: str | None) -> None:
        """Settles the job with the server; if it cannot be reached, the lease expires instead."""
        try:
            self.settle(job, reason)
        except Exception as exc:  # noqa: BLE001 - the next group must start all the same
            log.error("could not settle trial %s with the server: %s", job.get("trial_id"), exc)

    def _forward(self, signum: int, frame: object) -> None:
        """Rank 0 hands its job back; it tells the other ranks when to stop."""
        self.stopping = True
        if self.ranks and self.ranks[0].poll() is None:
            self.ranks[0].send_signal(signum)

    def _run_group(self, generation: int, folder: Path) -> GroupEnd:
        port = str(free_port())
        self.ranks = []
        for rank in range(self.world_size):
            env = {
                **self.env,
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": port,
                "RANK": str(rank),
                "LOCAL_RANK": str(rank),
                "WORLD_SIZE": str(self.world_size),
                "LOCAL_WORLD_SIZE": str(self.world_size),
            }
            self.ranks.append(
                subprocess.Popen(self.rank_command(rank, folder), env=env, start_new_session=True)
            )
        pids = ", ".join(f"rank {rank} pid {p.pid}" for rank, p in enumerate(self.ranks))
        print(f"rung worker: trial group {generation} started: {pids}", file=sys.stderr, flush=True)
        return watch(self.ranks)

    def _settle(self, end: GroupEnd, folder: Path) -> bool:
        """Fails or hands back a broken group's job; True when the configuration was to blame."""
        job = read_json(folder / JOB_FILE)
        crashed = end.crashed(folder)
        errors = sorted(
            (
                e
                for e in (read_json(folder / f"error-{r}.json") for r in range(self.world_size))
                if e
            ),
            key=lambda e: e["time"],
        )
        what = "; ".join(f"rank {rank} {describe_exit(code)}" for rank, code in crashed)
        if job is None:
            log.warning("trial group ended without a job in hand: %s", what or "a rank failed")
            return False
        trial = int(job["trial_id"])
        if crashed:
            self.crashes[trial] = self.crashes.get(trial, 0) + 1
            if self.crashes[trial] < 2:
                log.warning("trial %d: %s; handing the job back", trial, what)
                self._tell(job, None)
                return False
            reason = f"its ranks died twice on this worker: {what}"
            configuration = False
        elif errors:
            reason = f"rank {errors[0]['rank']}: {errors[0]['reason']}"
            configuration = bool(errors[0]["configuration"])
        else:
            reason = "its process group ended without a reason"
            configuration = False
        log.warning("trial %d failed: %s", trial, reason)
        self._tell(job, reason)
        return configuration


def watch(ranks: Sequence[subprocess.Popen[bytes]], grace: float = EXIT_GRACE_SECONDS) -> GroupEnd:
    """Waits for every rank; kills the rest as soon as one exits abnormally, and any left
    `grace` seconds after one exited cleanly (rank 0 told them to exit: they should be gone)."""
    killed: set[int] = set()
    clean_since: float | None = None
    while True:
        codes = [p.poll() for p in ranks]
        if all(code is not None for code in codes):
            return GroupEnd([int(c) for c in codes if c is not None], killed)
        if any(code not in (None, 0) for code in codes):
            _kill_running(ranks, codes, killed)
        elif any(code == 0 for code in codes):
            clean_since = clean_since or time.monotonic()
            if time.monotonic() - clean_since > grace:
                _kill_running(ranks, codes, killed)
        time.sleep(POLL_SECONDS)


def _kill_running(
    ranks: Sequence[subprocess.Popen[bytes]], codes: list[int | None], killed: set[int]
) -> None:
    for rank, (proc, code) in enumerate(zip(ranks, codes, strict=True)):
        if code is None:
            proc.kill()
            killed.add(rank)
