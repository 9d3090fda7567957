"""Hugging Face Trainer: a callback that reports to rung, stops, checkpoints and resumes.

    from rung.integrations.transformers import RungCallback, resume_path

    for trial in study.trials(checkpoint_dir="ckpt"):
        with trial:  # the SDK heartbeats; an exception fails the trial, SIGTERM hands it back
            args = TrainingArguments(output_dir, num_train_epochs=R_MAX, eval_strategy="epoch",
                                     save_strategy="no", seed=0, **trial.config)
            trainer = Trainer(model_init(), args, ..., callbacks=[RungCallback(trial)])
            trainer.train(resume_from_checkpoint=resume_path(trial))

* The resource follows `eval_strategy`: "epoch" reports at each epoch end
  (resource = epochs), "steps" at every `eval_steps` optimizer steps (resource =
  steps: the study's r_min .. r_max count steps, and the callback also evaluates
  at each milestone that is not a multiple of eval_steps).
* The Trainer's horizon (`num_train_epochs`, or `max_steps` with "steps") is the
  study's r_max, so the LR schedule is the same in every segment; the callback
  stops training at the milestone (`control.should_training_stop`), and on PAUSE
  or STOP.
* At the milestone it asks the Trainer for its own checkpoint (`control.should_save`:
  model, optimizer, scheduler, RNG states, trainer state), packs the folder into
  one tar file at `trial.checkpoint_out` (".tar"), uploads it with `upload=True`,
  and reports. `resume_path(trial)` unpacks it (checking every member's path) for
  `trainer.train(resume_from_checkpoint=...)`, which restores all of it, so a
  resumed trial matches one trained straight through.
* SIGTERM during `train` ends the trial's job at the next optimizer step: the
  callback raises SystemExit, and `with trial:` hands the job back (it resumes
  from the last milestone's checkpoint).
* One process: the callback refuses a distributed Trainer (world_size > 1).
"""

from __future__ import annotations

import shutil
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from rung.client import Decision, Trial

from ._store import pack, resume_file, store, unpack

__all__ = ["RungCallback", "resume_path"]

SUFFIX = ".tar"
UNITS = {"epoch": "epochs", "steps": "steps"}


class RungCallback(TrainerCallback):
    """Reports `metric` at each evaluation and turns rung's decision into the Trainer's.

    `metric` is a key of the evaluation metrics ("eval_loss", or "eval_<name>" from
    `compute_metrics`), or several keys to report them all. With `upload`, checkpoints
    are stored on the server (workers without a shared folder).
    """

    def __init__(
        self, trial: Trial, metric: str | Sequence[str] = "eval_loss", upload: bool = False
    ):
        self.trial = trial
        self.metric = metric
        self.upload = upload
        self.decision = Decision.CONTINUE
        self.unit = ""
        self._milestone_value: float | dict[str, float] | None = None
        self._training = False
        self._sigterm = threading.Event()
        self._previous_handler: Any = None

    # ------------------------------------------------------------ Trainer hooks

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        unit = UNITS.get(str(getattr(args.eval_strategy, "value", args.eval_strategy)))
        if unit is None:
            raise ValueError(
                f"RungCallback needs eval_strategy='epoch' (resource = epochs) or 'steps' "
                f"(resource = optimizer steps), not {args.eval_strategy!r}"
            )
        if args.world_size > 1:
            raise NotImplementedError("RungCallback runs in one process (world_size 1)")
        if args.save_strategy == "best":  # it would decide on its own whether the milestone saves
            raise ValueError("RungCallback needs save_strategy 'no', 'epoch', 'steps', not 'best'")
        horizon = state.num_train_epochs if unit == "epochs" else state.max_steps
        if horizon < self.trial.milestone:
            raise ValueError(
                f"the Trainer stops at {horizon} {unit}, before the trial's milestone "
                f"{self.trial.milestone}: set num_train_epochs (or max_steps) to the study's r_max"
            )
        self.unit = unit
        self._training = True
        self._milestone_value = None
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGTERM, self._on_sigterm)

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self._sigterm.is_set():
            self._restore_handler()
            raise SystemExit(128 + signal.SIGTERM)  # `with trial:` hands the job back
        if self.unit == "steps" and state.global_step == self.trial.milestone:
            control.should_evaluate = True

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        resource = self._resource(state)
        if not self._training or resource <= self.trial.resume_from:
            return
        value = self._value(metrics or {})
        if resource >= self.trial.milestone:
            # Report once the Trainer has saved its checkpoint (`on_save` comes next, before
            # the Trainer looks at should_training_stop).
            self._milestone_value = value
            control.should_save = control.should_training_stop = True
            return
        self.decision = self.trial.report(resource, value)
        if self.decision is not Decision.CONTINUE:
            control.should_training_stop = True

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self._milestone_value is None:  # one of the user's own saves
            return
        resource = self._resource(state)
        folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        archive = pack(folder, self.trial.checkpoint_path(resource).with_suffix(SUFFIX))
        if args.save_strategy == "no":  # saved for rung only
            shutil.rmtree(folder, ignore_errors=True)
        checkpoint = store(self.trial, archive, self.upload, resource)
        self.decision = self.trial.report(resource, self._milestone_value, checkpoint=checkpoint)
        self._milestone_value = None
        control.should_training_stop = True

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self._training = False
        self._restore_handler()
        if self._sigterm.is_set():  # came after the last step: still hand the job back
            raise SystemExit(128 + signal.SIGTERM)
        if self._milestone_value is not None:
            raise RuntimeError(f"the Trainer did not save at the milestone {self.trial.milestone}")

    # ------------------------------------------------------------------ helpers

    def _resource(self, state: TrainerState) -> int:
        return round(state.epoch or 0) if self.unit == "epochs" else state.global_step

    def _value(self, metrics: dict[str, float]) -> float | dict[str, float]:
        names = [self.metric] if isinstance(self.metric, str) else list(self.metric)
        missing = [n for n in names if n not in metrics]
        if missing:
            raise KeyError(f"RungCallback: no {missing} among the eval metrics {sorted(metrics)}")
        values = {n: float(metrics[n]) for n in names}
        return values[names[0]] if isinstance(self.metric, str) else values

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self._sigterm.set()  # acted on at the next step's end, between optimizer steps

    def _restore_handler(self) -> None:
        if self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
            self._previous_handler = None


def resume_path(trial: Trial) -> str | None:
    """`trainer.train(resume_from_checkpoint=...)` for this trial: its checkpoint folder,
    unpacked from the stored archive (fetched from the server when it keeps it), or None
    for a new trial."""
    archive = resume_file(trial, SUFFIX)
    if archive is None:
        return None
    folder = archive.with_name(f"{archive.name.removesuffix(SUFFIX)}-unpacked")
    return str(unpack(archive, folder))
