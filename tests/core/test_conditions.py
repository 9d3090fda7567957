"""Conditional search spaces: sampling, validation, unit-cube encoding, JSON; property-based."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rung.core.conditions import Condition
from rung.core.errors import InvalidArgument
from rung.core.space import Categorical, Float, Int, SearchSpace

DOMAINS = st.one_of(
    st.builds(lambda lo, w, log: Float(lo, lo + w, log=log), st.floats(0.01, 10), st.floats(0, 100), st.booleans()),
    st.builds(lambda lo, w: Int(lo, lo + w), st.integers(1, 5), st.integers(0, 6)),
    st.sampled_from([Categorical(("a", "b", "c")), Categorical((True, False)), Categorical((1, 2, 3, 4))]),
)


@st.composite
def conditional_spaces(draw):
    """A space whose parameters may each depend on an earlier Int or Categorical one, nested."""
    n = draw(st.integers(1, 7))
    params, conditions = {}, {}
    for i in range(n):
        name = f"p{i}"
        params[name] = draw(DOMAINS)
        parents = [p for p, d in params.items() if p != name and isinstance(d, (Int, Categorical))]
        if parents and draw(st.booleans()):
            parent = draw(st.sampled_from(parents))
            dom = params[parent]
            choices = list(dom.choices) if isinstance(dom, Categorical) else list(range(dom.low, dom.high + 1))
            values = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=3, unique=True))
            conditions[name] = Condition.within(parent, values)
    return SearchSpace(params, conditions)


def holds_independently(space: SearchSpace, config: dict) -> set[str]:
    """Parameters whose condition chain holds, computed by recursion on the conditions."""

    def active(name: str) -> bool:
        cond = space.conditions.get(name)
        if cond is None:
            return True
        return active(cond.parent) and cond.parent in config and cond.holds(config[cond.parent])

    return {name for name in space.params if active(name)}


@settings(max_examples=200, deadline=None)
@given(conditional_spaces(), st.integers(0, 2**32 - 1))
def test_a_sample_holds_exactly_the_parameters_whose_conditions_hold(space, seed):
    config = space.sample(np.random.default_rng(seed))
    assert set(config) == holds_independently(space, config)
    assert space.validate(config) == config


@settings(max_examples=200, deadline=None)
@given(conditional_spaces(), st.integers(0, 2**32 - 1))
def test_unit_cube_encoding_round_trips(space, seed):
    config = space.sample(np.random.default_rng(seed))
    u = space.to_unit(config)
    assert u.shape == (len(space.params),) and ((0 <= u) & (u <= 1)).all()
    back = space.from_unit(u)
    assert set(back) == set(config)
    for name, value in config.items():
        if isinstance(value, float):
            assert math.isclose(back[name], value, rel_tol=1e-9, abs_tol=1e-12)
        else:
            assert back[name] == value and type(back[name]) is type(value)


@settings(max_examples=100, deadline=None)
@given(conditional_spaces())
def test_json_form_round_trips(space):
    assert SearchSpace.from_json(space.to_json()) == space


NESTED = SearchSpace(
    {
        "optimizer": ["sgd", "adam"],
        "momentum": Float(0.0, 0.99),
        "nesterov": [True, False],
        "layers": Int(1, 4),
        "units_3": Int(8, 64),
    },
    {
        "momentum": {"parent": "optimizer", "equals": "sgd"},
        "nesterov": Condition.equals("momentum", 0.9),  # never sampled exactly; validates
        "units_3": {"parent": "layers", "in": [3, 4]},
    },
)


def test_inactive_parameters_are_absent_and_refused_when_given():
    assert NESTED.validate({"optimizer": "adam", "layers": 2}) == {"optimizer": "adam", "layers": 2}
    with pytest.raises(InvalidArgument, match="'momentum' is inactive"):
        NESTED.validate({"optimizer": "adam", "momentum": 0.5, "layers": 2})
    with pytest.raises(InvalidArgument, match=r"missing \['units_3'\]"):
        NESTED.validate({"optimizer": "adam", "layers": 3})
    nested = {"optimizer": "sgd", "momentum": 0.9, "nesterov": True, "layers": 1}
    assert NESTED.validate(nested) == nested


@pytest.mark.parametrize(
    "conditions, message",
    [
        ({"b": Condition.equals("zz", 1)}, "unknown parent 'zz'"),
        ({"nope": Condition.equals("a", "x")}, "unknown parameter 'nope'"),
        ({"a": Condition.equals("b", 1), "b": Condition.equals("a", "x")}, "cycle"),
        ({"a": Condition.equals("a", "x")}, "cycle"),
        ({"b": Condition.equals("a", "w")}, "outside the domain of 'a'"),
        ({"b": {"parent": "a"}}, "cannot read condition"),
        ({"b": {"parent": "a", "in": []}}, "at least one value"),
    ],
)
def test_malformed_conditions_are_refused_clearly(conditions, message):
    with pytest.raises(InvalidArgument, match=message):
        SearchSpace({"a": ["x", "y"], "b": Int(1, 3)}, conditions)


def test_unconditional_spaces_sample_as_before():
    """No conditions: the same draws give the same configs as a flat space always did."""
    space = SearchSpace({"x": Float(0, 1), "n": Int(1, 8)})
    u = np.random.default_rng(3).random(2)
    assert space.sample(np.random.default_rng(3)) == {
        "x": float(u[0]), "n": Int(1, 8).from_unit(float(u[1])),
    }
    assert "condition" not in str(space.to_json())
