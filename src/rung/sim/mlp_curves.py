"""Surrogate benchmarks over recorded MLP learning curves: `mlp-digits`, `mlp-breast_cancer`, ...

The space is Table IV of the HPO-tools lecture among the seed documents: the
nine hyperparameters of scikit-learn's `MLPClassifier(solver="adam")`.
`benchmarks/record_mlp_curves.py` trained 1,000 random configurations of it for
real on each of three of scikit-learn's bundled datasets and a Fashion-MNIST
subset, 27 epochs each, keeping the validation error and CPU seconds of every
epoch (docs/benchmarks.md tells how, and the surrogate's held-out error).

Table IV puts beta 1 and beta 2 on a logit scale, which `SearchSpace` has no
domain for; the space names 1 - beta on a log scale instead, which is the logit
up to log(beta): within 0.1 of it for beta 2, within 0.7 for beta 1.

A searcher proposes configurations that were never recorded, so the benchmark
answers through a surrogate: inverse-distance-weighted k nearest neighbours
(numpy only, no model to fit) in rung's unit-cube encoding, with per-dimension
scales that make the influential hyperparameters count more in the distance.
Every prediction is then a convex combination of recorded curves, which keeps
what a benchmark needs: errors stay in [0, 1], cumulative costs stay monotone,
and the minimum over the whole space is attained exactly at the best (smoothed)
recorded configuration, so the optimum (and so the regret) is known, not estimated.
The recorded curves the surrogate interpolates are smoothed first (each is the
average of itself and its nearest recorded neighbours), so the optimum is a good
region rather than one lucky seed.

Noise: each configuration was trained with one seed, the first 100 with three;
the standard deviation across those seeds at every epoch is the scale of the
Gaussian noise `noise` adds (deterministic in seed, configuration and epoch,
zero at r_max as the Benchmark interface asks). The cost of r epochs is the
surrogate's cumulative CPU seconds of the recorded runs.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from functools import cache, cached_property, partial
from importlib import resources
from typing import Any

import numpy as np

from ..core.space import Float, Int, SearchSpace
from ..core.types import Config
from .benchmark import Benchmark

MLP_SPACE = SearchSpace(
    {
        "hidden_layer_size": Int(50, 200),
        "alpha": Float(1e-5, 10.0, log=True),
        "batch_size": Int(10, 250),
        "learning_rate_init": Float(1e-5, 1e-1, log=True),
        "tol": Float(1e-5, 1e-1, log=True),
        "validation_fraction": Float(0.1, 0.9),
        "one_minus_beta_1": Float(0.01, 0.5, log=True),
        "one_minus_beta_2": Float(1e-6, 0.1, log=True),
        "epsilon": Float(1e-9, 1e-6, log=True),
    }
)
"""Table IV's space; `benchmarks/record_mlp_curves.py` maps it to MLPClassifier's arguments."""

DATASETS = ("digits", "breast_cancer", "wine", "fashion_mnist")
"""The recorded datasets: `rung/sim/data/mlp_<dataset>.json.gz`, benchmark `mlp-<dataset>`."""

NEIGHBOURS = 8
SMOOTHING = 4  # each recorded curve is averaged with its nearest 4 recorded neighbours
# Distance scales in the unit cube, in MLP_SPACE's order: coordinate search on the 4-fold
# cross-validated error of three recordings (docs/benchmarks.md); the learning rate dominates.
SCALES = np.array([2.0, 0.5, 2.0, 8.0, 0.25, 2.0, 0.25, 0.25, 0.25])


class MLPCurves:
    """One dataset's recorded curves, encoded for the surrogate."""

    def __init__(self, data: dict[str, Any]):
        self.settings: dict[str, Any] = data["settings"]
        self.machine: dict[str, Any] = data.get("machine", {})
        names = list(MLP_SPACE.params)
        self.configs: list[Config] = [dict(zip(names, row)) for row in data["configs"]]
        self.val_error = np.asarray(data["val_error"], dtype=float)
        seconds = np.asarray(data["cpu_seconds"], dtype=float)
        self.cumulative_seconds = np.cumsum(seconds, axis=1)
        self.units = np.array([MLP_SPACE.to_unit(c) for c in self.configs])
        self.repeats: dict[int, np.ndarray] = {
            int(i): np.vstack([self.val_error[int(i)], np.asarray(r["val_error"], dtype=float)])
            for i, r in data.get("repeats", {}).items()
        }
        if self.val_error.shape != seconds.shape or len(self.configs) != self.val_error.shape[0]:
            raise ValueError(f"inconsistent table: {len(self.configs)} configs, "
                             f"errors {self.val_error.shape}, seconds {seconds.shape}")

    @property
    def epochs(self) -> int:
        return int(self.val_error.shape[1])

    @cached_property
    def seed_std(self) -> np.ndarray:
        """Per epoch: the root-mean-square over repeated configurations of the std across seeds."""
        if not self.repeats:
            return np.zeros(self.epochs)
        stds = np.array([runs.std(axis=0, ddof=1) for runs in self.repeats.values()])
        return np.sqrt(np.mean(stds**2, axis=0))

    def surrogate(self, rows: np.ndarray | None = None) -> NeighbourSurrogate:
        """The surrogate over all recorded curves, or over `rows` of them (held-out checks)."""
        rows = np.arange(len(self.configs)) if rows is None else rows
        return NeighbourSurrogate(self.units[rows], self.val_error[rows],
                                  self.cumulative_seconds[rows])


