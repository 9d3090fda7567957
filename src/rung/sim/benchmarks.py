"""Benchmarks f(config, r) with a cost model c(config, r) and a known optimum; no downloads.

- Multi-fidelity Branin (Kandasamy et al., ICML 2017): the coefficients b, c, t
  drift with (1 - z), z = r / r_max, so the bias vanishes at full fidelity; cost
  0.05 + z**6.5 (their z1**3 z2**2 z3**1.5 with one shared fidelity).
- Multi-fidelity Hartmann 3 and 6 as in mfpbench: alpha' = alpha - bias * (1 - s)
  flattens the function at low fidelity, s = log r / log r_max; half-normal
  noise with standard deviation noise * (1 - s); cost 0.05 + 0.95 * (r / r_max)**2.
- A CNN learning-curve surrogate of our own: log-scale learning rate, integer
  batch size, a categorical optimizer; curves of fast learners flatten higher,
  so curves cross and early rungs can mislead.

Noise is a deterministic function of (seed, config, r), so the same
configuration at the same resource always gives the same value, as a
re-evaluated checkpoint would. Costs are cumulative (c(config, 0) = 0): a
resumed trial pays c(config, milestone) - c(config, resume_from).
"""

from __future__ import annotations

import hashlib
import math
from functools import cached_property
from typing import Any, Callable

import numpy as np

from ..core.space import Categorical, Float, Int, SearchSpace
from ..core.types import Config
from .benchmark import Benchmark
from .mlp_curves import MLP_BENCHMARKS
from .tabular import lenet


def standard_normal(*key: Any) -> float:
    """A N(0, 1) draw fixed by `key` (Box-Muller on a hash: stable across processes)."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=16).digest()
    u1 = (int.from_bytes(digest[:8], "little") + 1) / 2.0**64
    u2 = int.from_bytes(digest[8:], "little") / 2.0**64
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


class MFBranin(Benchmark):
    name = "branin"
    space = SearchSpace({"x1": Float(-5.0, 10.0), "x2": Float(0.0, 15.0)})
    optimum = {"x1": math.pi, "x2": 2.275}

    def __init__(self, r_max: int = 81, seed: int = 0, r_min: int = 1, noise_level: float = 1.0):
        super().__init__(r_max, seed, r_min)
        self.noise_level = noise_level

    def value(self, config: Config, r: int) -> float:
        x1, x2 = float(config["x1"]), float(config["x2"])
        gap = 1.0 - r / self.r_max
        b = 5.1 / (4 * math.pi**2) - 0.01 * gap
        c = 5 / math.pi - 0.1 * gap
        t = 1 / (8 * math.pi) + 0.05 * gap
        return (x2 - b * x1**2 + c * x1 - 6.0) ** 2 + 10.0 * (1 - t) * math.cos(x1) + 10.0

    def noise(self, config: Config, r: int) -> float:
        scale = self.noise_level * (1.0 - r / self.r_max)
        return scale * abs(standard_normal(self.seed, r, config["x1"], config["x2"])) if scale else 0.0

    def cost(self, config: Config, r: int) -> float:
        return 0.05 + (r / self.r_max) ** 6.5 if r else 0.0


class MFHartmann(Benchmark):
    """Hartmann 3 or 6 with mfpbench's fidelity bias and noise (defaults: bias 0.5, noise 0.1)."""

    ALPHA = (1.0, 1.2, 3.0, 3.2)
    TABLES = {
        3: (
            ((3.0, 10, 30), (0.1, 10, 35), (3.0, 10, 30), (0.1, 10, 35)),
            ((3689, 1170, 2673), (4699, 4387, 7470), (1091, 8732, 5547), (381, 5743, 8828)),
            (0.114614, 0.555649, 0.852547),
        ),
        6: (
            (
                (10, 3, 17, 3.5, 1.7, 8),
                (0.05, 10, 17, 0.1, 8, 14),
                (3, 3.5, 1.7, 10, 17, 8),
                (17, 8, 0.05, 10, 0.1, 14),
            ),
            (
                (1312, 1696, 5569, 124, 8283, 5886),
                (2329, 4135, 8307, 3736, 1004, 9991),
                (2348, 1451, 3522, 2883, 3047, 6650),
                (4047, 8828, 8732, 5743, 1091, 381),
            ),
            (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573),
        ),
    }

    def __init__(
        self,
        dims: int = 6,
        r_max: int = 81,
        seed: int = 0,
        r_min: int = 1,
        bias: float = 0.5,
        noise_level: float = 0.1,
    ):
        super().__init__(r_max, seed, r_min)
        self.name = f"hartmann{dims}"
        self.keys = tuple(f"x{i}" for i in range(dims))
        self.space = SearchSpace({k: Float(0.0, 1.0) for k in self.keys})
        a, p, argmin = self.TABLES[dims]
        self._terms = [
            (alpha, tuple(zip(row_a, (q * 1e-4 for q in row_p))))
            for alpha, row_a, row_p in zip(self.ALPHA, a, p)
        ]
        self._optimum = dict(zip(self.keys, argmin))
        self.bias, self.noise_level = bias, noise_level

    @property
    def optimum(self) -> Config:
        return self._optimum

    def value(self, config: Config, r: int) -> float:
        x = [config[k] for k in self.keys]
        shift = self.bias * (1.0 - self._log_fidelity(r))
        total = 0.0
        for alpha, pairs in self._terms:
            inner = 0.0
            for xi, (a, p) in zip(x, pairs):
                inner += a * (xi - p) ** 2
            total += (alpha - shift) * math.exp(-inner)
        return -total

    def noise(self, config: Config, r: int) -> float:
        scale = self.noise_level * (1.0 - self._log_fidelity(r))
        if not scale:
            return 0.0
        return scale * abs(standard_normal(self.seed, r, *(config[k] for k in self.keys)))

    def cost(self, config: Config, r: int) -> float:
        return 0.05 + 0.95 * (r / self.r_max) ** 2 if r else 0.0


