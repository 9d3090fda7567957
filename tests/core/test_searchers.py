"""Every searcher against the same contract, the model-based ones against random search.

The contract: same seed and calls give the same configs, a state_dict round trip
mid-run continues identically, configs are valid, the user's initial configs
come first, and (for the learning searchers) a pending config is never proposed
again. Workers are simulated: a few configs run at once and report out of order.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any, Callable

import numpy as np
import pytest

from rung.core.errors import InvalidArgument
from rung.core.rungs import report_points, rung_levels
from rung.core.searchers import SEARCHERS, GPSearcher, Searcher, make_searcher
from rung.core.space import Categorical, FiniteRange, Float, Int, SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, Decision, JobKind

SPACE = SearchSpace(
    {
        "lr": Float(1e-4, 1.0, log=True),
        "x": Float(-1.0, 1.0),
        "n": Int(1, 64, log=True),
        "opt": Categorical(("sgd", "adam", "rms")),
        "wd": FiniteRange(0.0, 0.1, 5),
    }
)
# The same space with user priors (one far from the objective's optimum, one near it):
# the contract holds for the prior-aware searchers too.
PRIOR_SPACE = SearchSpace(
    {
        "lr": Float(1e-4, 1.0, log=True, prior=1e-3, confidence="high"),
        "x": Float(-1.0, 1.0, prior=0.3),
        "n": Int(1, 64, log=True),
        "opt": Categorical(("sgd", "adam", "rms"), prior="sgd", confidence="low"),
        "wd": FiniteRange(0.0, 0.1, 5, prior=0.025),
    }
)
LEARNING = ["local", "gp", "bohb", "mfgp"]
INITIAL = [
    {"lr": 0.1, "x": 0.0, "n": 8, "opt": "adam", "wd": 0.05},
    {"lr": 0.001, "x": 0.5, "n": 64, "opt": "sgd", "wd": 0.0},
]


def objective(config: dict[str, Any], resource: int = 1) -> float:
    """Lower is better; the resource shifts values the way a learning curve would."""
    value = (np.log10(config["lr"]) + 2) ** 2 + (config["x"] - 0.3) ** 2 + 0.01 * config["n"]
    return float(value + (0.2 if config["opt"] == "sgd" else 0.0) + config["wd"] + 1.0 / resource)


def make(kind: str, seed: int = 0, space: SearchSpace = SPACE, initial: Any = ()) -> Searcher:
    return make_searcher(kind, space, seed, initial)


class Workers:
    """Up to `n_workers` configs run at once; a seeded choice says which one reports next.

    Each config reports at resources 1 and 3, so the searchers see two levels.
    """

    def __init__(self, seed: int, n_workers: int = 3, metric: Callable[..., float] = objective):
        self.rnd = random.Random(seed)
        self.n_workers, self.metric = n_workers, metric
        self.running: dict[int, tuple[dict[str, Any], list[int]]] = {}
        self.proposed: list[dict[str, Any] | None] = []
        self.next_id = 0

    def step(self, s: Searcher) -> None:
        if self.running and (len(self.running) >= self.n_workers or self.rnd.random() < 0.5):
            trial_id = self.rnd.choice(sorted(self.running))
            config, resources = self.running[trial_id]
            resource = resources.pop(0)
            s.on_report(trial_id, config, resource, self.metric(config, resource))
            if not resources:
                del self.running[trial_id]
            return
        pending = [c for c, r in self.running.values() if r == [1, 3]]
        config = s.suggest()
        self.proposed.append(config)
        if config is not None:
            assert config not in pending, f"{config} is already pending"
            self.running[self.next_id] = (config, [1, 3])
            self.next_id += 1

    def run(self, s: Searcher, steps: int) -> "Workers":
        for _ in range(steps):
            self.step(s)
        return self


@pytest.fixture(params=sorted(SEARCHERS))
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=[SPACE, PRIOR_SPACE], ids=["plain", "priors"])
def space(request: pytest.FixtureRequest) -> SearchSpace:
    return request.param


@pytest.fixture(params=LEARNING)
def learning(request: pytest.FixtureRequest) -> str:
    return request.param


def test_same_seed_and_calls_give_same_configs(kind: str, space: SearchSpace) -> None:
    a = Workers(seed=1).run(make(kind, seed=3, space=space), 80).proposed
    b = Workers(seed=1).run(make(kind, seed=3, space=space), 80).proposed
    assert json.dumps(a) == json.dumps(b)  # also tells 1 from 1.0 and True from 1
    assert a != Workers(seed=1).run(make(kind, seed=4, space=space), 80).proposed


def test_state_round_trip_mid_run_continues_identically(kind: str, space: SearchSpace) -> None:
    original = make(kind, seed=5, space=space, initial=INITIAL)
    workers = Workers(seed=2).run(original, 50)  # past the random phase, with configs running
    state = json.loads(json.dumps(original.state_dict()))
    restored = make(kind, seed=5, space=space, initial=INITIAL)
    restored.load_state_dict(state)
    twin = copy.deepcopy(workers)
    assert json.dumps(workers.run(original, 40).proposed) == json.dumps(
        twin.run(restored, 40).proposed
    )
    assert original.state_dict() == restored.state_dict()


def test_configs_are_valid(kind: str, space: SearchSpace) -> None:
    proposed = Workers(seed=3).run(make(kind, seed=1, space=space), 150).proposed
    assert len(proposed) >= 40
    for config in proposed:
        assert config is not None and space.validate(config) == config


def test_initial_configs_come_first(kind: str) -> None:
    s = make(kind, initial=INITIAL)
    assert [s.suggest(), s.suggest()] == INITIAL
    assert SPACE.validate(s.suggest())


def test_bad_initial_config_is_refused(kind: str) -> None:
    with pytest.raises(InvalidArgument, match="opt"):
        make(kind, initial=[{**INITIAL[0], "opt": "lbfgs"}])


@pytest.mark.parametrize("prior", [None, "q"])
def test_pending_configs_are_not_proposed_again(learning: str, prior: str | None) -> None:
    # Asserted inside Workers.step, here with many workers on a small finite space.
    small = SearchSpace(
        {"a": Categorical(("p", "q", "r"), prior=prior), "b": Int(1, 3), "c": [True, False]}
    )
    workers = Workers(seed=4, n_workers=6, metric=lambda c, r: c["b"] + 0.5 * c["c"] + 1 / r)
    workers.run(make(learning, space=small), 150)
    assert sum(c is not None for c in workers.proposed) >= 10


def test_a_used_up_finite_space_answers_none_and_changes_nothing(learning: str) -> None:
    tiny = SearchSpace({"a": Categorical(("p", "q")), "b": Int(1, 2)})
    s = make(learning, space=tiny)
    configs = [s.suggest() for _ in range(4)]
    assert None not in configs and len({json.dumps(c) for c in configs}) == 4
    before = json.dumps(s.state_dict())
    assert s.suggest() is None
    assert json.dumps(s.state_dict()) == before  # the scheduler journals no WAIT


def test_min_points_is_checked(learning: str) -> None:
    with pytest.raises(InvalidArgument, match="min_points"):
        SEARCHERS[learning](SPACE, 0, (), min_points=1)  # type: ignore[call-arg]


def test_gp_proposes_pending_liars_elsewhere() -> None:
    # Without reports in between, the constant liar must spread proposals out.
    s = GPSearcher(SearchSpace({"x": Float(0.0, 1.0)}), seed=0)
    for t, x in enumerate([0.1, 0.3, 0.5, 0.9]):
        s.on_report(t, {"x": x}, 1, (x - 0.62) ** 2)
    batch = [s.suggest()["x"] for _ in range(4)]  # type: ignore[index]
    assert min(abs(a - b) for i, a in enumerate(batch) for b in batch[i + 1 :]) > 1e-3


QUADRATIC = SearchSpace({"x": Float(-5.0, 5.0), "y": Float(-5.0, 5.0)})


def best_after(kind: str, seed: int, evaluations: int = 40) -> float:
    s = make(kind, seed=seed, space=QUADRATIC)
    best = np.inf
    for trial_id in range(evaluations):
        config = s.suggest()
        assert config is not None
        value = (config["x"] - 1.3) ** 2 + 2.0 * (config["y"] + 0.7) ** 2
        s.on_report(trial_id, config, 1, value)
        best = min(best, value)
    return best


@pytest.mark.parametrize("kind", ["gp", "bohb", "local", "mfgp"])
def test_model_beats_random_search_on_a_quadratic(kind: str) -> None:
    seeds = range(5)
    random_best = np.mean([best_after("random", s) for s in seeds])
    assert np.mean([best_after(kind, s) for s in seeds]) < random_best / 2


@pytest.mark.parametrize("searcher", LEARNING)
def test_study_with_asha_runs_to_the_end(searcher: str) -> None:
    spec = StudySpec(
        name="s",
        space=SPACE,
        scheduler=SchedulerSettings("asha", 1, 9, 3),
        searcher=searcher,
        budget=Budget(max_trials=25),
        seed=7,
    )
    scheduler = spec.build_scheduler()
    for step in range(500):
        job = scheduler.suggest(float(step))
        if job.kind is JobKind.DONE:
            break
        assert job.kind is not JobKind.WAIT  # one worker: there is always something to do
        levels = rung_levels(1, 9, 3, scheduler.trial(job.trial_id).bracket)
        for resource in report_points(levels, job.resume_from, job.milestone):
            decision = scheduler.report(job.trial_id, resource, objective(job.config, resource))
            if decision is not Decision.CONTINUE:
                break
    assert job.kind is JobKind.DONE and len(scheduler.trials) == 25
    assert scheduler.incumbent() is not None and scheduler.incumbent().resource == 9


def test_a_failed_trial_is_no_longer_pending_nor_proposed_again(learning: str) -> None:
    s = make(learning)
    first = s.suggest()
    assert first is not None and s.state_dict()["pending"] == [first]
    s.on_trial_failed(0, first)
    assert s.state_dict()["pending"] == []
    assert all(s.suggest() != first for _ in range(20))
