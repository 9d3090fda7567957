"""User priors on parameters: validation, the JSON form, sampling, density, and what the
searchers make of a good and of a misleading prior on a simple function."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from rung.core.errors import InvalidArgument
from rung.core.priors import ORDERED_STD, pibo_weights
from rung.core.searchers import make_searcher
from rung.core.space import Categorical, FiniteRange, Float, Int, SearchSpace
from rung.core.study import StudySpec

PRIORS = SearchSpace({
    "lr": Float(1e-4, 1.0, log=True, prior=3e-3, confidence="high"),
    "n": Int(1, 64, prior=8),
    "opt": Categorical(("sgd", "adam", "rms"), prior="adam", confidence="medium"),
    "wd": FiniteRange(0.0, 0.1, 5, prior=0.05, confidence="low"),
    "x": Float(0.0, 1.0),
})


@pytest.mark.parametrize("domain, message", [
    (lambda: Float(0.0, 1.0, prior=1.5), r"prior 1.5 is outside \[0.0, 1.0\]"),
    (lambda: Float(0.0, 1.0, prior=math.nan), "prior must be finite"),
    (lambda: Float(0.0, 1.0, prior=math.inf), "prior must be finite"),
    (lambda: Float(1e-3, 1.0, log=True, prior=-1.0), "log-scale domain must be > 0"),
    (lambda: Float(1e-3, 1.0, log=True, prior=0.0), "log-scale domain must be > 0"),
    (lambda: Float(0.0, 1.0, prior="a"), "prior must be a number"),
    (lambda: Float(0.0, 1.0, prior=True), "prior must be a number"),
    (lambda: Float(0.0, 1.0, prior=0.5, confidence="certain"), "unknown prior confidence"),
    (lambda: Float(0.0, 1.0, confidence="high"), "confidence 'high' is set without a prior"),
    (lambda: Int(1, 8, prior=2.5), "prior must be an integer"),
    (lambda: Int(1, 8, prior=9), "outside"),
    (lambda: Categorical(("a", "b"), prior="c"), "prior 'c' is not one of"),
    (lambda: Categorical((1, 2), prior=True), "not one of"),
    (lambda: FiniteRange(0.0, 1.0, 3, prior=0.3), "prior 0.3 is not one of"),
])
def test_a_bad_prior_is_refused_with_a_clear_error(domain: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        domain()


def test_errors_inside_a_space_name_the_parameter() -> None:
    with pytest.raises(InvalidArgument, match="parameter 'lr': prior 2.0 is outside"):
        SearchSpace.from_json({"lr": {"type": "Float", "low": 0.0, "high": 1.0, "prior": 2.0}})


def test_priors_are_canonical_and_confidence_defaults_to_medium() -> None:
    assert Float(0.0, 1.0, prior=1).prior == 1.0 and Float(0.0, 1.0, prior=1).confidence == "medium"
    assert Int(1, 8, prior=3.0).prior == 3 and isinstance(Int(1, 8, prior=3.0).prior, int)
    assert FiniteRange(0.0, 0.1, 5, prior=0.025000000001).prior == 0.025
    assert Float(0.0, 1.0).confidence is None and not SearchSpace({"x": Float(0.0, 1.0)}).has_priors


def test_the_json_form_round_trips_and_is_unchanged_without_priors() -> None:
    data = json.loads(json.dumps(PRIORS.to_json()))
    assert data["lr"]["prior"] == 3e-3 and data["lr"]["confidence"] == "high"
    assert "prior" not in data["x"] and "confidence" not in data["x"]
    assert SearchSpace.from_json(data) == PRIORS
    plain = SearchSpace({"x": Float(0.0, 1.0), "c": Categorical(("a", "b"))})
    assert plain.to_json() == {  # the form journals held before priors existed
        "x": {"type": "Float", "low": 0.0, "high": 1.0, "log": False},
        "c": {"type": "Categorical", "choices": ["a", "b"]},
    }
    spec = StudySpec(name="s", space=PRIORS, searcher="gp")
    assert StudySpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


def test_a_prior_on_a_conditional_parameter_counts_only_where_it_is_active() -> None:
    space = SearchSpace(
        {
            "opt": Categorical(("sgd", "adam")),
            "beta": Float(0.0, 1.0, prior=0.9, confidence="high"),
        },
        conditions={"beta": {"parent": "opt", "equals": "adam"}},
    )
    units = np.array([[0.25, 0.1], [0.75, 0.1]])  # sgd: beta inactive; adam: beta far off
    log_pdf = space.prior_log_pdf(units)
    assert log_pdf[0] == 0.0 and log_pdf[1] < -10
    assert space.prior_config() == {"opt": "adam", "beta": 0.9}  # opt: its middle choice
    rng = np.random.default_rng(0)
    assert all(space.validate(c) == c for c in (space.sample_prior(rng) for _ in range(50)))


def test_prior_draws_cost_what_uniform_draws_cost() -> None:
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    PRIORS.sample_prior(a)
    PRIORS.sample(b)
    assert a.bit_generator.state == b.bit_generator.state


def test_samples_follow_the_prior_and_its_confidence() -> None:
    rng = np.random.default_rng(1)
    draws = [PRIORS.sample_prior(rng) for _ in range(4000)]
    log_lr = np.array([math.log10(d["lr"]) for d in draws])
    unit_sd = np.std([PRIORS.params["lr"].to_unit(d["lr"]) for d in draws])
    assert abs(np.median(log_lr) - math.log10(3e-3)) < 0.1
    assert abs(unit_sd - ORDERED_STD["high"]) < 0.01  # far from the bounds: barely truncated
    share = np.mean([d["opt"] == "adam" for d in draws])
    assert abs(share - 4 / 6) < 0.03  # weight 4 against 1 for each of the two other choices
    uniform = np.std([PRIORS.params["x"].to_unit(d["x"]) for d in draws])
    assert abs(uniform - math.sqrt(1 / 12)) < 0.01  # no prior: uniform


def test_the_density_is_a_density_relative_to_uniform() -> None:
    rng = np.random.default_rng(2)
    u = rng.random((200_000, len(PRIORS.params)))
    assert abs(np.exp(PRIORS.prior_log_pdf(u)).mean() - 1.0) < 0.03  # integrates to one
    center = PRIORS.to_unit(PRIORS.prior_config())
    assert PRIORS.prior_log_pdf(center)[0] > PRIORS.prior_log_pdf(u[:100]).max() - 1e-9


def test_pibo_weights_decay_towards_one_as_results_accumulate() -> None:
    log_prior = np.array([0.0, -5.0])
    early, late = pibo_weights(log_prior, 5), pibo_weights(log_prior, 500)
    assert early[0] == late[0] == 1.0
    assert early[1] < 1e-4 and 0.9 < late[1] < 1.0


def test_a_searcher_without_priors_keeps_its_state_as_before() -> None:
    plain = SearchSpace({"x": Float(0.0, 1.0)})
    assert set(make_searcher("random", plain, 0).state_dict()) == {"initial", "rng"}
    assert "prior_mix" in make_searcher("random", PRIORS, 0).state_dict()


@pytest.mark.parametrize("kind", ["random", "local", "gp", "bohb", "mfgp"])
def test_the_first_proposal_is_the_prior(kind: str) -> None:
    assert make_searcher(kind, PRIORS, 0).suggest() == PRIORS.prior_config()


# ---------------------------------------------------------------- good and misleading priors

OPTIMUM = (1.3, -0.7)


def quadratic_space(prior: tuple[float, float] | None) -> SearchSpace:
    if prior is None:
        return SearchSpace({"x": Float(-5.0, 5.0), "y": Float(-5.0, 5.0)})
    return SearchSpace({
        "x": Float(-5.0, 5.0, prior=prior[0], confidence="high"),
        "y": Float(-5.0, 5.0, prior=prior[1], confidence="high"),
    })


def median_best(kind: str, prior: tuple[float, float] | None, evaluations: int) -> float:
    bests = []
    for seed in range(5):
        s = make_searcher(kind, quadratic_space(prior), seed)
        best = math.inf
        for trial_id in range(evaluations):
            config = s.suggest()
            assert config is not None
            value = (config["x"] - OPTIMUM[0]) ** 2 + 2.0 * (config["y"] - OPTIMUM[1]) ** 2
            s.on_report(trial_id, config, 1, value)
            best = min(best, value)
        bests.append(best)
    return float(np.median(bests))


# (searcher, evaluations, bound on the median best value with a misleading prior): the
# quadratic reaches ~135 at the far corner, the misleading prior sits next to it.
MISLEADING = [("random", 60, 0.5), ("gp", 40, 0.05), ("mfgp", 40, 0.05), ("bohb", 100, 0.1)]


@pytest.mark.parametrize("kind, evaluations, bound", MISLEADING)
def test_a_misleading_confident_prior_does_not_stop_the_search(
    kind: str, evaluations: int, bound: float
) -> None:
    assert median_best(kind, (-4.5, 4.5), evaluations) < bound


@pytest.mark.parametrize("kind", ["random", "local", "gp", "bohb", "mfgp"])
def test_a_good_prior_speeds_the_search_up(kind: str) -> None:
    # Near the optimum, confident: after 8 evaluations (the model-based ones have just begun
    # modelling) the median best is at least 5 times lower than without a prior.
    assert 5 * median_best(kind, (1.2, -0.6), 8) < median_best(kind, None, 8)
