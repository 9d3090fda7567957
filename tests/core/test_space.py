"""Search spaces: domains as the seeds write them, validation, sampling, JSON."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from rung.core.errors import InvalidArgument
from rung.core.space import Categorical, FiniteRange, Float, Int, SearchSpace, to_domain


def test_scipy_distributions_as_the_seeds_write_them():
    assert to_domain(stats.loguniform(1e-2, 1)) == Float(1e-2, 1.0, log=True)
    assert to_domain(stats.randint(32, 256)) == Int(32, 255)  # scipy's high is exclusive
    assert to_domain(stats.uniform(0.1, 0.5)) == Float(0.1, 0.6)
    assert to_domain(["sgd", "adam"]) == Categorical(("sgd", "adam"))
    with pytest.raises(InvalidArgument, match="unsupported scipy distribution"):
        to_domain(stats.norm(0, 1))


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Float(1.0, 0.0),
        lambda: Float(0.0, 1.0, log=True),
        lambda: Float(float("nan"), 1.0),
        lambda: Int(0, 10, log=True),
        lambda: Int(1.5, 3),
        lambda: Categorical(()),
        lambda: Categorical(("a", "a")),
        lambda: FiniteRange(1, 10, 0),
        lambda: SearchSpace({}),
        lambda: SearchSpace({"x": object()}),
    ],
)
def test_malformed_domains_are_refused_with_a_clear_error(bad):
    with pytest.raises(InvalidArgument):
        bad()


SPACE = SearchSpace(
    {
        "lr": Float(1e-4, 1.0, log=True),
        "momentum": Float(0.0, 0.99),
        "batch": Int(16, 512, log=True),
        "layers": Int(1, 4),
        "opt": Categorical(("sgd", "adam", True, 3)),
        "width": FiniteRange(32, 256, 4, log=True, cast_int=True),
    }
)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_samples_are_valid_and_round_trip_through_the_unit_cube(seed):
    config = SPACE.sample(np.random.default_rng(seed))
    assert SPACE.validate(config) == config
    again = SPACE.from_unit(SPACE.to_unit(config))
    for name, value in config.items():
        if isinstance(value, float):
            assert math.isclose(again[name], value, rel_tol=1e-9)
        else:
            assert again[name] == value


def test_int_end_points_are_reachable():
    dom = Int(1, 4)
    assert {dom.from_unit(u) for u in np.linspace(0, 1, 101)} == {1, 2, 3, 4}


def test_validate_rejects_wrong_types_and_values():
    good = {"lr": 0.1, "momentum": 0.5, "batch": 32, "layers": 2, "opt": "sgd", "width": 64}
    assert SPACE.validate(good)["width"] == 64
    for key, value in [("lr", "0.1"), ("lr", 2.0), ("batch", 32.5), ("opt", "rmsprop"),
                       ("opt", 1), ("layers", True), ("width", 65)]:
        with pytest.raises(InvalidArgument, match=key):
            SPACE.validate({**good, key: value})
    with pytest.raises(InvalidArgument, match="unknown"):
        SPACE.validate({**good, "extra": 1})


def test_json_round_trip():
    assert SearchSpace.from_json(SPACE.to_json()) == SPACE
    with pytest.raises(InvalidArgument):
        SearchSpace.from_json({"x": {"type": "Gaussian"}})
