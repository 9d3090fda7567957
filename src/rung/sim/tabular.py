"""Tabular benchmarks: learning curves recorded once, replayed by the simulator.

`lenet` is LeNet on a reduced Fashion-MNIST, trained by rung's own worker code
for every point of a grid over learning rate, batch size, momentum, weight
decay and width, with the validation error and the seconds of every epoch
recorded (`benchmarks/record_lenet_curves.py` made the table; see
docs/benchmarks_lenet.md for the provenance and what the curves look like).

The search space is the recorded grid itself, as ordered finite domains
(`FiniteRange`): every configuration a searcher can propose is a row of the
table, so nothing is interpolated and the replay is exactly what training
produced, crossings and epoch-to-epoch noise included. Finite ordered domains
(rather than a continuous box mapped to the nearest recorded point) keep the
searchers honest: two proposals that look different are different trainings,
and a model-based searcher still sees learning rates in order.

Replays are deterministic (`noise` is 0; the recorded curves already carry the
noise of real training), and the cost of r epochs is the CPU seconds the first r
epochs took while recording (CPU rather than wall-clock time, because the
recording machine was shared and its wall clock measured the neighbours' load).
"""

from __future__ import annotations

import gzip
import json
from functools import cache, cached_property
from importlib import resources
from typing import Any

import numpy as np

from ..core.errors import InvalidArgument
from ..core.space import SearchSpace
from ..core.types import Config
from .benchmark import Benchmark

LENET_TABLE = "lenet_fmnist_curves.json.gz"


class CurveTable:
    """Recorded curves: one row per configuration, one column per epoch (1-based)."""

    def __init__(self, data: dict[str, Any]):
        self.settings: dict[str, Any] = data["settings"]
        self.machine: dict[str, Any] = data.get("machine", {})
        self.space = SearchSpace.from_json(self.settings["space"])
        self.val_error = np.asarray(data["val_error"], dtype=float)
        # Cumulative cost with a leading zero column: cumulative_seconds[i, r] is c(config i, r).
        seconds = np.asarray(data["cpu_seconds"], dtype=float)
        self.cumulative_seconds = np.pad(np.cumsum(seconds, axis=1), ((0, 0), (1, 0)))
        self.configs: list[Config] = [dict(zip(self.space.params, row)) for row in data["configs"]]
        self._rows = {self._key(config): i for i, config in enumerate(self.configs)}
        if len(self._rows) != len(self.configs):
            raise ValueError("the table records some configuration twice")
        if self.val_error.shape != seconds.shape or self.val_error.shape[0] != len(self.configs):
            raise ValueError(
                f"inconsistent table: {len(self.configs)} configs, errors {self.val_error.shape}, "
                f"seconds {seconds.shape}"
            )

    @property
    def epochs(self) -> int:
        return self.val_error.shape[1]

    def row(self, config: Config) -> int:
        """The row of `config`; its values may be floats within rounding of the grid's."""
        try:
            return self._rows[self._key(config)]
        except (InvalidArgument, KeyError):
            raise ValueError(f"configuration {config} is not in the recorded table") from None

    def _key(self, config: Config) -> tuple[Any, ...]:
        canonical = self.space.validate(config)
        return tuple(canonical[name] for name in self.space.params)


@cache
def load_table(name: str) -> CurveTable:
    """A table shipped in `rung/sim/data/`, read once per process."""
    with resources.files("rung.sim").joinpath("data", name).open("rb") as raw:
        with gzip.open(raw, "rt") as text:
            return CurveTable(json.load(text))


class TabularBenchmark(Benchmark):
    """Replays a `CurveTable`: value(config, r) is the recorded error after epoch r.

    The recorded runs used a cosine learning-rate schedule over all of the
    table's epochs, so r_max below that is a run cut short, not a shorter
    schedule; r_max above it has no data and is refused.
    """

    def __init__(self, table: CurveTable, name: str, r_max: int, seed: int = 0, r_min: int = 1):
        if not 1 <= r_min <= r_max <= table.epochs:
            raise ValueError(
                f"benchmark {name!r} has curves for epochs 1..{table.epochs}: "
                f"need 1 <= r_min <= r_max <= {table.epochs}, got r_min={r_min}, r_max={r_max}"
            )
        super().__init__(r_max, seed, r_min)
        self.name, self.table, self.space = name, table, table.space

    def value(self, config: Config, r: int) -> float:
        self._check_resource(r, lowest=1)
        return float(self.table.val_error[self.table.row(config), r - 1])

    def noise(self, config: Config, r: int) -> float:
        return 0.0

    def cost(self, config: Config, r: int) -> float:
        self._check_resource(r, lowest=0)
        return float(self.table.cumulative_seconds[self.table.row(config), r])

    @cached_property
    def optimum(self) -> Config:
        """The recorded configuration with the lowest error at r_max (the first one on ties)."""
        return dict(self.table.configs[int(np.argmin(self.table.val_error[:, self.r_max - 1]))])

    def _check_resource(self, r: int, lowest: int) -> None:
        if not lowest <= r <= self.r_max:
            raise ValueError(f"resource {r} is outside {lowest}..{self.r_max} for benchmark {self.name!r}")


def lenet(r_max: int = 27, seed: int = 0, r_min: int = 1) -> TabularBenchmark:
    """LeNet on Fashion-MNIST, 27 recorded epochs (`make_benchmark("lenet", r_max=27)`)."""
    return TabularBenchmark(load_table(LENET_TABLE), "lenet", r_max, seed, r_min)
