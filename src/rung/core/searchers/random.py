"""Random search, proposing user-given initial configurations first.

With priors on the space it follows PriorBand (Mallik et al. 2023), simplified:
the first proposal is the prior's own config (`SearchSpace.prior_config`); after
that a share `UNIFORM_SHARE` is uniform and the rest comes either from the prior
or from the prior moved onto the incumbent (`Shape.moved_to`), in proportion to
how likely the best results so far are under each of the two. A good prior keeps
drawing near itself; a misleading one loses to the incumbent once uniform draws
have found something better. Without priors nothing of this runs: the same seed
gives the same configs as before priors existed, and the state is as it was.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..space import SearchSpace
from ..types import Config
from .base import Searcher

UNIFORM_SHARE = 1.0 / 3.0  # of proposals after the first, with priors: uniform draws
TOP_FRACTION = 0.2  # the results that judge prior vs incumbent: the best fifth, at least 2,
TOP_MAX = 32  # at most 32 (a decision inside an RPC must not grow with the study)


class RandomSearcher(Searcher):
    # Whether this class runs the prior/incumbent/uniform mix (model-based subclasses do not).
    _prior_mix = True

    def __init__(self, space: SearchSpace, seed: int, initial_configs: Sequence[Config] = ()):
        super().__init__(space, seed)
        self._initial = [space.validate(c) for c in initial_configs]
        self._rng = np.random.default_rng(seed)
        self._mixing = self._prior_mix and space.has_priors
        self._drawn = 0  # proposals made by the mix (with priors only)
        self._trial_configs: dict[int, dict[str, Any]] = {}  # with priors only
        self._results: dict[int, dict[int, float]] = {}  # resource -> trial_id -> value

    def suggest(self) -> dict[str, Any] | None:
        if self._initial:
            return self._initial.pop(0)
        if self._mixing:
            return self._mix()
        return self.space.sample(self._rng)

    def on_report(self, trial_id: int, config: Config, resource: int, value: float) -> None:
        if self._mixing:
            self._trial_configs.setdefault(trial_id, dict(config))
            self._results.setdefault(resource, {})[trial_id] = float(value)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "initial": [dict(c) for c in self._initial], "rng": self._rng.bit_generator.state
        }
        if self._mixing:
            state["prior_mix"] = {
                "drawn": self._drawn,
                "configs": [[t, c] for t, c in self._trial_configs.items()],
                "results": [
                    [r, [[t, v] for t, v in vals.items()]] for r, vals in self._results.items()
                ],
            }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._initial = list(state["initial"])
        self._rng.bit_generator.state = state["rng"]
        if self._mixing:
            mix = state["prior_mix"]
            self._drawn = mix["drawn"]
            self._trial_configs = {t: dict(c) for t, c in mix["configs"]}
            self._results = {r: {t: v for t, v in vals} for r, vals in mix["results"]}

    # ------------------------------------------------------------------ the prior mix

    def _mix(self) -> dict[str, Any]:
        self._drawn += 1
        if self._drawn == 1:
            return self.space.prior_config()
        r = float(self._rng.random())
        if r < UNIFORM_SHARE:
            return self.space.sample(self._rng)
        incumbent, p_prior = self._prior_vs_incumbent()
        if incumbent is None or (r - UNIFORM_SHARE) / (1.0 - UNIFORM_SHARE) < p_prior:
            return self.space.sample_prior(self._rng)
        shape = self.space.prior_shape.moved_to(incumbent, fill="medium")
        return self.space.from_unit(shape.ppf(self._rng.random((1, len(self.space.params))))[0])

    def _prior_vs_incumbent(self) -> tuple[np.ndarray | None, float]:
        """The incumbent (unit cube) and the probability of drawing from the prior rather
        than around it: the share of the top results' likelihood the prior holds (against
        the prior moved onto the incumbent), at the highest resource level with at least
        two results. No such level: (None, 1)."""
        levels = [r for r, vals in self._results.items() if len(vals) >= 2]
        if not levels:
            return None, 1.0
        vals = self._results[max(levels)]
        k = min(TOP_MAX, max(2, math.ceil(TOP_FRACTION * len(vals))))
        best = heapq.nsmallest(k, vals, key=lambda t: (vals[t], t))
        top = np.array([self.space.to_unit(self._trial_configs[t]) for t in best])
        incumbent = top[0]
        shape = self.space.prior_shape
        log_prior = _log_sum_exp(shape.log_pdf(top))
        log_incumbent = _log_sum_exp(shape.moved_to(incumbent, fill=None).log_pdf(top))
        return incumbent, 1.0 / (1.0 + math.exp(min(700.0, log_incumbent - log_prior)))


def _log_sum_exp(x: np.ndarray) -> float:
    top = float(x.max())
    return top + math.log(float(np.exp(x - top).sum()))
