"""The worker process: ask the server for a job, train it, report, repeat.

One process per GPU. On SIGTERM or Ctrl-C the worker finishes the epoch it is
training, saves a checkpoint there, reports, and hands the job back (Release),
so another worker resumes the trial from that epoch; a second signal hands the
job back at once (resumed from the last rung's checkpoint).

Training code that fails (an exception, CUDA out of memory, a NaN loss) fails
its trial with the reason, and the worker goes on to its next job. Only a run
of `max_failures` consecutive failures other than divergence or out-of-memory
(which say the configuration is bad, not the worker) stops the worker: then
its code or machine is broken, and failing every trial of the study would not help.

Checkpoints live either in a folder all workers share (`--checkpoints DIR`) or
on the server (`--checkpoints server`): then each milestone's checkpoint is
saved to a private temporary folder, uploaded before the report that names it,
and downloaded by whichever worker resumes the trial.

With `--gpus-per-trial N` this loop runs on rank 0 of the trial's processes,
given a `ddp.RankGroup`: it hands each job and each epoch's decision to the
other ranks, and a failed trial ends the whole group (`RankGroup.abandon`)
instead of failing it here, so the supervisor can tell a crash from a bug.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from rung.client import Client, Decision, Trial
from rung.client.study import TrialLost
from rung.client.transfer import is_server_ref

from .objective import Objective
from .progress import WorkerProgress
from .segment import CONFIGURATION_FAILURES, train_segment

if TYPE_CHECKING:
    from .ddp import RankGroup

log = logging.getLogger("rung.worker")

__all__ = ["CONFIGURATION_FAILURES", "WorkerSummary", "run_trial", "run_worker"]

MAX_FAILURES_IN_A_ROW = 3
SERVER_CHECKPOINTS = "server"  # --checkpoints value that keeps checkpoints on the server


@dataclass
class WorkerSummary:
    jobs: int = 0
    epochs_trained: int = 0
    epochs_resumed: int = 0  # epochs a resume skipped compared with retraining from scratch
    failed: int = 0  # jobs whose training code failed (their trials failed on the server)


class Shutdown:
    """Signal handler: the first signal asks for a graceful stop, a second one stops now."""

    def __init__(self) -> None:
        self.requested = threading.Event()

    def __call__(self, signum: int, frame: object) -> None:
        if self.requested.is_set():
            raise KeyboardInterrupt(f"signal {signum}")
        log.warning("signal %d: finishing this epoch, then handing the job back", signum)
        self.requested.set()


def run_trial(
    trial: Trial,
    objective: Objective,
    upload: bool = False,
    stopping: threading.Event | None = None,
    progress: WorkerProgress | None = None,
    group: RankGroup | None = None,
) -> int:
    """Trains one job; returns the number of epochs trained.

    With `upload`, the milestone's checkpoint is stored on the server before
    the report that names it, so no report ever names a checkpoint that is not there.
    When `stopping` is set, training ends after the current epoch and the job
    is handed back with a checkpoint of that epoch. With `group`, the other
    ranks get the job and, after each epoch, the decision (also when reporting raised).
    """
    stopping = stopping or threading.Event()
    shown = (progress or WorkerProgress()).job(
        trial.trial_id, trial.resume_from, trial.milestone, trial.config, objective.describe()
    )
    trained = 0
    trial.checkpoint_out.parent.mkdir(parents=True, exist_ok=True)

    def decide(epoch: int, error: float | Mapping[str, float]) -> bool:
        if trial.lost:
            return False
        checkpoint: bool | str = epoch == trial.milestone
        if checkpoint and upload:
            checkpoint = trial.upload_checkpoint(trial.checkpoint_out)
        decision = trial.report(epoch, error, checkpoint=checkpoint)
        shown.reported(epoch, decision.name.lower())
        return decision is Decision.CONTINUE and not stopping.is_set()

    def on_epoch(epoch: int, error: float | Mapping[str, float]) -> bool:
        nonlocal trained
        trained += 1
        try:
            go_on = decide(epoch, error)
        except BaseException:
            if group is not None:
                group.decide(False)
            raise
        if group is not None:
            group.decide(go_on)
        return go_on

    if group is not None:  # first: a failed download must not leave the lease to expire
        group.hold(trial.trial_id, trial.lease_id, trial.study.name)
    checkpoint_in = _checkpoint_in(trial)
    if group is not None:
        job = {
            "trial_id": trial.trial_id,
            "config": trial.config,
            "resume_from": trial.resume_from,
            "milestone": trial.milestone,
            "checkpoint_in": str(checkpoint_in) if checkpoint_in else "",
        }
        group.send("job", job)
    train_segment(
        objective,
        trial.config,
        trial.resume_from,
        trial.milestone,
        checkpoint_in,
        trial.checkpoint_out,
        on_epoch,
        trial_seed=trial.trial_id,  # equal configurations in two trials still differ
        progress=shown,
    )
    if stopping.is_set() and not trial.finished:
        _hand_back(trial, upload)
    return trained


def _hand_back(trial: Trial, upload: bool) -> None:
    """Releases the job with the checkpoint `train_segment` saved at the last epoch."""
    at = trial.reported
    if at <= trial.resume_from:
        trial.release()
        return
    saved = trial.checkpoint_path(at)
    os.replace(trial.checkpoint_out, saved)
    ref = trial.upload_checkpoint(saved, resource=at) if upload else str(saved)
    trial.release(at, ref)
    log.info("trial %d handed back with a checkpoint at %d", trial.trial_id, at)


def _checkpoint_in(trial: Trial) -> Path | None:
    """The checkpoint to resume from as a local file, downloaded when the server keeps it."""
    if not trial.resume_from:
        return None
    if not is_server_ref(trial.checkpoint_in):
        return Path(trial.checkpoint_in)
    local = trial.checkpoint_out.with_name(f"resume-r{trial.resume_from}.pt")
    return trial.study.download_checkpoint(trial.checkpoint_in, local)


def run_worker(
    client: Client,
    study: str,
    objective: Objective,
    checkpoints: str | Path,
    worker_id: str | None = None,
    progress: WorkerProgress | None = None,
    max_failures: int = MAX_FAILURES_IN_A_ROW,
    group: RankGroup | None = None,
) -> WorkerSummary:
    """Runs jobs until the study is done; `checkpoints` is a shared folder or "server".

    `max_failures` consecutive failures (not counting divergence and
    out-of-memory) stop the worker with the last one's exception; 0 never stops.
    With `group` (rank 0 of a multi-process trial) a failure ends the group instead.
    """
    shutdown = Shutdown()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, shutdown)
    upload = str(checkpoints) == SERVER_CHECKPOINTS
    scratch = tempfile.TemporaryDirectory(prefix="rung-worker-") if upload else None
    checkpoint_dir = Path(scratch.name) if scratch else Path(checkpoints)
    summary = WorkerSummary()
    failures = 0
    try:
        def stop() -> bool:  # called before each Suggest
            return shutdown.requested.is_set() or (group is not None and group.idle())

        jobs = client.study(study).trials(worker_id, checkpoint_dir, stop=stop)
        for trial in jobs:
            log.info("job %r", trial)
            try:
                try:
                    with trial:  # an exception marks the trial failed on the server
                        summary.epochs_trained += _train(
                            trial, objective, upload, shutdown.requested, progress, group
                        )
                finally:  # (not after `abandon`: then the supervisor settles the lease)
                    if group is not None:
                        group.ended()
            except CONFIGURATION_FAILURES as exc:
                summary.failed += 1
                log.warning("trial %d failed: %s: %s", trial.trial_id, type(exc).__name__, exc)
                _free_device_memory(objective)
                continue
            except Exception:
                summary.failed += 1
                failures += 1
                log.exception("trial %d failed (%d in a row)", trial.trial_id, failures)
                _free_device_memory(objective)
                if failures == max_failures:
                    raise
                continue
            finally:
                if upload:  # the server holds what matters; keep the scratch folder small
                    shutil.rmtree(trial.checkpoint_out.parent, ignore_errors=True)
            failures = 0
            summary.jobs += 1
            summary.epochs_resumed += trial.resume_from
    except KeyboardInterrupt:
        log.info("worker interrupted; its job was handed back")
    finally:
        if group is not None:
            _close_group(group)
        client.close()
        if scratch:
            scratch.cleanup()
    return summary


def _train(
    trial: Trial,
    objective: Objective,
    upload: bool,
    stopping: threading.Event,
    progress: WorkerProgress | None,
    group: RankGroup | None,
) -> int:
    """`run_trial`; on rank 0 of a group, a failure (not a lost lease) ends the group at once."""
    try:
        return run_trial(trial, objective, upload, stopping, progress, group)
    except TrialLost:
        raise
    except Exception as exc:
        if group is not None:
            group.abandon(exc)  # the supervisor fails the trial: its peers may be mid-collective
        raise


def _close_group(group: RankGroup) -> None:
    """Tells the other ranks to exit; if they are gone already the supervisor ends the group."""
    try:
        group.close()
    except Exception as exc:  # noqa: BLE001 - e.g. a peer left in another collective
        log.warning("could not close the trial's process group: %s", exc)


def _free_device_memory(objective: Objective) -> None:
    """After a failed trial, give its tensors back (the exception held them) before the next one."""
    gc.collect()
    if objective.device.type == "cuda":
        torch.cuda.empty_cache()
