"""The two-objective benchmark: conflicting objectives, and hypervolume tracked through the simulator."""

from __future__ import annotations

import numpy as np

from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget
from rung.sim.multiobjective import GOALS, CNNSizeSurrogate, HypervolumeTracker, ScalarizedBenchmark
from rung.sim.simulator import Simulator


def test_width_trades_error_against_parameters():
    bench = CNNSizeSurrogate(r_max=81, seed=0)
    base = {"learning_rate": 0.1, "batch_size": 64, "optimizer": "sgd"}
    small, large = bench.evaluate({**base, "width": 8}, 81), bench.evaluate({**base, "width": 128}, 81)
    assert small["error"] > large["error"] and small["params_m"] < large["params_m"]
    assert bench.cost({**base, "width": 8}, 81) < bench.cost({**base, "width": 128}, 81)
    assert isinstance(ScalarizedBenchmark(bench).evaluate({**base, "width": 8}, 9), float)


def test_multi_objective_asha_runs_in_the_simulator_and_hypervolume_only_grows():
    bench = CNNSizeSurrogate(r_max=27, seed=1)
    horizon = 10 * bench.full_cost / 4
    spec = StudySpec(name="b", space=bench.space, scheduler=SchedulerSettings("asha", 1, 27, 3),
                     budget=Budget(max_wall_seconds=horizon), seed=1, objectives=GOALS.objectives)
    scheduler = spec.build_scheduler()
    tracker = HypervolumeTracker(bench, scheduler)
    Simulator(scheduler, bench, 4, horizon, record_rungs=False, on_report=tracker).run()
    assert scheduler.promotions > 0 and tracker.values
    assert np.all(np.diff(tracker.values) > 0) and 0 < tracker.values[-1] < 1
