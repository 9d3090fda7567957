"""Gaussian-process Bayesian optimization with expected improvement.

The GP (Matern 5/2 kernel with one length scale per parameter, on the unit-cube
encoding) has its hyperparameters set by maximizing the log marginal likelihood
with L-BFGS-B from a few starts. Configs still running are added as "constant
liars" (valued at the current best), so parallel workers are sent elsewhere.
With priors, a quarter as many draws from the prior join the candidates and the
acquisition is weighted by prior ** (beta / n) (πBO, see `priors`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import InvalidArgument
from ..space import SearchSpace
from ..types import Config
from .model_based import ModelBasedSearcher, reflect

if TYPE_CHECKING:
    from scipy.optimize import OptimizeResult

SQRT5 = math.sqrt(5.0)
JITTER = 1e-8
MAX_ITER = 50  # L-BFGS-B iterations per start
# Bounds of the log hyperparameters: length scales, signal variance, noise variance.
LOG_LENGTH = (math.log(1e-2), math.log(20.0))
LOG_SIGNAL = (math.log(1e-2), math.log(1e2))
LOG_NOISE = (math.log(1e-6), math.log(1.0))


def _matern52(sq_dist: np.ndarray, signal: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kernel values at scaled squared distances, with the distances and decays behind them."""
    r = np.sqrt(np.maximum(sq_dist, 0.0))
    decay = np.exp(-SQRT5 * r)
    return signal * (1.0 + SQRT5 * r + (5.0 / 3.0) * sq_dist) * decay, r, decay


