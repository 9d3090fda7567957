"""The worker process: ask the server for a job, train it, report, repeat.

One process per GPU. On SIGTERM or Ctrl-C the current job is handed back
(Release) so another worker resumes it from its last checkpoint.
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass
from pathlib import Path

from rung.client import Client, Decision, Trial

from .training import Objective, TrainingSettings

log = logging.getLogger("rung.worker")


MAX_FAILURES_IN_A_ROW = 3


@dataclass
class WorkerSummary:
    jobs: int = 0
    epochs_trained: int = 0
    epochs_resumed: int = 0  # epochs a resume skipped compared with retraining from scratch


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_trial(trial: Trial, objective: Objective) -> int:
    """Trains one job; returns the number of epochs trained."""
    trained = 0

    def on_epoch(epoch: int, error: float) -> bool:
        nonlocal trained
        trained += 1
        if trial.lost:
            return False
        decision = trial.report(epoch, error, checkpoint=epoch == trial.milestone)
        return decision is Decision.CONTINUE

    objective.train(
        trial.config,
        trial.resume_from,
        trial.milestone,
        Path(trial.checkpoint_in) if trial.resume_from else None,
        trial.checkpoint_out,
        on_epoch,
    )
    return trained


def run_worker(
    server: str,
    study: str,
    settings: TrainingSettings,
    checkpoint_dir: Path,
    worker_id: str | None = None,
) -> WorkerSummary:
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    client = Client(server)
    objective = Objective(settings)
    summary = WorkerSummary()
    failures = 0
    try:
        for trial in client.study(study).trials(worker_id, checkpoint_dir):
            log.info("job %r", trial)
            try:
                with trial:  # an exception marks the trial failed on the server
                    summary.epochs_trained += run_trial(trial, objective)
            except Exception:
                failures += 1
                log.exception("trial %d failed (%d in a row)", trial.trial_id, failures)
                if failures >= MAX_FAILURES_IN_A_ROW:
                    raise
                continue
            failures = 0
            summary.jobs += 1
            summary.epochs_resumed += trial.resume_from
    except KeyboardInterrupt:
        log.info("worker interrupted; its job was handed back")
    finally:
        client.close()
    return summary
