"""Everything rung needs from your training code, for a small model of your own.

`make_objective(settings)` runs once per worker process and makes the data;
`SpiralObjective.build(config, context)` makes one trial's model and
optimizer; the `SpiralTrainer` trains an epoch, evaluates and hands over its
state. rung's worker does the rest: asking the server for jobs, resuming from
checkpoints, reporting each epoch, heartbeats, hand-back on SIGTERM, progress
lines, and failing a trial whose code raises or whose loss turns NaN.

Configuration: ``lr`` (Adam's learning rate), ``hidden`` (units per layer) and
``batch_size``. The metric is the validation error (minimize it).
Options (``--objective-option KEY=VALUE``): ``points`` (default 2000) and
``classes`` (default 3).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from rung.workers.objective import (
    Advance, EpochStats, Objective, Trainer, TrainingSettings, TrialContext,
)


def spirals(points: int, classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`points` 2-d points on `classes` noisy interleaved spiral arms, with their arm as label."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(points) % classes
    radius = torch.rand(points, generator=generator)
    angle = radius * 3 * math.pi + labels * (2 * math.pi / classes)
    angle = angle + 0.25 * torch.randn(points, generator=generator)
    x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    return x, labels


class SpiralTrainer(Trainer):
    def __init__(self, objective: SpiralObjective, config: Mapping[str, Any], context: TrialContext) -> None:
        self.objective = objective
        self.context = context
        self.batch_size = int(config["batch_size"])
        hidden = int(config["hidden"])
        self.model = nn.Sequential(
            nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, objective.classes),
        ).to(context.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=float(config["lr"]))

    @property
    def examples_per_epoch(self) -> int:
        return len(self.objective.train_y)

    def train_epoch(self, epoch: int, advance: Advance) -> EpochStats:
        x, y = self.objective.train_x, self.objective.train_y
        order = torch.randperm(len(y), generator=self.context.epoch_generator(epoch)).to(x.device)
        self.model.train()
        total = 0.0
        for batch in order.split(self.batch_size):
            loss = nn.functional.cross_entropy(self.model(x[batch]), y[batch])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(batch)
            advance(len(batch))
        return EpochStats(loss=total / len(y), examples=len(y))

    @torch.no_grad()
    def evaluate(self) -> float:
        self.model.eval()
        predicted = self.model(self.objective.val_x).argmax(dim=1)
        return (predicted != self.objective.val_y).float().mean().item()

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])


class SpiralObjective(Objective):
    def __init__(self, settings: TrainingSettings) -> None:
        super().__init__(settings)  # sets self.settings and self.device
        points = int(settings.options.get("points", 2000))
        self.classes = int(settings.options.get("classes", 3))
        x, y = spirals(points, self.classes, settings.seed)
        n_val = points // 5
        self.val_x, self.val_y = x[:n_val].to(self.device), y[:n_val].to(self.device)
        self.train_x, self.train_y = x[n_val:].to(self.device), y[n_val:].to(self.device)

    def build(self, config: Mapping[str, Any], context: TrialContext) -> Trainer:
        if not {"lr", "hidden", "batch_size"} <= set(config):
            raise ValueError(f"the spiral objective needs lr, hidden and batch_size; got {sorted(config)}")
        return SpiralTrainer(self, config, context)

    def describe(self) -> dict[str, Any]:
        return {"objective": "spirals", "points": len(self.train_y) + len(self.val_y), "classes": self.classes}


def make_objective(settings: TrainingSettings) -> SpiralObjective:
    return SpiralObjective(settings)
