"""Searchers by name, as studies select them."""

from __future__ import annotations

from typing import Callable, Sequence

from ..errors import InvalidArgument
from ..space import SearchSpace
from ..types import Config
from .base import Searcher
from .gp import GPSearcher
from .kde import BOHBSearcher
from .local import LocalSearcher
from .mfgp import MultiFidelityGPSearcher
from .random import RandomSearcher

SearcherFactory = Callable[[SearchSpace, int, Sequence[Config]], Searcher]

SEARCHERS: dict[str, SearcherFactory] = {
    "random": RandomSearcher,
    "local": LocalSearcher,
    "gp": GPSearcher,
    "bohb": BOHBSearcher,
    "mfgp": MultiFidelityGPSearcher,
}


def make_searcher(
    kind: str, space: SearchSpace, seed: int, initial_configs: Sequence[Config] = ()
) -> Searcher:
    try:
        factory = SEARCHERS[kind or "random"]
    except KeyError:
        raise InvalidArgument(
            f"unknown searcher {kind!r}; known: {', '.join(sorted(SEARCHERS))}"
        ) from None
    return factory(space, seed, initial_configs)


__all__ = [
    "SEARCHERS",
    "Searcher",
    "RandomSearcher",
    "LocalSearcher",
    "GPSearcher",
    "BOHBSearcher",
    "MultiFidelityGPSearcher",
    "make_searcher",
]
