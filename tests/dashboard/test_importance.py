"""Parameter importance: the adjusted correlation ratio of each parameter alone."""

from __future__ import annotations

import numpy as np

from rung.core.space import Categorical, Float, SearchSpace
from rung.server.dashboard.importance import importance


def test_the_parameter_that_drives_the_metric_ranks_first_and_noise_near_zero() -> None:
    rng = np.random.default_rng(0)
    space = SearchSpace({"noise": Float(0, 1), "lr": Float(1e-4, 1, log=True),
                         "opt": Categorical(("a", "b", "c"))})
    configs = [space.sample(rng) for _ in range(400)]
    values = [np.log10(c["lr"]) ** 2 + (4.0 if c["opt"] == "a" else 0.0) for c in configs]
    scores = {p["name"]: p["importance"] for p in importance(space, configs, values)}
    assert scores["lr"] > 0.7
    assert scores["lr"] > scores["opt"] > scores["noise"]
    assert 0.04 < scores["opt"] < 0.3  # a real but small share
    assert scores["noise"] < 0.06  # chance only (400 results, 10 bins)


def test_too_few_results_or_no_spread_give_zero() -> None:
    space = SearchSpace({"x": Float(0, 1)})
    assert importance(space, [{"x": 0.1}, {"x": 0.9}], [1.0, 2.0])[0]["importance"] == 0.0
    flat = [{"x": float(x)} for x in np.linspace(0, 1, 20)]
    assert importance(space, flat, [3.0] * 20)[0]["importance"] == 0.0
    assert importance(space, [], []) == [{"name": "x", "importance": 0.0, "bins": 0}]
