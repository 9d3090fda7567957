"""What the built-in objectives share: image classifiers trained with SGD on in-memory tensors.

`Classification` loads the data set once per worker (Fashion-MNIST or
CIFAR-10, `data.py`), feeds it through the chosen data path (`datapath.py`)
and measures the validation error; subclasses say only which model and
optimizer a configuration gets (`setup`). ``torch.set_num_threads`` is left to
the caller: one worker process per machine should use all cores, several
should split them.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from .data import load_cifar10, load_fashion_mnist
from .datapath import TensorBatches
from .model_metrics import model_metrics
from .objective import Advance, EpochStats, Objective, Trainer, TrainingSettings, TrialContext

log = logging.getLogger(__name__)

DATASETS = ("fashion_mnist", "cifar10")
NUM_CLASSES = 10
EVAL_BATCH_SIZE = 1024


@dataclass
class TrialSetup:
    """One trial's model (already on the device) and how it is optimized."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    lr_scheduler: torch.optim.lr_scheduler.LRScheduler | None
    """Stepped once per epoch; None keeps the learning rate constant."""
    batch_size: int


class Classification(Objective):
    """Validation error of a classifier on a held-out part of the training split."""

    name = "classification"
    supports_ddp = True  # trainers wrap the model in DDP and train their shard of each batch

    def __init__(self, settings: TrainingSettings) -> None:
        super().__init__(settings)
        if settings.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {settings.dataset!r}; choose one of {', '.join(DATASETS)}")
        train_set, val_set = self.load_data()
        self.n_train, self.n_val = len(train_set), len(val_set)
        self.batches = TensorBatches(train_set, settings.data_path, self.device)
        # The validation set is small: keep it on the device for the whole run.
        val_x, self.val_y = (t.to(self.device) for t in val_set.tensors)
        self.val_x = self.batches.prepare(val_x)
        channels, height, width = train_set.tensors[0].shape[1:]
        self.input_shape = (channels, height, width)
        self.amp_dtype: torch.dtype | None = None
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            if settings.amp:
                self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        elif settings.amp:
            log.info("amp=True ignored: mixed precision is used on CUDA only (device %s)", self.device)

    def load_data(self) -> tuple[TensorDataset, TensorDataset]:
        """(train, val) normalized images and labels in memory; override to classify data of your own."""
        s = self.settings
        if s.dataset == "fashion_mnist":
            return load_fashion_mnist(s.data_dir, s.n_train, s.n_val, s.seed)
        return load_cifar10(s.data_dir, s.n_train, s.n_val, s.seed, s.download)

    @abstractmethod
    def setup(self, config: Mapping[str, Any], context: TrialContext) -> TrialSetup:
        """Validate `config` and build its model (use `place`) and optimizer."""

    def place(self, model: nn.Module) -> nn.Module:
        """Move a fresh model to the device, in the chosen memory format."""
        model = model.to(self.device)
        if self.settings.data_path.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def build(self, config: Mapping[str, Any], context: TrialContext) -> Trainer:
        return ClassifierTrainer(self, self.setup(config, context), context)

    def describe(self) -> dict[str, Any]:
        return {
            "objective": self.name,
            "dataset": self.settings.dataset,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "device": str(self.device),
            "amp": str(self.amp_dtype).removeprefix("torch.") if self.amp_dtype else None,
            "data_path": self.settings.data_path.effective(self.device),
        }

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)


class ClassifierTrainer(Trainer):
    def __init__(self, objective: Classification, setup: TrialSetup, context: TrialContext) -> None:
        self.objective = objective
        self.setup = setup
        self.context = context
        self.scaler = torch.amp.GradScaler("cuda", enabled=objective.amp_dtype == torch.float16)
        if setup.batch_size < context.world_size:
            raise ValueError(
                f"batch_size {setup.batch_size} is smaller than the {context.world_size} ranks"
            )
        model = context.wrap_model(setup.model)  # setup.model stays plain: it is checkpointed
        self.forward = torch.compile(model) if objective.settings.data_path.compile else model
        self._model_metrics: dict[str, float] | None = None

    @property
    def examples_per_epoch(self) -> int:
        examples = self.objective.batches.examples_per_epoch(self.setup.batch_size)
        return examples // self.context.world_size

    def train_epoch(self, epoch: int, advance: Advance) -> EpochStats:
        objective, optimizer = self.objective, self.setup.optimizer
        self.setup.model.train()
        total = torch.zeros((), device=objective.device)
        seen = 0
        shard = self.context.shard if self.context.world_size > 1 else None
        generator = self.context.epoch_generator(epoch)
        batches = objective.batches.epoch(self.setup.batch_size, generator, shard)
        for x, y in batches:
            with objective.autocast():
                loss = F.cross_entropy(self.forward(x), y)
            optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()
            total += loss.detach() * len(y)  # summed on the device: no sync per batch
            seen += len(y)
            advance(len(y))
        if self.setup.lr_scheduler is not None:
            self.setup.lr_scheduler.step()
        return EpochStats(loss=float(total) / max(seen, 1), examples=seen)

    @torch.no_grad()
    def evaluate(self) -> float:
        """Fraction of the validation set misclassified."""
        objective = self.objective
        self.setup.model.eval()
        wrong = torch.zeros((), dtype=torch.int64, device=objective.device)
        for x, y in zip(objective.val_x.split(EVAL_BATCH_SIZE), objective.val_y.split(EVAL_BATCH_SIZE), strict=True):
            with objective.autocast():
                wrong += (self.forward(x).argmax(dim=1) != y).sum()
        return int(wrong) / len(objective.val_y)

    def reported(self, value: float) -> float | Mapping[str, float]:
        if not self.objective.settings.model_metrics:
            return value
        if self._model_metrics is None:  # size and latency do not change with training
            self._model_metrics = model_metrics(
                self.setup.model, self.objective.input_shape, self.objective.device
            )
        return {"error": value, **self._model_metrics}

    def state_dict(self) -> dict[str, Any]:
        scheduler = self.setup.lr_scheduler
        return {
            "model": self.setup.model.state_dict(),
            "optimizer": self.setup.optimizer.state_dict(),
            "lr_scheduler": scheduler.state_dict() if scheduler is not None else None,
            "grad_scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.setup.model.load_state_dict(state["model"])
        self.setup.optimizer.load_state_dict(state["optimizer"])
        if (state["lr_scheduler"] is None) != (self.setup.lr_scheduler is None):
            raise ValueError("the checkpoint's learning-rate schedule does not match this trial's")
        if self.setup.lr_scheduler is not None:
            self.setup.lr_scheduler.load_state_dict(state["lr_scheduler"])
        if state["grad_scaler"] is not None:
            self.scaler.load_state_dict(state["grad_scaler"])
