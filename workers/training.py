"""The built-in CNN objective: LeNet or ResNet-18 with SGD, momentum and a cosine schedule.

``--objective cnn`` (the default) trains ``--model`` (lenet, resnet18) on
``--dataset`` (fashion_mnist, cifar10); a configuration holds
``learning_rate``, ``batch_size`` and optionally ``momentum`` and
``weight_decay``. The cosine LR schedule spans ``TrainingSettings.max_epochs``
(the study's ``r_max``), never a job's milestone, and is stepped per epoch, so
a trial resumed over several rungs trains exactly as one trained in one go.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .classification import NUM_CLASSES, Classification, TrialSetup
from .models import MODELS, build_model
from .objective import TrainingSettings, TrialContext
from .segment import OnEpoch, train_segment


@dataclass(frozen=True)
class Hyperparameters:
    """A validated trial config (SGD with momentum)."""

    learning_rate: float
    batch_size: int
    momentum: float = 0.9
    weight_decay: float = 0.0
    width: float = 1.0
    """Channel multiplier of LeNet's conv layers."""

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
            width=float(config.get("width", 1.0)),
        )
        if not (
            hp.learning_rate > 0
            and hp.batch_size >= 1
            and 0 <= hp.momentum < 1
            and hp.weight_decay >= 0
            and hp.width > 0
        ):
            raise ValueError(f"hyperparameters out of range: {hp}")
        return hp

    def seed(self) -> int:
        """A stable 63-bit seed derived from the normalized values.

        The default width is left out, so configs without one keep the seeds they had before width existed.
        """
        values = dataclasses.asdict(self)
        if values["width"] == 1.0:
            del values["width"]
        text = json.dumps(values, sort_keys=True)
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


class ImageClassification(Classification):
    """`settings.model` on `settings.dataset`; validation error, minimized."""

    name = "cnn"

    def __init__(self, settings: TrainingSettings) -> None:
        if settings.model not in MODELS:
            raise ValueError(f"unknown model {settings.model!r}; choose one of {', '.join(MODELS)}")
        super().__init__(settings)

    def setup(self, config: Mapping[str, Any], context: TrialContext) -> TrialSetup:
        hp = Hyperparameters.from_config(config)
        model = self.place(build_model(
            self.settings.model, NUM_CLASSES, input_shape=self.input_shape, width=hp.width
        ))
        optimizer = torch.optim.SGD(
            model.parameters(), lr=hp.learning_rate, momentum=hp.momentum, weight_decay=hp.weight_decay
        )
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=context.max_epochs)
        return TrialSetup(model, optimizer, scheduler, hp.batch_size)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "model": self.settings.model}

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
        """Train one segment without a server (scripts, learning curves, tests).

        Without ``trial_seed`` the seed is derived from the normalized
        hyperparameters, so it is stable across processes even when a config
        travels as floats (``batch_size`` 32.0 and 32 give the same seed).
        """
        seed = Hyperparameters.from_config(config).seed() if trial_seed is None else trial_seed
        return train_segment(
            self, config, start_epoch, end_epoch, checkpoint_in, checkpoint_out, on_epoch, trial_seed=seed
        )


def make_objective(settings: TrainingSettings) -> ImageClassification:
    return ImageClassification(settings)
