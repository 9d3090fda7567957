"""PyTorch Lightning: a callback that reports to rung, stops, checkpoints and resumes.

    from rung.integrations.lightning import RungCallback, resume_path, trials

    for trial in trials(study, checkpoint_dir="ckpt"):
        with trial:  # the SDK heartbeats; an exception fails the trial, SIGTERM hands it back
            seed_everything(0)
            trainer = Trainer(max_epochs=trial.milestone, callbacks=[RungCallback(trial)])
            trainer.fit(Model(**trial.config), data, ckpt_path=resume_path(trial))

* Resource = epochs. Lightning's `current_epoch` counts from 0, rung from 1: the
  epoch with `current_epoch == e` is reported as resource e + 1, so a job trains
  and reports `trial.epochs()` (resume_from + 1 .. milestone).
* At the milestone the callback saves Lightning's own checkpoint
  (`trainer.save_checkpoint`: model, optimizers, LR schedulers, loops, callbacks)
  to `trial.checkpoint_out`, uploads it with `upload=True`, reports, and stops.
  `resume_path(trial)` is that checkpoint (downloaded if the server keeps it)
  for a promoted trial, None for a new one; Lightning restores everything from it.
* The checkpoint also holds the global RNG states (torch, numpy, random) at the
  save, restored at load: a resumed trial draws the same data order and dropout
  as one trained straight through.
* PAUSE or STOP stops the Trainer (`trainer.should_stop`); SIGTERM makes Lightning
  raise SIGTERMException (a SystemExit) after the batch, and `with trial:` hands
  the job back, to be resumed from the last milestone's checkpoint.
* DDP on one machine (`Trainer(devices=N, strategy="ddp")`): Lightning starts
  ranks 1..N-1 by running the script again. `trials()` gives them rank 0's trial
  instead of asking the server; only rank 0 reports, uploads and heartbeats, and
  its decision is broadcast to every rank.
"""

from __future__ import annotations

import base64
import json
import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Checkpoint

from rung import wire
from rung.client import Decision, Study, Trial
from rung.v1 import rung_pb2 as pb

from ._store import resume_file, store

__all__ = ["RungCallback", "resume_path", "trials"]

SUFFIX = ".ckpt"
JOB_ENV = "RUNG_LIGHTNING_JOB"  # rank 0's job, for the ranks Lightning starts during its fit


