"""Training one job of a trial: epochs ``start+1 .. end`` of any objective.

This is the single training loop of the workers; objectives only build,
train an epoch, evaluate and hand over state (see `objective`). It

* seeds the global RNGs from ``(settings.seed, trial_seed)`` before the
  trainer is built, and restores them from the checkpoint when resuming, so a
  trial resumed over several jobs trains exactly as one trained straight
  through (on the CPU bit for bit; on CUDA up to cuDNN's nondeterminism);
* times each epoch's training (images per second) and reports progress;
* fails a trial whose loss or metric is not finite (`TrialDiverged`): the
  server could not rank it, and training further only wastes the GPU;
* writes the checkpoint at ``end`` *before* the last ``on_epoch`` call, so a
  trial is resumable by the time the server hears it reached its milestone;
  if ``on_epoch`` says stop earlier, it checkpoints that epoch and stops;
* on a trial spanning several processes, checkpoints on rank 0 only (the
  ranks hold the same state) and loads the checkpoint on every rank.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .objective import Objective, TrialContext
from .progress import QUIET, TrialProgress

OnEpoch = Callable[[int, float], bool]
"""Called with (epoch, metric, or named metrics: `Trainer.reported`) after each epoch;
returning False stops the trial."""


class TrialDiverged(ValueError):
    """The training loss or the metric is NaN or infinite: the configuration failed."""


CONFIGURATION_FAILURES = (TrialDiverged, torch.OutOfMemoryError)
"""Failures that say the configuration is bad (too high a learning rate, too big a batch),
not the worker."""


def train_segment(
    objective: Objective,
    config: Mapping[str, Any],
    start_epoch: int,
    end_epoch: int,
    checkpoint_in: Path | None,
    checkpoint_out: Path,
    on_epoch: OnEpoch,
    *,
    trial_seed: int,
    progress: TrialProgress = QUIET,
) -> float:
    """Train epochs ``start_epoch+1 .. end_epoch``; return the last metric."""
    settings, device = objective.settings, objective.device
    if not 0 <= start_epoch < end_epoch <= settings.max_epochs:
        raise ValueError(
            f"need 0 <= start_epoch < end_epoch <= max_epochs={settings.max_epochs}, "
            f"got {start_epoch}, {end_epoch}"
        )
    if start_epoch == 0 and checkpoint_in is not None:
        raise ValueError("checkpoint_in given for a trial starting at epoch 0")
    if trial_seed < 0:
        raise ValueError(f"trial_seed must be >= 0, got {trial_seed}")
    _seed_everything(settings.seed, trial_seed)
    trainer = objective.build(config, TrialContext(trial_seed=trial_seed, settings=settings, device=device))
    if start_epoch > 0:
        if checkpoint_in is None:
            raise CheckpointError(f"resuming at epoch {start_epoch} needs checkpoint_in")
        loaded = load_checkpoint(checkpoint_in, trainer.load_state_dict, device)
        if loaded != start_epoch:
            raise CheckpointError(f"checkpoint {checkpoint_in} is at epoch {loaded}, expected {start_epoch}")

    def save(epoch: int, value: float) -> None:
        if settings.rank != 0:
            return
        extra = {
            "trial_seed": trial_seed,
            "config": dict(config),
            "value": value,
            "recorded": objective.describe(),
        }
        save_checkpoint(checkpoint_out, state=trainer.state_dict(), epoch=epoch, extra=extra, device=device)

    value = math.nan
    for epoch in range(start_epoch + 1, end_epoch + 1):
        with progress.epoch(epoch, trainer.examples_per_epoch) as advance:
            started = time.perf_counter()
            stats = trainer.train_epoch(epoch, advance)
            seconds = time.perf_counter() - started  # stats.loss is a float: the device is done
        if not math.isfinite(stats.loss):
            raise TrialDiverged(f"training loss is {stats.loss} at epoch {epoch}")
        value = float(trainer.evaluate())
        if not math.isfinite(value):
            raise TrialDiverged(f"metric is {value} at epoch {epoch}")
        progress.epoch_done(epoch, stats.loss, value, stats.examples / max(seconds, 1e-9))
        reported = trainer.reported(value)
        if epoch == end_epoch:
            save(epoch, value)
            on_epoch(epoch, reported)
        elif not on_epoch(epoch, reported):
            save(epoch, value)
            break
    return value


def _seed_everything(seed: int, trial_seed: int) -> None:
    sequence = np.random.SeedSequence([seed, trial_seed])
    torch_seed = int(sequence.generate_state(1, np.uint64)[0])
    torch.manual_seed(torch_seed)  # also seeds every CUDA device
    random.seed(torch_seed)
    np.random.seed(int(sequence.generate_state(1)[0]))
