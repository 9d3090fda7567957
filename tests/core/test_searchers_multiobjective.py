"""GP and BOHB with several objectives (ParEGO) and constraints (probability of feasibility)."""

from __future__ import annotations

import numpy as np
import pytest

from rung.core.objectives import Constraint, Objective, Objectives
from rung.core.searchers import make_searcher
from rung.core.space import Float, SearchSpace

SPACE = SearchSpace({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
GOALS = Objectives(
    (Objective("f1"), Objective("f2")), (Constraint("g", "<=", 0.0),)
)


def evaluate(config):
    """A two-objective problem whose feasible set is x <= 0.5; its front is y = 0, x in [0, 0.5]."""
    x, y = config["x"], config["y"]
    return {"f1": x + y, "f2": (1 - x) + y, "g": x - 0.5}


@pytest.mark.parametrize("kind", ["gp", "bohb", "mfgp"])
def test_model_based_searchers_learn_the_feasible_front(kind):
    searcher = make_searcher(kind, SPACE, seed=0)
    for trial_id in range(40):
        config = searcher.suggest()
        searcher.on_outcome(trial_id, config, 1, GOALS.outcome(evaluate(config)))
    configs = [searcher._configs[t] for t in range(40)]
    late = configs[20:]
    # After the random start, most proposals are feasible and close to the front (y small).
    assert np.mean([c["x"] <= 0.5 for c in late]) >= 0.7
    assert np.median([c["y"] for c in late]) < 0.25
    # The state round-trips with the outcomes.
    copy = make_searcher(kind, SPACE, seed=0)
    copy.load_state_dict(searcher.state_dict())
    assert copy.suggest() == searcher.suggest()