def _cholesky(k: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor, or None when `k` is not numerically positive definite."""
    try:
        return np.linalg.cholesky(k)
    except np.linalg.LinAlgError:
        return None


def _inverse(chol: np.ndarray) -> np.ndarray:
    """The inverse of L L^T from its lower Cholesky factor L."""
    chol_inv = np.linalg.inv(chol)
    return chol_inv.T @ chol_inv


def _unpack(theta: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Length scales, signal variance and noise variance from their logs."""
    return np.exp(theta[:-2]), math.exp(theta[-2]), math.exp(theta[-1])


def _neg_log_likelihood(
    theta: np.ndarray, sq: np.ndarray, y: np.ndarray
) -> tuple[float, np.ndarray]:
    """Negative log marginal likelihood and its gradient in the log hyperparameters.

    `sq` holds the per-parameter squared differences of every pair of points, (n*n) x d.
    """
    n, d = len(y), sq.shape[1]
    lengths, signal, noise = _unpack(theta)
    inv_sq_lengths = lengths**-2
    kf, r, decay = _matern52((sq @ inv_sq_lengths).reshape(n, n), signal)
    chol = _cholesky(kf + (noise + JITTER) * np.eye(n))
    if chol is None:
        return 1e25, np.zeros_like(theta)
    k_inv = _inverse(chol)
    alpha = k_inv @ y
    nll = 0.5 * y @ alpha + np.log(np.diag(chol)).sum() + 0.5 * n * math.log(2 * math.pi)
    w = np.outer(alpha, alpha) - k_inv  # d(log likelihood)/dK = w / 2
    grad = np.empty_like(theta)
    dfactor = signal * (5.0 / 3.0) * (1.0 + SQRT5 * r) * decay  # dK/dlog(length) = dfactor * sq
    grad[:d] = -0.5 * ((w * dfactor).ravel() @ sq) * inv_sq_lengths
    grad[d] = -0.5 * np.sum(w * kf)
    grad[d + 1] = -0.5 * noise * np.trace(w)
    return float(nll), grad


def _pair_sq_diffs(x: np.ndarray) -> np.ndarray:
    """Per-parameter squared differences of every pair of rows, (n*n) x d."""
    n, d = x.shape
    return ((x[:, None, :] - x[None, :, :]) ** 2).reshape(n * n, d)


def _fit_hyperparameters(x: np.ndarray, y: np.ndarray, start: np.ndarray) -> OptimizeResult:
    # Imported here: scipy.optimize is half of `rung serve`'s start-up, and most studies never fit.
    from scipy.optimize import minimize

    d = x.shape[1]
    return minimize(
        _neg_log_likelihood, start, args=(_pair_sq_diffs(x), y), jac=True, method="L-BFGS-B",
        bounds=[LOG_LENGTH] * d + [LOG_SIGNAL, LOG_NOISE], options={"maxiter": MAX_ITER},
    )


@dataclass
class GaussianProcess:
    """A GP regression fitted to standardized values; predictions come back standardized."""

    scaled_x: np.ndarray  # training points divided by the length scales
    lengths: np.ndarray
    signal: float
    k_inv: np.ndarray
    alpha: np.ndarray  # k_inv @ y
    theta: np.ndarray  # log length scales, log signal variance, log noise variance

    @classmethod
    def fit(
        cls, x: np.ndarray, y: np.ndarray, starts: np.ndarray, subset: np.ndarray
    ) -> "GaussianProcess":
        """Fits hyperparameters on the rows `subset` from each row of `starts` (log scale).

        The best hyperparameters then condition the GP on all points.
        """
        theta = min((_fit_hyperparameters(x[subset], y[subset], s) for s in starts),
                    key=lambda f: f.fun).x
        return cls.condition(x, y, theta)

    @classmethod
    def condition(cls, x: np.ndarray, y: np.ndarray, theta: np.ndarray) -> "GaussianProcess":
        """The GP with hyperparameters `theta` (log scale) conditioned on every point."""
        n = len(y)
        lengths, signal, noise = _unpack(theta)
        k = _matern52((_pair_sq_diffs(x) @ lengths**-2).reshape(n, n), signal)[0]
        for jitter in JITTER * 10.0 ** np.arange(8):  # more only if rounding needs it
            chol = _cholesky(k + (noise + jitter) * np.eye(n))
            if chol is not None:
                break
        else:
            raise ValueError("GP covariance is not positive definite even with jitter 0.1")
        k_inv = _inverse(chol)
        return cls(x / lengths, lengths, signal, k_inv, k_inv @ y, theta)

    def predict(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation at the rows of `xs`."""
        zs = xs / self.lengths
        x = self.scaled_x
        sq_dist = (zs * zs).sum(1)[:, None] + (x * x).sum(1) - 2.0 * zs @ x.T
        ks = _matern52(sq_dist, self.signal)[0]
        var = np.maximum(self.signal - np.einsum("ij,ij->i", ks @ self.k_inv, ks), 1e-12)
        return ks @ self.alpha, np.sqrt(var)


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """Expected amount by which a point improves on `best` (lower is better)."""
    from scipy.special import ndtr  # here, not above: scipy.special adds 0.14 s to every start

    z = (best - mean) / std
    return (best - mean) * ndtr(z) + std * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def candidate_points(
    rng: np.random.Generator, centers: np.ndarray, n_random: int, n_local: int, step: float
) -> np.ndarray:
    """Acquisition candidates in the unit cube: uniform points plus Gaussian steps around `centers`."""
    d = centers.shape[1]
    chosen = centers[rng.integers(len(centers), size=n_local)]
    local = reflect(chosen + rng.normal(0.0, step, (n_local, d)))
    return np.vstack([rng.random((n_random, d)), local])


class GPSearcher(ModelBasedSearcher):
    """Proposes the candidate with the highest expected improvement under a GP.

    Candidates: `n_random` uniform points plus `n_local` Gaussian steps (scale
    `local_step`) around the best five results. Hyperparameters are refitted at
    every suggestion, on a random subset of at most `fit_points` points (the
    cost grows with the cube of the count), starting from the last fit's values
    and from `restarts` random ones; the GP then conditions on every point.
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
        fit_points: int = 64,
        min_points: int | None = None,
    ):
        super().__init__(space, seed, initial_configs, min_points=min_points)
        if n_random < 0 or n_local < 0 or n_random + n_local == 0 or restarts < 0:
            raise InvalidArgument("GP searcher: needs n_random + n_local > 0 and restarts >= 0")
        if fit_points < 2:
            raise InvalidArgument(f"GP searcher: fit_points must be >= 2, got {fit_points}")
        self.n_random, self.n_local, self.local_step = n_random, n_local, local_step
        self.restarts, self.fit_points = restarts, fit_points
        self._theta: np.ndarray | None = None  # hyperparameters of the last fit, a warm start

    def _propose(self, level: int) -> dict[str, Any] | None:
        if level in self._outcomes:
            observed, y, slacks = self._outcome_data(level)
            feasible = (slacks <= 0).all(axis=1)
            ranked = np.where(feasible, y, np.inf)
        else:
            (observed, y), slacks, feasible = self._level_data(level), None, None
            ranked = y
        candidates = self._candidates(observed[np.argsort(ranked, kind="stable")[:5]])
        pending = self._pending_units()
        x = np.vstack([observed, pending])
        best_raw = y[feasible].min() if feasible is not None and feasible.any() else y.min()
        y = np.concatenate([y, np.full(len(pending), best_raw)])  # constant liar
        y = (y - y.mean()) / (y.std() or 1.0)
        subset = self._fit_subset(len(y))
        gp = GaussianProcess.fit(x, y, self._starts(x.shape[1]), subset)
        mean, std = gp.predict(candidates)
        if feasible is None or feasible.all():
            score = expected_improvement(mean, std, y.min())
        else:
            pof = self._probability_of_feasibility(observed, slacks, candidates)
            if feasible.any():
                score = expected_improvement(mean, std, y[: len(ranked)][feasible].min()) * pof
            else:
                score = pof  # nothing feasible yet: look for feasibility first
        weights = self._prior_weights(candidates, len(observed))
        if weights is not None:
            score = score * weights
        order = np.argsort(-score, kind="stable")
        config = self._first_fresh(candidates[order[:100]])
        if config is not None:
            self._theta = gp.theta  # only with an answer: a None answer must change nothing
        return config

    def _fit_subset(self, n: int) -> np.ndarray:
        """At most `fit_points` rows for fitting hyperparameters (the cost grows as n**3)."""
        if n > self.fit_points:
            return np.sort(self._rng.choice(n, self.fit_points, replace=False))
        return np.arange(n)

    def _probability_of_feasibility(
        self, x: np.ndarray, slacks: np.ndarray, candidates: np.ndarray
    ) -> np.ndarray:
        """Product over constraints of P(slack <= 0) under a GP fitted to each slack."""
        from scipy.special import ndtr  # see expected_improvement

        pof = np.ones(len(candidates))
        subset = self._fit_subset(len(x))
        for c in range(slacks.shape[1]):
            s = slacks[:, c]
            mu, sd = s.mean(), s.std() or 1.0
            gp = GaussianProcess.fit(x, (s - mu) / sd, self._starts(x.shape[1])[:1], subset)
            mean, std = gp.predict(candidates)
            pof *= ndtr((-mu / sd - mean) / std)
        return pof

    def state_dict(self) -> dict[str, Any]:
        theta = None if self._theta is None else self._theta.tolist()
        return {**super().state_dict(), "theta": theta}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._theta = None if state["theta"] is None else np.array(state["theta"])

    def _starts(self, d: int) -> np.ndarray:
        """The last fit's hyperparameters (or a default) and `restarts` random ones."""
        fixed = np.array([math.log(0.3)] * d + [0.0, math.log(1e-3)])
        if self._theta is not None:
            fixed = self._theta
        lows = np.array([math.log(0.05)] * d + [math.log(0.3), math.log(1e-5)])
        highs = np.array([math.log(2.0)] * d + [math.log(3.0), math.log(1e-1)])
        random = lows + (highs - lows) * self._rng.random((self.restarts, d + 2))
        return np.vstack([fixed, random])

    def _candidates(self, best: np.ndarray) -> np.ndarray:
        points = candidate_points(self._rng, best, self.n_random, self.n_local, self.local_step)
        if not self.space.has_priors:
            return points
        return np.vstack([points, self._prior_candidates(max(1, self.n_random // 4))])
