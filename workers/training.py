"""The objective a worker evaluates: train a model on a config for a range of epochs.

Resumability is the point of this module: training epochs 0->9 in one call must
give the same result as 0->1, 1->3, 3->9 resumed from checkpoints (exactly on
the CPU; on CUDA up to the nondeterminism of cuDNN autotuning). Three rules make
that hold:

* The cosine LR schedule spans ``TrainingSettings.max_epochs`` (the study's
  ``r_max``), never the current call's ``end_epoch``, and is stepped per epoch.
* The data order of epoch ``e`` is drawn from its own generator seeded by
  ``(settings.seed, trial_seed, e)``; it does not depend on any RNG state that
  other code (the worker loop, the callback) might consume between epochs.
* Model initialization and stochastic layers use the global RNGs, seeded by
  ``(settings.seed, trial_seed)`` when a trial starts and restored from the
  checkpoint when it resumes.

The trial seed is the ``trial_seed`` argument when the caller passes one (the
worker loop should pass the server's trial number, so two trials with equal
configs still differ); otherwise it is derived from the normalized
hyperparameters, so it is stable across workers even when a config travels as
floats (``batch_size`` 32.0 and 32 give the same seed).

``Objective`` leaves ``torch.set_num_threads`` to the caller: one worker process
per machine should use all cores, several should split them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .data import load_cifar10, load_fashion_mnist
from .model_metrics import model_metrics
from .models import build_model

log = logging.getLogger(__name__)

DATASETS = ("fashion_mnist", "cifar10")
NUM_CLASSES = 10
EVAL_BATCH_SIZE = 1024


@dataclass(frozen=True, kw_only=True)
class TrainingSettings:
    """What a worker process fixes for all the trials it runs."""

    data_dir: Path
    max_epochs: int
    """Horizon of the cosine LR schedule: the study's r_max, identical on every worker."""
    dataset: str = "fashion_mnist"
    model: str = "lenet"
    n_train: int | None = 6000
    n_val: int | None = 1000
    device: str = "auto"
    """"cpu", "cuda", "cuda:1", or "auto" (CUDA when available)."""
    amp: bool = False
    """Mixed precision on CUDA (bf16 where supported, else fp16 with loss scaling); ignored on the CPU."""
    num_workers: int = 0
    """DataLoader processes; 0 is fastest here because the data already are in-memory tensors."""
    seed: int = 0
    """Seeds the train/val split and, with the trial seed, everything random in a trial."""
    download: bool = False
    """Let torchvision download CIFAR-10 when it is missing (do it once, not from many workers at once)."""
    model_metrics: bool = False
    """Report {"error", "params", "latency_ms"} instead of the error alone (workers/model_metrics.py)."""

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.max_epochs < 1:
            raise ValueError(f"max_epochs must be >= 1, got {self.max_epochs}")
        if self.seed < 0 or self.num_workers < 0:
            raise ValueError("seed and num_workers must be >= 0")


@dataclass(frozen=True)
class Hyperparameters:
    """A validated trial config (SGD with momentum)."""

    learning_rate: float
    batch_size: int
    momentum: float = 0.9
    weight_decay: float = 0.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Hyperparameters:
        """Validate a config; unknown keys are an error, not silently ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(config) - known
        if unknown:
            raise ValueError(f"unknown hyperparameters {sorted(unknown)}; known: {sorted(known)}")
        if "learning_rate" not in config or "batch_size" not in config:
            raise ValueError("config needs learning_rate and batch_size")
        batch_size = config["batch_size"]
        # Configs may travel as doubles (protobuf Struct): accept 32.0, reject 32.5.
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, float)) or batch_size != int(batch_size):
            raise ValueError(f"batch_size must be an integer, got {batch_size!r}")
        hp = cls(
            learning_rate=float(config["learning_rate"]),
            batch_size=int(batch_size),
            momentum=float(config.get("momentum", 0.9)),
            weight_decay=float(config.get("weight_decay", 0.0)),
        )
        if not (hp.learning_rate > 0 and hp.batch_size >= 1 and 0 <= hp.momentum < 1 and hp.weight_decay >= 0):
            raise ValueError(f"hyperparameters out of range: {hp}")
        return hp

    def seed(self) -> int:
        """A stable 63-bit seed derived from the normalized values."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


OnEpoch = Callable[[int, Any], bool]
"""Called with (epoch, validation error, or named metrics with `model_metrics`) after each epoch;
returning False stops the trial."""


