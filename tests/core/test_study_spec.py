"""Study definitions: validation, JSON and protobuf round trips, rung levels."""

from __future__ import annotations

import dataclasses

import pytest

from rung import wire
from rung.core.errors import InvalidArgument
from rung.core.rungs import rung_levels
from rung.core.schedulers.asha import hyperband_bracket_sizes
from rung.core.space import Categorical, Float, Int, SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, Mode

SPEC = StudySpec(
    name="lenet-fmnist",
    space=SearchSpace({"lr": Float(1e-3, 1, log=True), "bs": Int(32, 256), "opt": Categorical(("sgd", "adam"))}),
    metric="val_error",
    mode=Mode.MIN,
    scheduler=SchedulerSettings("hyperband", 1, 27, 3, 2),
    initial_configs=({"lr": 0.1, "bs": 128, "opt": "sgd"},),
    budget=Budget(max_trials=50, max_resource=500),
    seed=7,
)


def test_json_and_protobuf_round_trips():
    assert StudySpec.from_json(SPEC.to_json()) == SPEC
    assert wire.spec_from_pb(wire.spec_to_pb(SPEC)) == SPEC


def test_same_spec_builds_identical_schedulers():
    a, b = SPEC.build_scheduler(), SPEC.build_scheduler()
    assert [a.suggest(0.0) for _ in range(10)] == [b.suggest(0.0) for _ in range(10)]


@pytest.mark.parametrize(
    "change",
    [
        {"name": "../etc"},
        {"name": ""},
        {"scheduler": SchedulerSettings("nope")},
        {"scheduler": SchedulerSettings("asha", 0, 9, 3)},
        {"scheduler": SchedulerSettings("asha", 10, 9, 3)},
        {"scheduler": SchedulerSettings("asha", 1, 9, 1)},
        {"scheduler": SchedulerSettings("hyperband", 1, 9, 3, brackets=5)},
        {"searcher": "nope"},
        {"initial_configs": ({"lr": 5.0, "bs": 32, "opt": "sgd"},)},
        {"seed": -1},
    ],
)
def test_invalid_specs_are_refused(change):
    with pytest.raises(InvalidArgument):
        dataclasses.replace(SPEC, **change)


def test_budget_needs_a_limit():
    with pytest.raises(InvalidArgument, match="budget"):
        Budget()


def test_rung_levels():
    assert rung_levels(1, 9, 3) == [1, 3, 9]
    assert rung_levels(1, 10, 3) == [1, 3, 9, 10]
    assert rung_levels(1, 81, 3, bracket=2) == [9, 27, 81]
    assert rung_levels(2, 2, 3) == [2]


def test_hyperband_bracket_sizes_follow_li_et_al():
    # R = 81, eta = 3: s_max = 4, brackets start 81, 34, 15, 8, 5 trials (Li et al. 2018, Table 1).
    assert hyperband_bracket_sizes(1, 81, 3, 5) == [81, 34, 15, 8, 5]


def test_value_conversion_keeps_types():
    for v in [True, 3, 2.5, "adam"]:
        back = wire.value_from_pb(wire.value_to_pb(v))
        assert back == v and type(back) is type(v)
    with pytest.raises(InvalidArgument):
        wire.value_from_pb(wire.pb.Value())
