"""Gaussian-process Bayesian optimization with expected improvement.

The GP (Matern 5/2 kernel with one length scale per parameter, on the unit-cube
encoding) has its hyperparameters set by maximizing the log marginal likelihood
with L-BFGS-B from a few starts. Configs still running are added as "constant
liars" (valued at the current best), so parallel workers are sent elsewhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky, solve_triangular
from scipy.optimize import minimize
from scipy.stats import norm

from ..errors import InvalidArgument
from ..space import SearchSpace
from ..types import Config
from .model_based import ModelBasedSearcher, reflect

SQRT5 = math.sqrt(5.0)
JITTER = 1e-8
# Bounds of the log hyperparameters: length scales, signal variance, noise variance.
LOG_LENGTH = (math.log(1e-2), math.log(20.0))
LOG_SIGNAL = (math.log(1e-2), math.log(1e2))
LOG_NOISE = (math.log(1e-6), math.log(1.0))


def _matern52(scaled_sq: np.ndarray, signal: float) -> tuple[np.ndarray, np.ndarray]:
    """Kernel values and the factor that turns a scaled squared distance into a gradient."""
    r = np.sqrt(scaled_sq.sum(axis=-1))
    decay = np.exp(-SQRT5 * r)
    k = signal * (1.0 + SQRT5 * r + (5.0 / 3.0) * r * r) * decay
    return k, signal * (5.0 / 3.0) * (1.0 + SQRT5 * r) * decay


def _neg_log_likelihood(theta: np.ndarray, sq: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Negative log marginal likelihood and its gradient in the log hyperparameters."""
    d = sq.shape[-1]
    lengths, signal, noise = np.exp(theta[:d]), math.exp(theta[d]), math.exp(theta[d + 1])
    scaled = sq / lengths**2
    kf, dfactor = _matern52(scaled, signal)
    n = len(y)
    try:
        chol = cholesky(kf + (noise + JITTER) * np.eye(n), lower=True)
    except LinAlgError:
        return 1e25, np.zeros_like(theta)
    alpha = cho_solve((chol, True), y)
    nll = 0.5 * y @ alpha + np.log(np.diag(chol)).sum() + 0.5 * n * math.log(2 * math.pi)
    w = np.outer(alpha, alpha) - cho_solve((chol, True), np.eye(n))
    grad = np.empty_like(theta)
    grad[:d] = -0.5 * np.einsum("ij,ijk->k", w * dfactor, scaled)
    grad[d] = -0.5 * np.sum(w * kf)
    grad[d + 1] = -0.5 * noise * np.trace(w)
    return float(nll), grad


@dataclass
class GaussianProcess:
    """A GP regression fitted to standardized values; predictions come back standardized."""

    x: np.ndarray
    lengths: np.ndarray
    signal: float
    chol: np.ndarray
    alpha: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, starts: np.ndarray) -> "GaussianProcess":
        """Fits hyperparameters from each row of `starts` (log scale) and keeps the best."""
        d = x.shape[1]
        sq = (x[:, None, :] - x[None, :, :]) ** 2
        bounds = [LOG_LENGTH] * d + [LOG_SIGNAL, LOG_NOISE]
        best = None
        for start in starts:
            res = minimize(
                _neg_log_likelihood, start, args=(sq, y), jac=True, method="L-BFGS-B",
                bounds=bounds, options={"maxiter": 50},
            )
            if best is None or res.fun < best.fun:
                best = res
        theta = best.x
        lengths, signal, noise = np.exp(theta[:d]), math.exp(theta[d]), math.exp(theta[d + 1])
        k, _ = _matern52(sq / lengths**2, signal)
        jitter = JITTER
        while True:
            try:
                chol = cholesky(k + (noise + jitter) * np.eye(len(y)), lower=True)
                break
            except LinAlgError:
                jitter *= 10.0
        return cls(x, lengths, signal, chol, cho_solve((chol, True), y))

    def predict(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation at the rows of `xs`."""
        scaled = (xs[:, None, :] - self.x[None, :, :]) ** 2 / self.lengths**2
        ks, _ = _matern52(scaled, self.signal)
        mean = ks @ self.alpha
        v = solve_triangular(self.chol, ks.T, lower=True)
        var = np.maximum(self.signal - np.sum(v * v, axis=0), 1e-12)
        return mean, np.sqrt(var)


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """Expected amount by which a point improves on `best` (lower is better)."""
    z = (best - mean) / std
    return (best - mean) * norm.cdf(z) + std * norm.pdf(z)


class GPSearcher(ModelBasedSearcher):
    """Proposes the candidate with the highest expected improvement under a GP.

    Candidates: `n_random` uniform points plus `n_local` Gaussian steps (scale
    `local_step`) around the best few results. Hyperparameters are refitted at
    every suggestion from a fixed start and `restarts` random ones.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        initial_configs: Sequence[Config] = (),
        *,
        n_random: int = 2000,
        n_local: int = 500,
        local_step: float = 0.05,
        restarts: int = 1,
        min_points: int | None = None,
    ):
        super().__init__(space, seed, initial_configs, min_points=min_points)
        if n_random < 0 or n_local < 0 or n_random + n_local == 0 or restarts < 0:
            raise InvalidArgument("GP searcher: needs n_random + n_local > 0 and restarts >= 0")
        self.n_random, self.n_local, self.local_step, self.restarts = (
            n_random, n_local, local_step, restarts,
        )

    def _propose(self, level: int) -> dict[str, Any] | None:
        observed, y = self._level_data(level)
        candidates = self._candidates(observed[np.argsort(y, kind="stable")[:5]])
        pending = self._pending_units()
        x = np.vstack([observed, pending])
        y = np.concatenate([y, np.full(len(pending), y.min())])  # constant liar
        y = (y - y.mean()) / (y.std() or 1.0)
        gp = GaussianProcess.fit(x, y, self._starts(x.shape[1]))
        mean, std = gp.predict(candidates)
        order = np.argsort(-expected_improvement(mean, std, y.min()), kind="stable")
        return self._first_fresh(candidates[order[:100]])

    def _starts(self, d: int) -> np.ndarray:
        fixed = np.array([math.log(0.3)] * d + [0.0, math.log(1e-3)])
        lows = np.array([math.log(0.05)] * d + [math.log(0.3), math.log(1e-5)])
        highs = np.array([math.log(2.0)] * d + [math.log(3.0), math.log(1e-1)])
        random = lows + (highs - lows) * self._rng.random((self.restarts, d + 2))
        return np.vstack([fixed, random])

    def _candidates(self, best: np.ndarray) -> np.ndarray:
        d = best.shape[1]
        centers = best[self._rng.integers(len(best), size=self.n_local)]
        local = reflect(centers + self._rng.normal(0.0, self.local_step, (self.n_local, d)))
        return np.vstack([self._rng.random((self.n_random, d)), local])
