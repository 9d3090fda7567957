"""Random search, proposing user-given initial configurations first."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..space import SearchSpace
from ..types import Config
from .base import Searcher


class RandomSearcher(Searcher):
    def __init__(self, space: SearchSpace, seed: int, initial_configs: Sequence[Config] = ()):
        super().__init__(space, seed)
        self._initial = [space.validate(c) for c in initial_configs]
        self._rng = np.random.default_rng(seed)

    def suggest(self) -> dict[str, Any]:
        if self._initial:
            return self._initial.pop(0)
        return self.space.sample(self._rng)

    def state_dict(self) -> dict[str, Any]:
        return {"initial": [dict(c) for c in self._initial], "rng": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._initial = list(state["initial"])
        self._rng.bit_generator.state = state["rng"]