class RungCallback(Checkpoint):
    """Reports `monitor` at every epoch end and turns rung's decision into Lightning's.

    `monitor` is a metric the LightningModule logs (`self.log("val_loss", ...)`), or
    several names to report them all (a study with several objectives or constraints).
    With `upload`, checkpoints are stored on the server (workers without a shared
    folder); `checkpoint_dir` is then scratch space.

    A Checkpoint callback, so Lightning adds no ModelCheckpoint of its own and calls
    this one after `LightningModule.on_train_epoch_end` (metrics logged there count).
    """

    def __init__(
        self, trial: Trial, monitor: str | Sequence[str] = "val_loss", upload: bool = False
    ):
        self.trial = trial
        self.monitor = monitor
        self.upload = upload
        self.decision = Decision.CONTINUE

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        max_epochs = trainer.max_epochs
        if stage == "fit" and max_epochs not in (None, -1) and max_epochs < self.trial.milestone:
            raise ValueError(
                f"Trainer(max_epochs={max_epochs}) stops before the trial's milestone "
                f"{self.trial.milestone}: use max_epochs=trial.milestone (or the study's r_max)"
            )

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if epoch <= self.trial.resume_from:  # an epoch the checkpoint already holds
            return
        at_milestone = epoch >= self.trial.milestone
        path = self.trial.checkpoint_path(epoch)
        if at_milestone:
            trainer.save_checkpoint(path, weights_only=False)  # every rank (barrier); rank 0 writes
        decision = None
        if trainer.is_global_zero:
            try:
                checkpoint = store(self.trial, path, self.upload, epoch) if at_milestone else False
                value = self._value(trainer)
                decision = self.trial.report(epoch, value, checkpoint=checkpoint).name
            except BaseException:
                trainer.strategy.broadcast("", src=0)  # the other ranks stop too, not wait
                raise
        decision = trainer.strategy.broadcast(decision, src=0)
        if not decision:
            raise RuntimeError(f"rank 0 could not report epoch {epoch} to rung")
        self.decision = Decision[decision]
        if at_milestone or self.decision is not Decision.CONTINUE:
            trainer.should_stop = True

    def _value(self, trainer: Trainer) -> float | dict[str, float]:
        names = [self.monitor] if isinstance(self.monitor, str) else list(self.monitor)
        missing = [n for n in names if n not in trainer.callback_metrics]
        if missing:
            raise KeyError(
                f"RungCallback: {missing} not logged this epoch (logged: "
                f"{sorted(trainer.callback_metrics)}); log it with self.log() or pick monitor="
            )
        values = {n: float(trainer.callback_metrics[n]) for n in names}
        return values[names[0]] if isinstance(self.monitor, str) else values

    def state_dict(self) -> dict[str, Any]:
        return {"rng": _rng_states()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # Restored while Lightning loads the checkpoint, before the first epoch's data
        # loader draws its shuffling seed: the draws match those of a straight run.
        if "rng" in state_dict:
            _set_rng_states(state_dict["rng"])


def resume_path(trial: Trial) -> str | None:
    """`Trainer.fit(ckpt_path=...)` for this trial: its checkpoint as a local file (fetched
    from the server when it keeps it) for a promoted or handed-back trial, None for a new one."""
    path = resume_file(trial, SUFFIX)
    return None if path is None else str(path)


def trials(
    study: Study, checkpoint_dir: str | Path | None = None, **kwargs: Any
) -> Iterator[Trial]:
    """`study.trials(checkpoint_dir, **kwargs)`, also right under DDP.

    On rank 0 (or without DDP) these are the SDK's trials. The ranks Lightning
    starts during rank 0's first `fit` run the script again; here they get rank 0's
    trial instead of asking the server: the first from the environment Lightning
    copies into them, each later one broadcast by rank 0. They never call the
    server (only `create_study`, which opens the existing study, does). One machine:
    the ranks read rank 0's local copy of a server-side checkpoint.
    """
    if int(os.environ.get("LOCAL_RANK", "0")) > 0:
        yield from _follow_rank_zero(study)
        return
    try:
        for trial in study.trials(checkpoint_dir=checkpoint_dir, **kwargs):
            payload = _payload(trial)  # fetches the checkpoint before another rank looks for it
            if _group_ready():
                dist.broadcast_object_list([payload], src=0)
            os.environ[JOB_ENV] = payload
            yield trial
    finally:
        os.environ.pop(JOB_ENV, None)
    # The study is done: the other ranks leave their loop too. (A loop left by an
    # exception or `break` sends nothing; they fail once rank 0 exits.)
    if _group_ready():
        dist.broadcast_object_list([None], src=0)
        _leave_group()


class _RankTrial(Trial):
    """Rank k > 0's copy of rank 0's trial: the same job, and no calls to the server."""

    def __enter__(self) -> Trial:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self.finished = True
        return False

    def report(self, *args: Any, **kwargs: Any) -> Decision:
        raise RuntimeError("only global rank 0 reports to rung")


def _payload(trial: Trial) -> str:
    """Rank 0's job as text, naming the local copy of the checkpoint to resume from."""
    local = resume_path(trial)
    job = pb.Job(
        kind=pb.RESUME if trial.resume_from else pb.START,
        trial_id=trial.trial_id,
        config=wire.config_to_pb(trial.config),
        resume_from=trial.resume_from,
        milestone=trial.milestone,
        checkpoint=local or "",
    )
    folder = None if trial.checkpoint_dir is None else str(trial.checkpoint_dir)
    return json.dumps({"job": base64.b64encode(job.SerializeToString()).decode(), "dir": folder})


def _follow_rank_zero(study: Study) -> Iterator[Trial]:
    payload: str | None = os.environ.get(JOB_ENV)
    if payload is None:
        raise RuntimeError(
            f"rank {os.environ.get('LOCAL_RANK')} has no job from rank 0: start DDP from one "
            "process (Trainer(devices=N, strategy='ddp')) and iterate rung.integrations."
            "lightning.trials(study) there"
        )
    while payload is not None:
        message = json.loads(payload)
        job = pb.Job.FromString(base64.b64decode(message["job"]))
        yield _RankTrial(study, job, message["dir"])
        received: list[str | None] = [None]
        dist.broadcast_object_list(received, src=0)
        payload = received[0]
    _leave_group()


def _leave_group() -> None:
    """Every rank shuts the process group down together once the study is done: a
    gloo group left to the interpreter's exit aborts the process ("terminate called
    without an active exception") when a peer has already closed its sockets."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _group_ready() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _rng_states() -> dict[str, Any]:
    """The global RNG states as tensors and numbers: Lightning loads checkpoints with
    `torch.load(weights_only=True)`, which refuses numpy arrays."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