class CNNSurrogate(Benchmark):
    """Validation error of a small CNN after r epochs, as a closed-form learning curve.

    Each optimizer has its own best learning rate; the error floor grows with
    the squared log distance from it and with the batch size's distance from 64.
    Larger learning rates and smaller batches learn faster (shorter time
    constant) but settle higher, so curves cross; learning rates far above the
    best diverge to chance level. Epochs cost more with small batches and with
    adaptive optimizers.
    """

    name = "cnn"
    space = SearchSpace(
        {
            "learning_rate": Float(1e-4, 1.0, log=True),
            "batch_size": Int(16, 512, log=True),
            "optimizer": Categorical(("sgd", "adam", "rmsprop")),
        }
    )
    CHANCE = 0.9
    BEST_LR = {"sgd": 0.1, "adam": 1e-3, "rmsprop": 3e-4}
    FLOOR = {"sgd": 0.06, "adam": 0.07, "rmsprop": 0.08}
    LR_SENSITIVITY = {"sgd": 0.05, "adam": 0.03, "rmsprop": 0.04}
    EPOCH_COST = {"sgd": 1.0, "adam": 1.15, "rmsprop": 1.1}

    def __init__(self, r_max: int = 81, seed: int = 0, r_min: int = 1, noise_level: float = 0.02):
        super().__init__(r_max, seed, r_min)
        self.noise_level = noise_level

    def curve(self, lr: np.ndarray | float, batch: np.ndarray | float, opt: str, r: int) -> Any:
        """The noiseless error; vectorized over learning rate and batch size."""
        d = np.log10(np.asarray(lr) / self.BEST_LR[opt])
        b = np.log2(np.asarray(batch) / 64.0)
        floor = self.FLOOR[opt] + self.LR_SENSITIVITY[opt] * d**2 + 0.006 * b**2 + 0.01 * np.maximum(b, 0)
        tau = 12.0 * 10.0 ** (-0.5 * d) * 2.0 ** (0.3 * b)
        err = floor + (self.CHANCE - floor) * np.exp(-r / tau)
        return np.where(d > 1.0, self.CHANCE, np.minimum(err, self.CHANCE))

    def value(self, config: Config, r: int) -> float:
        opt = str(config["optimizer"])
        return float(self.curve(float(config["learning_rate"]), float(config["batch_size"]), opt, r))

    def noise(self, config: Config, r: int) -> float:
        scale = self.noise_level * (1.0 - self._log_fidelity(r))
        if not scale:
            return 0.0
        key = (self.seed, r, config["learning_rate"], config["batch_size"], config["optimizer"])
        return scale * standard_normal(*key)

    def evaluate(self, config: Config, r: int) -> float:
        return min(1.0, max(0.0, super().evaluate(config, r)))

    def cost(self, config: Config, r: int) -> float:
        per_epoch = (0.25 + 16.0 / float(config["batch_size"])) / 0.5  # 1.0 at batch size 64
        return r / self.r_max * per_epoch * self.EPOCH_COST[str(config["optimizer"])]

    @cached_property
    def optimum(self) -> Config:
        """Found numerically: a fine grid over log learning rate for every batch size and optimizer."""
        lr = np.geomspace(1e-4, 1.0, 4001)[:, None]
        batch = np.arange(16, 513, dtype=float)[None, :]
        best: tuple[float, Config] | None = None
        for opt in self.BEST_LR:
            err = self.curve(lr, batch, opt, self.r_max)
            i, j = np.unravel_index(int(np.argmin(err)), err.shape)
            candidate = (float(err[i, j]), {
                "learning_rate": float(lr[i, 0]),
                "batch_size": int(batch[0, j]),
                "optimizer": opt,
            })
            if best is None or candidate[0] < best[0]:
                best = candidate
        assert best is not None
        return best[1]


BENCHMARKS: dict[str, Callable[..., Benchmark]] = {
    "branin": MFBranin,
    "hartmann3": lambda **kw: MFHartmann(3, **kw),
    "hartmann6": lambda **kw: MFHartmann(6, **kw),
    "cnn": CNNSurrogate,
    "lenet": lenet,  # recorded curves, epochs 1..27 (rung.sim.tabular)
    # MLPClassifier curves recorded on scikit-learn's datasets, epochs 1..27 (rung.sim.mlp_curves)
    **MLP_BENCHMARKS,
}


def make_benchmark(name: str, r_max: int = 81, seed: int = 0, r_min: int = 1) -> Benchmark:
    try:
        factory = BENCHMARKS[name]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}") from None
    return factory(r_max=r_max, seed=seed, r_min=r_min)
