"""The Benchmark interface every simulated problem implements: value, noise, cost, optimum.

The synthetic benchmarks (benchmarks.py) and the recorded ones (tabular.py)
both build on it; `make_benchmark` (benchmarks.py) names them all.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from functools import cached_property

from ..core.space import SearchSpace
from ..core.types import Config


class Benchmark(ABC):
    """A minimization problem over `space` with an integer resource r in [r_min, r_max]."""

    name: str
    space: SearchSpace

    def __init__(self, r_max: int = 81, seed: int = 0, r_min: int = 1):
        self.r_min, self.r_max, self.seed = r_min, r_max, seed

    @abstractmethod
    def value(self, config: Config, r: int) -> float:
        """The noiseless objective at resource r."""

    @abstractmethod
    def noise(self, config: Config, r: int) -> float:
        """The noise added at resource r; zero at r_max."""

    @abstractmethod
    def cost(self, config: Config, r: int) -> float:
        """Cumulative cost of training `config` from 0 to r."""

    @property
    @abstractmethod
    def optimum(self) -> Config:
        """A global minimizer at full fidelity."""

    def evaluate(self, config: Config, r: int) -> float:
        """What a worker would report at resource r."""
        return self.value(config, r) + self.noise(config, r)

    @cached_property
    def optimum_value(self) -> float:
        return self.value(self.optimum, self.r_max)

    @cached_property
    def full_cost(self) -> float:
        """Cost of one full-fidelity evaluation of the optimum: the unit of benchmark budgets."""
        return self.cost(self.optimum, self.r_max)

    def regret(self, config: Config) -> float:
        """Simple regret of `config`: its noiseless full-fidelity value above the optimum."""
        return self.value(config, self.r_max) - self.optimum_value

    def _log_fidelity(self, r: int) -> float:
        return math.log(r) / math.log(self.r_max)
