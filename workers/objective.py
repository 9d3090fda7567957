"""The interface between `rung worker` and training code: an objective.

An objective is what a worker evaluates. Its code says how to build a model and
its data from a configuration, train one epoch, evaluate, and hand its state
over for a checkpoint; the worker does everything else, in one place
(`segment.train_segment` and `loop.run_worker`): seeding, resuming from
checkpoints, the epoch loop, reports, heartbeats, progress, hand-back on
SIGTERM, and failing a trial whose code raised or diverged.

Your own objective is a factory given by import path::

    rung worker --objective mypkg.train:make_objective ...

    def make_objective(settings: TrainingSettings) -> Objective: ...

`make_objective` runs once per worker process (load data sets there, once);
`Objective.build` runs once per job and returns a `Trainer` for that trial.
`examples/spiral_objective/` is a complete example; the built-in LeNet and
ResNet-18 (`rung.workers.training`) and the dropout MLP (`rung.workers.mlp`)
use the same interface.

Rules a trainer must keep for resumed trials to equal trials trained straight
through (the loop cannot check them):

* `state_dict` holds everything that changes while training (model, optimizer,
  LR schedule, grad scaler) as tensors, numbers, strings, lists and dicts:
  checkpoints are loaded with ``torch.load(weights_only=True)``.
* Learning-rate schedules span ``context.max_epochs`` (the study's r_max), not
  the job's milestone.
* Data order comes from ``context.epoch_generator(epoch)``; the global RNGs
  (torch, numpy, random) are seeded per trial and saved with each checkpoint
  by the loop, so dropout and initialization need nothing more.

Under ``--gpus-per-trial N`` every rank runs the objective; one that can train
that way says so (``supports_ddp = True``), trains ``context.wrap_model(model)``
(DistributedDataParallel) on its share of each batch (``context.shard``), and
keeps the plain model in ``state_dict``. The loop does the rest: the process
group, the job and decisions on every rank, checkpoints from rank 0 alone.
"""

from __future__ import annotations

import importlib
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from .datapath import DataPathOptions


@dataclass(frozen=True, kw_only=True)
class TrainingSettings:
    """What a worker process fixes for all the trials it runs (its command-line flags)."""

    data_dir: Path
    max_epochs: int
    """Horizon of learning-rate schedules: the study's r_max, identical on every worker."""
    dataset: str = "fashion_mnist"
    model: str = "lenet"
    n_train: int | None = 6000
    n_val: int | None = 1000
    device: str = "auto"
    """"cpu", "cuda", "cuda:1", or "auto" (CUDA when available)."""
    amp: bool = False
    """Mixed precision on CUDA (bf16 where supported, else fp16 with loss scaling); ignored on the CPU."""
    seed: int = 0
    """Seeds the train/val split and, with the trial seed, everything random in a trial."""
    download: bool = False
    """Let torchvision download a missing data set (do it once, not from many workers at once)."""
    data_path: DataPathOptions = field(default_factory=DataPathOptions)
    model_metrics: bool = False
    """Report {"error", "params", "latency_ms"} instead of the error alone (built-in CNNs;
    workers/model_metrics.py)."""
    options: Mapping[str, str] = field(default_factory=dict)
    """Free-form ``--objective-option KEY=VALUE`` pairs for user objectives."""
    rank: int = 0
    """This process's rank in a trial trained on several processes (``--gpus-per-trial``)."""
    world_size: int = 1
    """How many processes train each trial (1: no process group)."""

    def __post_init__(self) -> None:
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"need 0 <= rank < world_size, got {self.rank}, {self.world_size}")
        if self.max_epochs < 1:
            raise ValueError(f"max_epochs must be >= 1, got {self.max_epochs}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")


@dataclass(frozen=True)
class EpochStats:
    """What training one epoch returns: the mean training loss and how many examples it saw."""

    loss: float
    examples: int


Advance = Callable[[int], None]
"""Called by a trainer with the number of examples of each batch it trained (drives the progress bar)."""


