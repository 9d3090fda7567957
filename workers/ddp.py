"""The ranks of a trial trained on several processes (`rung worker --gpus-per-trial N`).

Rank 0 is an ordinary worker (`loop.run_worker`): it alone asks for jobs,
reports, heartbeats and saves checkpoints. Through a `RankGroup` it tells the
other ranks each job (configuration, resume_from, milestone, the local
checkpoint to resume from) and, after every epoch, whether to go on; they
train the same segment (`segment.train_segment`, which loads the checkpoint on
every rank and saves it on rank 0 only) and wait for the next message.

A rank whose training fails never tries to recover in place: its peers are in
collectives it will not join. It writes why into the group's folder and exits
with `EXIT_TRIAL_FAILED`; the supervisor (`ddp_supervisor`) kills the rest of
the group, fails or hands back the job with the lease rank 0 recorded in
`JOB_FILE`, and starts a fresh group.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from .objective import Objective
from .segment import CONFIGURATION_FAILURES, train_segment

log = logging.getLogger("rung.worker")

EXIT_TRIAL_FAILED = 3
"""Exit status of a rank whose trial failed; the reason is in ``error-<rank>.json``."""
JOB_FILE = "job.json"
"""The job rank 0 holds a lease on, while it holds one: what the supervisor settles."""
JOBS_ENDED_FILE = "jobs-ended"
"""How many jobs this group finished: a group that finished one was not broken from the start."""


@dataclass
class RankGroup:
    """One rank's view of its group: messages from rank 0, and the files the supervisor reads."""

    rank: int
    world_size: int
    folder: Path
    control: Any  # the gloo group that carries messages (the default group may be NCCL)
    jobs_ended: int = 0

    @classmethod
    def join(
        cls, rank: int, world_size: int, folder: Path, device: torch.device, timeout: float
    ) -> RankGroup:
        """Joins the process group (MASTER_ADDR/MASTER_PORT from the supervisor); `timeout`
        bounds every collective, so a rank that stops answering cannot hold the others forever."""
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        limit = timedelta(seconds=timeout)
        dist.init_process_group(
            backend, init_method="env://", rank=rank, world_size=world_size, timeout=limit
        )
        control = (
            dist.new_group(backend="gloo", timeout=limit) if backend != "gloo" else dist.group.WORLD
        )
        return cls(rank, world_size, Path(folder), control)

    # -------------------------------------------------------------- messages

    def send(self, *message: Any) -> None:
        """Rank 0: every other rank receives `message`."""
        dist.broadcast_object_list([message], src=0, group=self.control)

    def receive(self) -> tuple[Any, ...]:
        box: list[Any] = [None]
        dist.broadcast_object_list(box, src=0, group=self.control)
        return tuple(box[0])

    def idle(self) -> bool:
        """Rank 0, before each Suggest: keeps the others' wait for a job inside the timeout."""
        self.send("idle")
        return False

    def hold(self, trial_id: int, lease_id: str, study: str) -> None:
        """Rank 0, as soon as it has a job: records the lease for the supervisor to settle."""
        lease = {"trial_id": trial_id, "lease_id": lease_id, "study": study}
        _write_json(self.folder / JOB_FILE, lease)

    def decide(self, go_on: bool) -> None:
        self.send("decision", go_on)

    def ended(self) -> None:
        """Rank 0: the job's lease is settled (reported, released, failed or lost)."""
        (self.folder / JOB_FILE).unlink(missing_ok=True)
        self.jobs_ended += 1
        (self.folder / JOBS_ENDED_FILE).write_text(str(self.jobs_ended))

    def close(self) -> None:
        """Rank 0, when the study is done or the worker stops: the others exit."""
        self.send("exit")
        dist.destroy_process_group()

    def abandon(self, exc: BaseException) -> None:
        """Leaves the group at once, saying why; the supervisor settles the job. Never returns."""
        log.error("rank %d: trial failed:\n%s", self.rank, "".join(traceback.format_exception(exc)))
        error = {
            "rank": self.rank,
            "reason": f"{type(exc).__name__}: {exc}"[:4000],
            "configuration": isinstance(exc, CONFIGURATION_FAILURES),
            "time": time.time(),
        }
        _write_json(self.folder / f"error-{self.rank}.json", error)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_TRIAL_FAILED)


class _Exit(Exception):
    """Rank 0 said exit in the middle of a job."""


def run_follower(objective: Objective, group: RankGroup) -> int:
    """Ranks 1..N-1: train each job rank 0 hands out until it says exit; returns jobs trained."""
    jobs = 0
    unused = (
        group.folder / f"rank-{group.rank}-never-written.pt"
    )  # train_segment saves on rank 0 only

    def on_epoch(epoch: int, value: object) -> bool:
        kind, *rest = group.receive()
        if kind == "exit":  # rank 0 stopped at once (a second SIGTERM) and handed the job back
            raise _Exit
        if kind != "decision":
            raise RuntimeError(
                f"rank {group.rank}: expected a decision after epoch {epoch}, got {kind!r}"
            )
        return bool(rest[0])

    while True:
        kind, *rest = group.receive()
        if kind == "exit":
            dist.destroy_process_group()
            return jobs
        if kind != "job":
            continue
        job = rest[0]
        checkpoint_in = Path(job["checkpoint_in"]) if job["checkpoint_in"] else None
        if checkpoint_in is not None:
            log.info(
                "rank %d: trial %d resumes from %s at epoch %d",
                group.rank,
                job["trial_id"],
                checkpoint_in,
                job["resume_from"],
            )
        try:
            train_segment(
                objective,
                job["config"],
                job["resume_from"],
                job["milestone"],
                checkpoint_in,
                unused,
                on_epoch,
                trial_seed=job["trial_id"],
            )
        except _Exit:
            dist.destroy_process_group()
            return jobs
        except Exception as exc:  # noqa: BLE001 - any failure ends the group, said why
            group.abandon(exc)
        jobs += 1


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _write_json(path: Path, value: dict[str, Any]) -> None:
    """Atomically: the supervisor may read it the moment this rank is killed."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)
