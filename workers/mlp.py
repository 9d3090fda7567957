"""The seeds' dropout MLP as an objective (Dive into Deep Learning, HPO chapter, exercise 1).

``--objective dropout_mlp`` trains a two-hidden-layer perceptron with dropout
on ``--dataset`` (Fashion-MNIST by default) with plain minibatch SGD, as the
book does. A configuration holds the book's hyperparameter names; its default
configuration is `DEFAULT_CONFIG`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from .classification import NUM_CLASSES, Classification, TrialSetup
from .objective import TrainingSettings, TrialContext

DEFAULT_CONFIG = {
    "num_hiddens_1": 256, "num_hiddens_2": 256, "dropout_1": 0.5, "dropout_2": 0.5, "lr": 0.1, "batch_size": 256,
}


@dataclass(frozen=True)
class MLPHyperparameters:
    num_hiddens_1: int
    num_hiddens_2: int
    dropout_1: float
    dropout_2: float
    lr: float
    batch_size: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MLPHyperparameters:
        names = [f.name for f in fields(cls)]
        if set(config) != set(names):
            raise ValueError(f"the dropout MLP takes exactly {names}; got {sorted(config)}")
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = config[f.name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{f.name} must be a number, got {value!r}")
            if f.type == "int":  # configs may travel as doubles: accept 256.0, reject 256.5
                if value != int(value):
                    raise ValueError(f"{f.name} must be an integer, got {value!r}")
                value = int(value)
            values[f.name] = value
        hp = cls(**values)
        if not (
            hp.num_hiddens_1 >= 1 and hp.num_hiddens_2 >= 1 and 0 <= hp.dropout_1 < 1 and 0 <= hp.dropout_2 < 1
            and hp.lr > 0 and math.isfinite(hp.lr) and hp.batch_size >= 1
        ):
            raise ValueError(f"hyperparameters out of range: {hp}")
        return hp


class DropoutMLP(nn.Sequential):
    """Flatten, two ReLU hidden layers each followed by dropout, and the output layer."""

    def __init__(self, inputs: int, hp: MLPHyperparameters, num_classes: int = NUM_CLASSES) -> None:
        super().__init__(
            nn.Flatten(),
            nn.Linear(inputs, hp.num_hiddens_1), nn.ReLU(), nn.Dropout(hp.dropout_1),
            nn.Linear(hp.num_hiddens_1, hp.num_hiddens_2), nn.ReLU(), nn.Dropout(hp.dropout_2),
            nn.Linear(hp.num_hiddens_2, num_classes),
        )


class DropoutMLPClassification(Classification):
    name = "dropout_mlp"

    def setup(self, config: Mapping[str, Any], context: TrialContext) -> TrialSetup:
        hp = MLPHyperparameters.from_config(config)
        model = self.place(DropoutMLP(math.prod(self.input_shape), hp))
        return TrialSetup(model, torch.optim.SGD(model.parameters(), lr=hp.lr), None, hp.batch_size)


def make_objective(settings: TrainingSettings) -> DropoutMLPClassification:
    return DropoutMLPClassification(settings)