class Objective:
    """Trains trials of one study; the data are loaded once and shared by all trials."""

    def __init__(self, settings: TrainingSettings) -> None:
        self.settings = settings
        self.device = resolve_device(settings.device)
        if settings.dataset == "fashion_mnist":
            self.train_set, val_set = load_fashion_mnist(
                settings.data_dir, settings.n_train, settings.n_val, settings.seed
            )
        else:
            self.train_set, val_set = load_cifar10(
                settings.data_dir, settings.n_train, settings.n_val, settings.seed, settings.download
            )
        # The validation set is small: keep it on the device for the whole run.
        self.val_x, self.val_y = (t.to(self.device) for t in val_set.tensors)
        channels, height, width = self.train_set.tensors[0].shape[1:]
        self.input_shape = (channels, height, width)
        self.amp_dtype: torch.dtype | None = None
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            if settings.amp:
                self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        elif settings.amp:
            log.info("amp=True ignored: mixed precision is used on CUDA only (device %s)", self.device)

    def train(
        self,
        config: Mapping[str, Any],
        start_epoch: int,
        end_epoch: int,
        checkpoint_in: Path | None,
        checkpoint_out: Path,
        on_epoch: OnEpoch,
        *,
        trial_seed: int | None = None,
    ) -> float:
        """Train epochs ``start_epoch+1 .. end_epoch``; return the last validation error.

        The checkpoint at ``end_epoch`` is written *before* the final
        ``on_epoch`` call, so a trial is resumable by the time the server hears
        it reached its milestone. If ``on_epoch`` returns False earlier, the
        checkpoint of that epoch is written and training stops.
        """
        hp = Hyperparameters.from_config(config)
        if not 0 <= start_epoch < end_epoch <= self.settings.max_epochs:
            raise ValueError(
                f"need 0 <= start_epoch < end_epoch <= max_epochs={self.settings.max_epochs}, "
                f"got {start_epoch}, {end_epoch}"
            )
        if start_epoch == 0 and checkpoint_in is not None:
            raise ValueError("checkpoint_in given for a trial starting at epoch 0")
        trial_seed = hp.seed() if trial_seed is None else trial_seed
        if trial_seed < 0:
            raise ValueError(f"trial_seed must be >= 0, got {trial_seed}")
        _seed_everything(self.settings.seed, trial_seed)

        model = build_model(self.settings.model, NUM_CLASSES, input_shape=self.input_shape).to(self.device)
        optimizer = torch.optim.SGD(
            model.parameters(), lr=hp.learning_rate, momentum=hp.momentum, weight_decay=hp.weight_decay
        )
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.settings.max_epochs)
        scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        if start_epoch > 0:
            if checkpoint_in is None:
                raise CheckpointError(f"resuming at epoch {start_epoch} needs checkpoint_in")
            loaded = load_checkpoint(checkpoint_in, model, optimizer, scheduler, scaler)
            if loaded != start_epoch:
                raise CheckpointError(f"checkpoint {checkpoint_in} is at epoch {loaded}, expected {start_epoch}")

        def save(epoch: int, val_error: float) -> None:
            extra = {"trial_seed": trial_seed, "config": dataclasses.asdict(hp), "val_error": val_error}
            save_checkpoint(
                checkpoint_out,
                model=model,
                optimizer=optimizer,
                lr_scheduler=scheduler,
                epoch=epoch,
                extra=extra,
                grad_scaler=scaler,
            )

        val_error = math.nan
        measured = model_metrics(model, self.input_shape, self.device) if self.settings.model_metrics else {}
        for epoch in range(start_epoch + 1, end_epoch + 1):
            generator = _epoch_generator(self.settings.seed, trial_seed, epoch)
            self._train_epoch(model, optimizer, scaler, hp.batch_size, generator)
            scheduler.step()
            val_error = self._evaluate(model)
            result = {"error": val_error, **measured} if measured else val_error
            if epoch == end_epoch:
                save(epoch, val_error)
                on_epoch(epoch, result)
            elif not on_epoch(epoch, result):
                save(epoch, val_error)
                break
        return val_error

    def _train_epoch(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
        batch_size: int,
        generator: torch.Generator,
    ) -> None:
        model.train()
        for x, y in self._batches(batch_size, generator):
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
            with self._autocast():
                loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()

    def _batches(self, batch_size: int, generator: torch.Generator) -> DataLoader:
        """Shuffled full batches (a short last batch is dropped, as is usual for SGD).

        The sampler yields whole index tensors and ``TensorDataset`` gathers a
        batch in one indexing operation, instead of collating item by item.
        """
        n = len(self.train_set)
        batch_size = min(batch_size, n)
        perm = torch.randperm(n, generator=generator)
        batches = list(perm[: n - n % batch_size].split(batch_size))
        return DataLoader(
            self.train_set,
            sampler=batches,
            batch_size=None,
            num_workers=self.settings.num_workers,
            pin_memory=self.device.type == "cuda",
            generator=generator,  # worker seeds come from here, not from the global RNG
        )

    @torch.no_grad()
    def _evaluate(self, model: nn.Module) -> float:
        """Fraction of the validation set misclassified."""
        model.eval()
        wrong = 0
        for x, y in zip(self.val_x.split(EVAL_BATCH_SIZE), self.val_y.split(EVAL_BATCH_SIZE), strict=True):
            with self._autocast():
                wrong += int((model(x).argmax(dim=1) != y).sum())
        return wrong / len(self.val_y)

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)


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


def _seed_everything(seed: int, trial_seed: int) -> None:
    sequence = np.random.SeedSequence([seed, trial_seed])
    torch_seed = int(sequence.generate_state(1, np.uint64)[0])
    torch.manual_seed(torch_seed)  # also seeds every CUDA device
    random.seed(torch_seed)
    np.random.seed(int(sequence.generate_state(1)[0]))


def _epoch_generator(seed: int, trial_seed: int, epoch: int) -> torch.Generator:
    sequence = np.random.SeedSequence([seed, trial_seed, epoch])
    return torch.Generator().manual_seed(int(sequence.generate_state(1, np.uint64)[0]))
