"""A two-objective multi-fidelity benchmark and the hypervolume of full-fidelity results over time.

`cnn_size`: the CNN learning-curve surrogate (`benchmarks.CNNSurrogate`) with a
fourth parameter, the network's width (channels of the first layer, 4..128,
log scale). Wider networks reach a lower error (the floor rises by up to 0.25
as the width shrinks from 128 to 4, quadratically in log width) and cost more
per epoch (a quarter of the cost is fixed, the rest grows with the width); the
second objective is the parameter count in millions, 0.002 * width**2 (0.03 M
at width 4, 33 M at width 128). So the two objectives conflict, the front runs
from small, less accurate networks to large, accurate ones, and error curves
still cross, as in the one-objective surrogate.

Its `evaluate` returns both metrics by name, which is what a multi-objective
study's scheduler takes; `ScalarizedBenchmark` turns them into one fixed
weighted sum (on ranges fixed in advance) for a one-objective baseline.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import numpy as np

from ..core.objectives import Objective, Objectives
from ..core.pareto import hypervolume
from ..core.schedulers import Scheduler
from ..core.space import Int, SearchSpace
from ..core.types import Config
from .benchmarks import Benchmark, CNNSurrogate, standard_normal

WIDTHS = (4, 128)
GOALS = Objectives((Objective("error"), Objective("params_m")))
# Hypervolume reference point (error at chance level, the largest network) and box volume.
REFERENCE = (CNNSurrogate.CHANCE, 0.002 * WIDTHS[1] ** 2)


def params_m(width: int) -> float:
    return 0.002 * width**2


class CNNSizeSurrogate(CNNSurrogate):
    name = "cnn_size"
    space = SearchSpace({**CNNSurrogate.space.params, "width": Int(*WIDTHS, log=True)})

    def capacity_penalty(self, width: float) -> float:
        shortfall = math.log(WIDTHS[1] / width) / math.log(WIDTHS[1] / WIDTHS[0])
        return 0.25 * shortfall**2

    def value(self, config: Config, r: int) -> float:
        error = super().value(config, r) + self.capacity_penalty(float(config["width"]))
        return min(self.CHANCE, error)

    def noise(self, config: Config, r: int) -> float:
        scale = self.noise_level * (1.0 - self._log_fidelity(r))
        if not scale:
            return 0.0
        key = (self.seed, r, *(config[k] for k in ("learning_rate", "batch_size", "optimizer", "width")))
        return scale * standard_normal(*key)

    def evaluate(self, config: Config, r: int) -> dict[str, float]:  # type: ignore[override]
        error = min(1.0, max(0.0, self.value(config, r) + self.noise(config, r)))
        return {"error": error, "params_m": params_m(int(config["width"]))}

    def cost(self, config: Config, r: int) -> float:
        return super().cost(config, r) * (0.25 + 0.75 * float(config["width"]) / WIDTHS[1])

    @cached_property
    def optimum(self) -> Config:
        """The lowest error (the widest network): the unit of budgets is its full training."""
        return {**super().optimum, "width": WIDTHS[1]}


class ScalarizedBenchmark(Benchmark):
    """One fixed weighted sum of the objectives, each scaled by its reference value."""

    def __init__(self, inner: CNNSizeSurrogate, weight: float = 0.5):
        super().__init__(inner.r_max, inner.seed, inner.r_min)
        self.inner, self.weight = inner, weight
        self.name, self.space = f"{inner.name}_scalarized", inner.space

    def scalar(self, metrics: dict[str, float]) -> float:
        w = self.weight
        return w * metrics["error"] / REFERENCE[0] + (1 - w) * metrics["params_m"] / REFERENCE[1]

    def evaluate(self, config: Config, r: int) -> float:
        return self.scalar(self.inner.evaluate(config, r))

    def value(self, config: Config, r: int) -> float:
        return self.inner.value(config, r)

    def noise(self, config: Config, r: int) -> float:
        return self.inner.noise(config, r)

    def cost(self, config: Config, r: int) -> float:
        return self.inner.cost(config, r)

    @property
    def optimum(self) -> Config:
        return self.inner.optimum


class HypervolumeTracker:
    """Hypervolume of the noiseless full-fidelity results reported so far, as a share of the
    reference box, recorded whenever it grows (an `on_report` hook of the simulator)."""

    def __init__(self, bench: CNNSizeSurrogate, scheduler: Scheduler):
        self.bench, self.scheduler = bench, scheduler
        self.points: list[tuple[float, float]] = []
        self.times: list[float] = []
        self.values: list[float] = []
        self._box = REFERENCE[0] * REFERENCE[1]

    def __call__(self, now: float, trial_id: int, resource: int, value: Any) -> None:
        if resource != self.bench.r_max:
            return
        config = self.scheduler.trials[trial_id].config
        self.points.append((self.bench.value(config, resource), params_m(int(config["width"]))))
        hv = hypervolume(np.array(self.points), REFERENCE) / self._box
        if not self.values or hv > self.values[-1]:
            self.times.append(now)
            self.values.append(hv)
