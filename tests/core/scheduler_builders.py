"""Builders for the scheduler tests: every scheduler is made through a StudySpec, as the server does."""

from __future__ import annotations

from typing import Callable

from rung.core.schedulers import Scheduler
from rung.core.space import Categorical, Float, Int, SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget

SPACE = SearchSpace({"x": Float(0.0, 1.0), "n": Int(1, 8), "c": Categorical(("a", "b"))})
# The same space with user priors, so every scheduler runs the prior-aware searchers too.
PRIOR_SPACE = SearchSpace({
    "x": Float(0.0, 1.0, prior=0.8, confidence="high"),
    "n": Int(1, 8, prior=2),
    "c": Categorical(("a", "b"), prior="b", confidence="low"),
})

Build = Callable[..., Scheduler]

# Schedulers that need a particular searcher; the others run with random search.
SEARCHER_FOR = {"model_promotion": "mfgp"}


def make_spec(
    kind: str,
    r_min: int = 1,
    r_max: int = 9,
    eta: int = 3,
    brackets: int = 0,
    seed: int = 0,
    priors: bool = False,
    **budget: float,
) -> StudySpec:
    return StudySpec(
        name="t",
        space=PRIOR_SPACE if priors else SPACE,
        scheduler=SchedulerSettings(kind, r_min, r_max, eta, brackets),
        searcher=SEARCHER_FOR.get(kind, "random"),
        budget=Budget(**budget) if budget else Budget(max_trials=30),
        seed=seed,
    )
