"""Gaussian-process Bayesian optimization with expected improvement.

The GP (Matern 5/2 kernel with one length scale per parameter, on the unit-cube
encoding) has its hyperparameters set by maximizing the log marginal likelihood
with L-BFGS-B from a few starts. Configs still running are added as "constant
liars" (valued at the current best), so parallel workers are sent elsewhere.
With priors, a quarter as many draws from the prior join the candidates and the
acquisition is weighted by prior ** (beta / n) (πBO, see `priors`).

Speed, with the same maths (decisions run inside an RPC, hundreds of workers
wait on them): kernels from squared distances ||a||^2 + ||b||^2 - 2ab of
centred, scaled points (one matrix product, no pairs' differences), the
Cholesky factor kept instead of an inverse, and the acquisition's posterior
variance (its O(m n^2) part) computed only for candidates an O(n) upper bound
says could win (`GaussianProcess.best_improvement`). A fit may be capped at a
count of likelihood evaluations, never at a time, so it replays identically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import InvalidArgument
from ..space import SearchSpace
from ..types import Config
from .model_based import ModelBasedSearcher, candidate_points, expected_improvement

SQRT5 = math.sqrt(5.0)
JITTER = 1e-8
MAX_ITER = 50  # L-BFGS-B iterations per start
# Bounds of the log hyperparameters: length scales, signal variance, noise variance.
LOG_LENGTH = (math.log(1e-2), math.log(20.0))
LOG_SIGNAL = (math.log(1e-2), math.log(1e2))
LOG_NOISE = (math.log(1e-6), math.log(1.0))


def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared distances between the rows of `a` and of `b` as ||a||^2 + ||b||^2 - 2 a.b:
    one matrix product instead of an (m*n) x d array of differences. Callers centre the
    points first, which keeps the rounding of the subtraction small (about 1e-15 of the
    squared norms); Matern 5/2 is smooth in the squared distance, so the kernel errs as little."""
    sq = a @ (-2.0 * b).T
    sq += np.einsum("ij,ij->i", a, a)[:, None]
    sq += np.einsum("ij,ij->i", b, b)
    return np.maximum(sq, 0.0, out=sq)