@dataclass(frozen=True)
class TrialContext:
    """What the loop tells a trainer about the trial it builds."""

    trial_seed: int
    settings: TrainingSettings
    device: torch.device

    @property
    def max_epochs(self) -> int:
        return self.settings.max_epochs

    @property
    def rank(self) -> int:
        return self.settings.rank

    @property
    def world_size(self) -> int:
        return self.settings.world_size

    def wrap_model(self, model: nn.Module) -> nn.Module:
        """The module to train: DistributedDataParallel around `model` when a trial spans
        several processes (gradients averaged over the ranks), `model` itself otherwise.
        Keep `model` for `state_dict`, so checkpoints fit workers of any width."""
        if self.world_size == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        if self.device.type != "cuda":
            return DistributedDataParallel(model)
        return DistributedDataParallel(model, device_ids=[self.device.index or 0])

    def shard(self, indices: torch.Tensor) -> torch.Tensor:
        """This rank's part of a batch (every world_size-th index): the ranks together train
        the whole batch, so a configuration's batch size means the same on any number of GPUs."""
        return indices[self.rank :: self.world_size]

    def epoch_generator(self, epoch: int, device: torch.device | str = "cpu") -> torch.Generator:
        """The generator for epoch `epoch`'s data order: the same whether trained straight or resumed."""
        sequence = np.random.SeedSequence([self.settings.seed, self.trial_seed, epoch])
        return torch.Generator(device).manual_seed(int(sequence.generate_state(1, np.uint64)[0]))


class Trainer(ABC):
    """One trial's model, optimizer and data, as built from its configuration."""

    @abstractmethod
    def train_epoch(self, epoch: int, advance: Advance) -> EpochStats:
        """Train epoch `epoch` (1-based); call `advance(n)` after each batch of n examples."""

    @abstractmethod
    def evaluate(self) -> float:
        """The study's metric on validation data (the value reported to the server)."""

    def reported(self, value: float) -> float | Mapping[str, float]:
        """What the worker reports for an epoch whose metric is `value`: the value itself, or
        named metrics for studies with several objectives or constraints (override to add them)."""
        return value

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything `load_state_dict` needs to continue training exactly (weights-only types)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned, on the trainer `build` just made."""

    @property
    def examples_per_epoch(self) -> int | None:
        """How many examples an epoch trains, for the progress bar's total (None: unknown)."""
        return None


class Objective(ABC):
    """Builds a trainer per trial; data sets shared by all trials are loaded once, in `__init__`."""

    supports_ddp: ClassVar[bool] = False
    """True when trainers use `TrialContext.wrap_model` and `shard`: then `--gpus-per-trial N`
    runs them on N processes; otherwise the worker refuses (N copies would train alone)."""

    def __init__(self, settings: TrainingSettings) -> None:
        self.settings = settings
        self.device = resolve_device(settings.device)

    @abstractmethod
    def build(self, config: Mapping[str, Any], context: TrialContext) -> Trainer:
        """A fresh trainer for `config` (validate it here: a ValueError fails the trial with its message)."""

    def describe(self) -> dict[str, Any]:
        """Choices recorded with every trial (in its checkpoints and the worker's job log line)."""
        return {}


def resolve_device(name: str) -> torch.device:
    """Turn "auto" into CUDA when available; reject CUDA devices that are not there."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} requested but CUDA is not available")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    return device


ObjectiveFactory = Callable[[TrainingSettings], Objective]

BUILTIN_OBJECTIVES = {
    "cnn": "rung.workers.training:make_objective",
    "dropout_mlp": "rung.workers.mlp:make_objective",
}
"""Short names for the built-in objectives (`--objective cnn` trains `--model` on `--dataset`)."""


class ObjectiveLoadError(ValueError):
    """`--objective` does not name an importable objective factory."""


def load_objective_factory(spec: str) -> ObjectiveFactory:
    """The factory named by `module.path:attribute` (or a built-in short name).

    The current directory is put on ``sys.path`` first (as uvicorn and gunicorn
    do), so a package next to where the worker starts is found without
    installing it.
    """
    target = BUILTIN_OBJECTIVES.get(spec, spec)
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ObjectiveLoadError(
            f"--objective {spec!r}: expected module.path:factory (e.g. mypkg.train:make_objective) "
            f"or one of {', '.join(BUILTIN_OBJECTIVES)}"
        )
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ObjectiveLoadError(f"--objective {spec!r}: cannot import {module_name}: {exc}") from exc
    factory = module
    for name in attribute.split("."):
        factory = getattr(factory, name, None)
        if factory is None:
            raise ObjectiveLoadError(f"--objective {spec!r}: {module_name} has no attribute {attribute}")
    if not callable(factory):
        raise ObjectiveLoadError(f"--objective {spec!r}: {attribute} is not callable")
    return factory  # type: ignore[return-value]
