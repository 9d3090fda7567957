"""model_promotion's hedge: a share of its decisions follows ASHA's rule with uniform configs,
so a model that has written off part of the space cannot keep it unexplored."""

from __future__ import annotations

from collections import Counter

import pytest

from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget
from rung.sim.benchmarks import make_benchmark
from rung.sim.simulator import Simulator

R_MAX = 27


def optimizer_share(seed: int, hedge: bool) -> float:
    """The share of SGD among the trials of a 4-worker study on the CNN surrogate."""
    bench = make_benchmark("cnn", R_MAX, seed, 1)
    end = 30 * bench.full_cost / 4  # 30 full evaluations of worker time
    spec = StudySpec(name="s", space=bench.space,
                     scheduler=SchedulerSettings("model_promotion", 1, R_MAX, 3),
                     searcher="mfgp", budget=Budget(max_wall_seconds=end), seed=seed)
    scheduler = spec.build_scheduler()
    if not hedge:
        scheduler.searcher.random_fraction = 0.0  # every decision by the model
    Simulator(scheduler, bench, 4, end).run()
    counts = Counter(t.config["optimizer"] for t in scheduler.trials.values())
    return counts["sgd"] / sum(counts.values())


@pytest.mark.parametrize("seed", [1, 2])
def test_the_model_alone_starves_sgd_on_the_cnn_surrogate_and_the_hedge_does_not(seed: int) -> None:
    # SGD's good learning rates sit next to the divergence cliff: its first random results
    # are poor, and a model trusted at every decision soon stops proposing it at all.
    assert optimizer_share(seed, hedge=False) < 0.05
    assert optimizer_share(seed, hedge=True) > 0.2