def _matern52(sq_dist: np.ndarray, signal: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kernel values at scaled squared distances, with the distances and decays behind them."""
    r = np.sqrt(sq_dist)
    decay = np.exp(-SQRT5 * r)
    return signal * (1.0 + SQRT5 * r + (5.0 / 3.0) * sq_dist) * decay, r, decay


def _matern52_inplace(sq5: np.ndarray) -> np.ndarray:
    """Matern 5/2 correlations (1 + r + r^2 / 3) exp(-r) at r^2 = `sq5` (squared distances
    with sqrt(5) folded into the coordinates), overwriting `sq5`: the fewest passes over a
    large array, whose exp is most of a prediction's cost."""
    r = np.sqrt(sq5)
    sq5 *= 1.0 / 3.0
    sq5 += r
    sq5 += 1.0
    np.negative(r, out=r)
    np.exp(r, out=r)
    sq5 *= r
    return sq5


def _cholesky(k: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor, or None when `k` is not numerically positive definite."""
    try:
        return np.linalg.cholesky(k)
    except np.linalg.LinAlgError:
        return None


def _inverse(chol: np.ndarray) -> np.ndarray:
    """The inverse of L L^T from its lower Cholesky factor L."""
    from scipy.linalg import cho_solve

    return cho_solve((chol, True), np.eye(len(chol)), check_finite=False)


def _unpack(theta: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Length scales, signal variance and noise variance from their logs."""
    return np.exp(theta[:-2]), math.exp(theta[-2]), math.exp(theta[-1])


def _neg_log_likelihood(
    theta: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[float, np.ndarray]:
    """Negative log marginal likelihood and its gradient in the log hyperparameters.

    `x` should be centred (see `_sq_dist`). The length-scale gradient
    sum_ij M_ij (z_il - z_jl)^2 (z = x / lengths, M symmetric) is taken as
    2 sum_i (M 1)_i z_il^2 - 2 sum_i z_il (M z)_il, in O(n^2 d) without the pairs' differences.
    """
    n, d = x.shape
    lengths, signal, noise = _unpack(theta)
    z = x / lengths
    sq = _sq_dist(z, z)
    np.fill_diagonal(sq, 0.0)
    kf, r, decay = _matern52(sq, signal)
    chol = _cholesky(kf + (noise + JITTER) * np.eye(n))
    if chol is None:
        return 1e25, np.zeros_like(theta)
    k_inv = _inverse(chol)
    alpha = k_inv @ y
    nll = 0.5 * y @ alpha + np.log(np.diag(chol)).sum() + 0.5 * n * math.log(2 * math.pi)
    w = np.outer(alpha, alpha) - k_inv  # d(log likelihood)/dK = w / 2
    grad = np.empty_like(theta)
    m = w * (signal * (5.0 / 3.0) * (1.0 + SQRT5 * r) * decay)  # dK/dlog(length_l) = . * sq_l
    grad[:d] = -(m.sum(1) @ (z * z) - ((m @ z) * z).sum(0))
    grad[d] = -0.5 * np.sum(w * kf)
    grad[d + 1] = -0.5 * noise * np.trace(w)
    return float(nll), grad


class _OutOfEvaluations(Exception):
    """Stops L-BFGS-B once a fit has spent its likelihood evaluations."""


def _fit_hyperparameters(
    x: np.ndarray, y: np.ndarray, start: np.ndarray, max_evals: int | None
) -> tuple[float, np.ndarray]:
    """The lowest negative log likelihood L-BFGS-B found from `start`, and where, within
    `max_evals` likelihood evaluations (None: only `MAX_ITER` iterations bound it). A count,
    not a clock, bounds it, so the result is the same on every machine and at replay."""
    # Imported here: scipy.optimize is half of `rung serve`'s start-up, and most studies never fit.
    from scipy.optimize import minimize

    x = x - x.mean(0)
    best: tuple[float, np.ndarray] = (math.inf, start)
    evals = 0

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal best, evals
        if max_evals is not None and evals >= max_evals:
            raise _OutOfEvaluations
        evals += 1
        nll, grad = _neg_log_likelihood(theta, x, y)
        if nll < best[0]:
            best = (nll, theta.copy())
        return nll, grad

    d = x.shape[1]
    try:
        minimize(objective, start, jac=True, method="L-BFGS-B",
                 bounds=[LOG_LENGTH] * d + [LOG_SIGNAL, LOG_NOISE], options={"maxiter": MAX_ITER})
    except _OutOfEvaluations:
        pass
    return best


@dataclass
class GaussianProcess:
    """A GP regression fitted to standardized values; predictions come back standardized.

    It keeps the Cholesky factor L of K + noise I, not an inverse: the posterior variance
    at a point is signal - ||L^-1 k*||^2, one triangular solve (half the flops of
    k* K^-1 k* with an explicit inverse, and better conditioned).
    """

    scaled_x: np.ndarray  # training points times sqrt(5) / the length scales, centred
    offset: np.ndarray  # the centre subtracted, on the scaled axes
    lengths: np.ndarray
    signal: float
    noise: float  # noise variance plus the jitter the factorization needed
    chol: np.ndarray  # lower Cholesky factor of K + noise I
    alpha: np.ndarray  # (K + noise I)^-1 y
    theta: np.ndarray  # log length scales, log signal variance, log noise variance

    @classmethod
    def fit(
        cls, x: np.ndarray, y: np.ndarray, starts: np.ndarray, subset: np.ndarray,
        max_evals: int | None = None,
    ) -> "GaussianProcess":
        """Fits hyperparameters on the rows `subset` from each row of `starts` (log scale),
        each within `max_evals` likelihood evaluations. The best hyperparameters then
        condition the GP on all points."""
        theta = min((_fit_hyperparameters(x[subset], y[subset], s, max_evals) for s in starts),
                    key=lambda f: f[0])[1]
        return cls.condition(x, y, theta)

    @classmethod
    def condition(cls, x: np.ndarray, y: np.ndarray, theta: np.ndarray) -> "GaussianProcess":
        """The GP with hyperparameters `theta` (log scale) conditioned on every point."""
        from scipy.linalg import cho_solve

        n = len(y)
        lengths, signal, noise = _unpack(theta)
        z = x * (SQRT5 / lengths)
        offset = z.mean(0)
        z -= offset
        sq5 = _sq_dist(z, z)
        np.fill_diagonal(sq5, 0.0)
        k = signal * _matern52_inplace(sq5)
        for jitter in JITTER * 10.0 ** np.arange(8):  # more only if rounding needs it
            chol = _cholesky(k + (noise + jitter) * np.eye(n))
            if chol is not None:
                break
        else:
            raise ValueError("GP covariance is not positive definite even with jitter 0.1")
        alpha = cho_solve((chol, True), y, check_finite=False)
        return cls(z, offset, lengths, signal, noise + jitter, chol, alpha, theta)

    def _cross(self, xs: np.ndarray) -> np.ndarray:
        """Correlations (kernel values / signal) between the rows of `xs` and the training
        points, m x n."""
        zs = xs * (SQRT5 / self.lengths)
        zs -= self.offset
        return _matern52_inplace(_sq_dist(zs, self.scaled_x))

    def mean(self, xs: np.ndarray) -> np.ndarray:
        """Posterior mean at the rows of `xs`, O(m n d) without the variance's O(m n^2)."""
        return self._cross(xs) @ (self.signal * self.alpha)

    def predict(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation at the rows of `xs`."""
        cs = self._cross(xs)
        return cs @ (self.signal * self.alpha), self._std(cs)

    def _std(self, cs: np.ndarray) -> np.ndarray:
        from scipy.linalg import solve_triangular

        v = solve_triangular(self.chol, cs.T, lower=True, check_finite=False)
        var = self.signal - self.signal**2 * np.einsum("ij,ij->j", v, v)
        return np.sqrt(np.maximum(var, 1e-12))

    def _std_bound(self, cs: np.ndarray) -> np.ndarray:
        """An upper bound on each row's posterior standard deviation in O(n): the variance
        given its most correlated training point alone (fewer points leave more variance)."""
        k_max = self.signal * cs.max(1)
        var = self.signal - k_max * k_max / (self.signal + self.noise)
        return np.sqrt(np.maximum(var * (1.0 + 1e-9) + 1e-12, 1e-12))  # rounding's margin

    def best_improvement(
        self, xs: np.ndarray, best: float, weights: np.ndarray | None,
        accept: Callable[[int], bool], limit: int = 100,
    ) -> tuple[int, float] | None:
        """The row of `xs` with the highest expected improvement over `best` (times
        `weights`) that `accept`s, if it ranks among the best `limit`, and its improvement.

        The same answer as scoring every row, but the standard deviation (the O(m n^2)
        part) is computed only for rows whose upper bound (exact mean, `_std_bound`) could
        still beat the best accepted score, in batches, best bound first.
        """
        cs = self._cross(xs)
        mean = cs @ (self.signal * self.alpha)
        w = np.ones(len(xs)) if weights is None else weights
        bound = expected_improvement(mean, self._std_bound(cs), best) * w
        order = np.argsort(-bound, kind="stable")
        ei = np.full(len(xs), -np.inf)
        score = np.full(len(xs), -np.inf)
        accepted: dict[int, bool] = {}  # `accept` may be slow: once a row
        done, batch = 0, 64
        while True:
            rows = order[done : done + batch]
            ei[rows] = expected_improvement(mean[rows], self._std(cs[rows]), best)
            score[rows] = ei[rows] * w[rows]
            done, batch = done + len(rows), 2 * batch
            ranked = np.argsort(-score, kind="stable")[:limit]  # the rest are below, or unscored
            found = None
            for i in ranked[np.isfinite(score[ranked])]:
                if i not in accepted:
                    accepted[i] = accept(int(i))
                if accepted[i]:
                    found = int(i)
                    break
            if done == len(xs) or (found is not None and bound[order[done]] < score[found]):
                break
        if found is None:
            return None
        return int(found), float(ei[found])


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
        weights = self._prior_weights(candidates, len(observed))
        if feasible is None or feasible.all():
            found = gp.best_improvement(
                candidates, y.min(), weights,
                lambda i: self._is_fresh(self.space.from_unit(candidates[i])),
            )
            config = None if found is None else self.space.from_unit(candidates[found[0]])
        else:
            mean, std = gp.predict(candidates)
            pof = self._probability_of_feasibility(observed, slacks, candidates)
            if feasible.any():
                score = expected_improvement(mean, std, y[: len(ranked)][feasible].min()) * pof
            else:
                score = pof  # nothing feasible yet: look for feasibility first
            if weights is not None:
                score = score * weights
            config = self._first_fresh(candidates[np.argsort(-score, kind="stable")[:100]])
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
