"""Local search: small random steps around the incumbent, with occasional restarts."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgument
from ..space import SearchSpace
from ..types import Config
from .model_based import ModelBasedSearcher, category_counts, reflect


class LocalSearcher(ModelBasedSearcher):
    """Perturbs the incumbent: the best result at the highest resource level with any result.

    Ordered parameters take a Gaussian step of scale `step` in the unit cube
    (folded back at the borders); each categorical switches to another choice
    with probability `flip_prob`. It proposes the first of `tries` such steps
    that was not proposed before. With probability `restart_prob` it samples at
    random instead, so it does not stay stuck in one basin. With priors it starts at the
    prior's own config and draws its random phase mostly from the prior (see
    `model_based`), so the first incumbent it perturbs is the user's guess or better.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        initial_configs: Sequence[Config] = (),
        *,
        step: float = 0.1,
        flip_prob: float = 0.2,
        restart_prob: float = 0.1,
        tries: int = 20,
        min_points: int | None = None,
    ):
        super().__init__(space, seed, initial_configs, min_points=min_points)
        for name, p in (("flip_prob", flip_prob), ("restart_prob", restart_prob)):
            if not 0.0 <= p <= 1.0:
                raise InvalidArgument(f"{name} must be in [0, 1], got {p}")
        if not step > 0 or tries < 1:
            raise InvalidArgument(f"step must be > 0 and tries >= 1, got {step} and {tries}")
        self.step, self.flip_prob, self.restart_prob, self.tries = (
            step, flip_prob, restart_prob, tries,
        )
        self._counts = category_counts(space)

    def _propose(self, level: int) -> dict[str, Any] | None:
        if self._rng.random() < self.restart_prob:
            return None
        top = max(self._levels)
        results = self._levels[top]
        incumbent = self._units[min(results, key=results.__getitem__)]
        return self._first_fresh(self._neighbours(incumbent))

    def _neighbours(self, center: np.ndarray) -> np.ndarray:
        """`tries` perturbed copies of `center`, one per row."""
        rows = reflect(center + self._rng.normal(0.0, self.step, (self.tries, len(center))))
        cat = self._counts > 0
        if cat.any():
            k = self._counts[cat]
            current = np.floor(center[cat] * k)
            # A shift of 1..k-1 choices lands on a different choice, uniformly.
            shift = self._rng.integers(1, np.maximum(k, 2), (self.tries, len(k)))
            flipped = (current + shift) % k
            flip = self._rng.random((self.tries, len(k))) < self.flip_prob
            rows[:, cat] = (np.where(flip, flipped, current) + 0.5) / k
        return rows