class NeighbourSurrogate:
    """Inverse-distance-weighted k nearest neighbours over recorded curves (error and cost)."""

    def __init__(self, units: np.ndarray, errors: np.ndarray, cumulative_seconds: np.ndarray):
        self.points = units * SCALES
        self.errors = self._smooth(errors)
        self.cumulative_seconds = cumulative_seconds

    def _smooth(self, curves: np.ndarray) -> np.ndarray:
        if SMOOTHING == 0 or len(curves) <= SMOOTHING:
            return curves
        distances = ((self.points[:, None, :] - self.points[None, :, :]) ** 2).sum(axis=2)
        nearest = np.argsort(distances, axis=1, kind="stable")[:, : SMOOTHING + 1]
        return curves[nearest].mean(axis=1)

    def weights(self, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the k nearest recorded points of every query and their weights (sum 1)."""
        query = np.atleast_2d(units) * SCALES
        d2 = ((query[:, None, :] - self.points[None, :, :]) ** 2).sum(axis=2)
        k = min(NEIGHBOURS, len(self.points))
        rows = np.argsort(d2, axis=1, kind="stable")[:, :k]
        d = np.sqrt(np.take_along_axis(d2, rows, axis=1))
        exact = d <= 1e-12
        w = np.where(exact.any(axis=1, keepdims=True), exact.astype(float), 1.0 / np.maximum(d, 1e-12))
        return rows, w / w.sum(axis=1, keepdims=True)

    def predict(self, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Error curves and cumulative-seconds curves, one row per query."""
        rows, w = self.weights(units)
        errors = np.einsum("qk,qke->qe", w, self.errors[rows])
        seconds = np.einsum("qk,qke->qe", w, self.cumulative_seconds[rows])
        return errors, seconds


def _normal(key: tuple[Any, ...]) -> float:
    """A N(0, 1) draw fixed by `key`, the same in every process (a hash seeds the generator)."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return float(np.random.default_rng(int.from_bytes(digest, "little")).standard_normal())


@cache
def load_curves(dataset: str) -> MLPCurves:
    """`rung/sim/data/mlp_<dataset>.json.gz`, read once per process."""
    if dataset not in DATASETS:
        raise ValueError(f"no recorded MLP curves for {dataset!r}; recorded: {', '.join(DATASETS)}")
    path = resources.files("rung.sim").joinpath("data", f"mlp_{dataset}.json.gz")
    with path.open("rb") as raw, gzip.open(raw, "rt") as text:
        return MLPCurves(json.load(text))


@cache
def _surrogate(dataset: str) -> NeighbourSurrogate:
    return load_curves(dataset).surrogate()


class MLPBenchmark(Benchmark):
    """Validation error of MLPClassifier on `dataset` after r epochs, from the recorded curves."""

    space = MLP_SPACE

    def __init__(self, dataset: str, r_max: int = 27, seed: int = 0, r_min: int = 1):
        self.curves = load_curves(dataset)
        if not 1 <= r_min <= r_max <= self.curves.epochs:
            raise ValueError(f"benchmark mlp-{dataset} has curves for epochs 1..{self.curves.epochs}: "
                             f"need 1 <= r_min <= r_max <= {self.curves.epochs}")
        super().__init__(r_max, seed, r_min)
        self.name, self.dataset = f"mlp-{dataset}", dataset
        self.surrogate = _surrogate(dataset)
        self._memo: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}

    def curve(self, config: Config) -> tuple[np.ndarray, np.ndarray]:
        """The surrogate's error and cumulative-seconds curves of `config` (memoized)."""
        key = tuple(config[name] for name in MLP_SPACE.params)
        if key not in self._memo:
            errors, seconds = self.surrogate.predict(MLP_SPACE.to_unit(config))
            self._memo[key] = (errors[0], seconds[0])
        return self._memo[key]

    def value(self, config: Config, r: int) -> float:
        self._check(r, 1)
        return float(self.curve(config)[0][r - 1])

    def noise(self, config: Config, r: int) -> float:
        if r >= self.r_max:
            return 0.0
        scale = float(self.curves.seed_std[r - 1])
        key = (self.seed, r, *(config[name] for name in MLP_SPACE.params))
        return scale * _normal(key) if scale else 0.0

    def evaluate(self, config: Config, r: int) -> float:
        return min(1.0, max(0.0, super().evaluate(config, r)))

    def cost(self, config: Config, r: int) -> float:
        self._check(r, 0)
        return float(self.curve(config)[1][r - 1]) if r else 0.0

    @cached_property
    def optimum(self) -> Config:
        """The recorded configuration the surrogate rates best at r_max: its global minimum."""
        errors = self.surrogate.errors[:, self.r_max - 1]
        return dict(self.curves.configs[int(np.argmin(errors))])

    def _check(self, r: int, lowest: int) -> None:
        if not lowest <= r <= self.r_max:
            raise ValueError(f"resource {r} is outside {lowest}..{self.r_max} for {self.name!r}")


MLP_BENCHMARKS: dict[str, Callable[..., Benchmark]] = {
    f"mlp-{dataset}": partial(MLPBenchmark, dataset) for dataset in DATASETS
}
"""`make_benchmark`'s entries (rung.sim.benchmarks), one per recorded dataset."""
