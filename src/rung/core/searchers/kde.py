"""BOHB-style searcher: kernel density estimates of good and bad configs (Falkner et al. 2018).

Like TPE, it splits the results of one resource level into good (the best
`top_fraction`) and bad ones, models each with a kernel density estimate l(x)
and g(x), and proposes the sampled candidate with the highest l(x) / g(x).
With priors, a quarter as many draws from the prior join the candidates and the
ratio is weighted by prior ** (beta / n) (πBO, see `priors`), with beta 3 rather
than the GP's 10: a log density ratio spans far fewer orders of magnitude than
expected improvement, and with beta 10 a misleading "high" prior still pulled
proposals off a quadratic's optimum after 100 results (median best 0.50 vs 0.013).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgument
from ..space import SearchSpace
from ..types import Config
from .model_based import ModelBasedSearcher, category_counts, reflect


@dataclass
class ProductKDE:
    """A mixture with one product kernel per data point, on the unit-cube encoding.

    Ordered parameters get a Gaussian kernel with a bandwidth by Scott's rule,
    never below `min_bandwidth` nor below 1 / (n + 1) for n < 100; a categorical
    keeps its data point's choice with probability 1 - lam and spreads lam over
    the others, with lam chosen so that its marginal is the Laplace-smoothed
    frequency of each choice.
    """

    data: np.ndarray  # n x d
    counts: np.ndarray  # per parameter: number of choices, 0 if ordered
    bandwidth: np.ndarray  # per ordered parameter (unused for categoricals)
    lam: np.ndarray  # per categorical parameter (unused for ordered ones)

    @classmethod
    def fit(cls, data: np.ndarray, counts: np.ndarray, min_bandwidth: float) -> "ProductKDE":
        n, d = data.shape
        std = data.std(axis=0, ddof=1) if n > 1 else np.zeros(d)
        # Optuna's "magic clip": a floor shrinking with n keeps a few close points from
        # collapsing the density onto one spot.
        floor = max(min_bandwidth, 1.0 / min(100, 1 + n))
        bandwidth = np.maximum(std * n ** (-1.0 / (d + 4)), floor)
        lam = np.maximum(counts - 1, 0) / (n + counts)
        return cls(data, counts, bandwidth, lam)

    def log_pdf(self, x: np.ndarray) -> np.ndarray:
        """Log density at the rows of `x`."""
        from scipy.special import logsumexp  # here: importing it adds 0.14 s to every start

        log_k = np.zeros((len(x), len(self.data)))
        for j, k in enumerate(self.counts):
            if k == 0:
                h = self.bandwidth[j]
                z = (x[:, j, None] - self.data[None, :, j]) / h
                log_k -= 0.5 * z * z + math.log(h * math.sqrt(2 * math.pi))
            elif k > 1:
                same = self._choice(x[:, j], k)[:, None] == self._choice(self.data[:, j], k)
                log_k += np.where(same, math.log1p(-self.lam[j]), math.log(self.lam[j] / (k - 1)))
        return logsumexp(log_k, axis=1) - math.log(len(self.data))

    def sample(self, rng: np.random.Generator, size: int, widen: float) -> np.ndarray:
        """`size` draws with every kernel `widen` times wider, for exploration."""
        rows = self.data[rng.integers(len(self.data), size=size)].copy()
        for j, k in enumerate(self.counts):
            if k == 0:
                rows[:, j] = reflect(rows[:, j] + rng.normal(0.0, widen * self.bandwidth[j], size))
            else:
                spread = rng.random(size) < min(widen * self.lam[j], (k - 1) / k)
                other = (rng.integers(k, size=size) + 0.5) / k
                rows[:, j] = np.where(spread, other, rows[:, j])
        return rows

    @staticmethod
    def _choice(u: np.ndarray, k: int) -> np.ndarray:
        return np.minimum(np.floor(u * k), k - 1)


class BOHBSearcher(ModelBasedSearcher):
    """Samples `n_candidates` from the good density (bandwidth x `widen`), keeps the best ratio.

    The good set is the best `top_fraction` of the results, but at least d + 1
    and at most all but one. A share `random_fraction` of suggestions is random,
    which keeps the densities honest.
    """

    pibo_beta = 3.0  # see the module's docstring

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        initial_configs: Sequence[Config] = (),
        *,
        top_fraction: float = 0.15,
        random_fraction: float = 1 / 3,
        n_candidates: int = 64,
        widen: float = 3.0,
        min_bandwidth: float = 1e-3,
        min_points: int | None = None,
    ):
        super().__init__(space, seed, initial_configs, min_points=min_points)
        if not 0.0 < top_fraction < 1.0 or not 0.0 <= random_fraction <= 1.0:
            raise InvalidArgument(
                "BOHB searcher: top_fraction must be in (0, 1), random_fraction in [0, 1]"
            )
        if n_candidates < 1 or not widen > 0 or not min_bandwidth > 0:
            raise InvalidArgument(
                "BOHB searcher: n_candidates, widen and min_bandwidth must be > 0"
            )
        self.top_fraction, self.random_fraction = top_fraction, random_fraction
        self.n_candidates, self.widen, self.min_bandwidth = n_candidates, widen, min_bandwidth
        self._counts = category_counts(space)

    def _propose(self, level: int) -> dict[str, Any] | None:
        if self._rng.random() < self.random_fraction:
            return None
        x, y = self._level_data(level)
        n, d = x.shape
        n_good = min(n - 1, max(d + 1, math.ceil(self.top_fraction * n)))
        order = np.argsort(y, kind="stable")
        good = ProductKDE.fit(x[order[:n_good]], self._counts, self.min_bandwidth)
        bad = ProductKDE.fit(x[order[n_good:]], self._counts, self.min_bandwidth)
        candidates = good.sample(self._rng, self.n_candidates, self.widen)
        if self.space.has_priors:
            extra = self._prior_candidates(max(1, self.n_candidates // 4))
            candidates = np.vstack([candidates, extra])
        ratio = good.log_pdf(candidates) - bad.log_pdf(candidates)
        log_weights = self._prior_log_weights(candidates, n)
        if log_weights is not None:
            ratio = ratio + log_weights
        return self._first_fresh(candidates[np.argsort(-ratio, kind="stable")])
