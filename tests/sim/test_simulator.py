"""The simulator: determinism, cost accounting, workers that wait, the any-time record."""

from __future__ import annotations

from rung.core.space import Float, SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, Config, TrialStatus
from rung.sim.benchmarks import Benchmark, make_benchmark
from rung.sim.simulator import Simulator


class Linear(Benchmark):
    """f = x, cost = r: a run's simulated time is exactly the resource it trained."""

    name = "linear"
    space = SearchSpace({"x": Float(0.0, 1.0)})
    optimum = {"x": 0.0}

    def value(self, config: Config, r: int) -> float:
        return float(config["x"]) + 1.0 / r

    def noise(self, config: Config, r: int) -> float:
        return 0.0

    def cost(self, config: Config, r: int) -> float:
        return float(r)


def spec(kind: str, space: SearchSpace, seed: int = 0, **budget: float) -> StudySpec:
    return StudySpec(
        name="sim",
        space=space,
        scheduler=SchedulerSettings(kind, 1, 27, 3),
        budget=Budget(**budget),
        seed=seed,
    )


def test_same_seed_same_run() -> None:
    bench = make_benchmark("hartmann6", seed=3)
    s = spec("hyperband", bench.space, seed=3, max_wall_seconds=5.0)
    a = Simulator(s.build_scheduler(), bench, 4, 5.0).run()
    b = Simulator(s.build_scheduler(), bench, 4, 5.0).run()
    assert a.to_json() == b.to_json()
    assert a.jobs > 50 and a.times == sorted(a.times)


def test_resumed_trials_pay_only_their_new_resource() -> None:
    scheduler = spec("asha", Linear.space, max_trials=40).build_scheduler()
    result = Simulator(scheduler, Linear(r_max=27), n_workers=1).run()
    assert scheduler.promotions > 10
    # One worker, cost = r: the clock advances by milestone - resume_from per job.
    assert result.end_time == scheduler.resource_spent
    retrain_from_scratch = scheduler.resource_spent + sum(
        t.resume_from for t in scheduler.trials.values()
    )
    assert result.end_time < retrain_from_scratch


def test_workers_run_in_parallel() -> None:
    one = Simulator(spec("fifo", Linear.space, max_trials=8).build_scheduler(), Linear(27), 1).run()
    four = Simulator(spec("fifo", Linear.space, max_trials=8).build_scheduler(), Linear(27), 4).run()
    assert (one.end_time, four.end_time) == (8 * 27, 2 * 27)


def test_waiting_workers_resume_when_a_rung_fills() -> None:
    # r_max = 27, eta = 3: brackets of 27, 12, 6 and 4 trials, which end with 1, 1, 2 and 4 at r_max.
    scheduler = spec("sync_hyperband", Linear.space, max_trials=27 + 12 + 6 + 4).build_scheduler()
    Simulator(scheduler, Linear(27), 4).run()
    assert scheduler.n_running == 0
    assert sum(t.status is TrialStatus.COMPLETED for t in scheduler.trials.values()) == 1 + 1 + 2 + 4


def test_horizon_cuts_the_run() -> None:
    bench = make_benchmark("hartmann3")
    s = spec("asha", bench.space, max_wall_seconds=100.0)
    result = Simulator(s.build_scheduler(), bench, 2, max_time=3.0).run()
    assert 2.5 < result.end_time <= 3.0


def test_trajectory_records_regret_of_the_incumbent() -> None:
    bench = make_benchmark("branin")
    scheduler = spec("asha", bench.space, max_wall_seconds=4.0).build_scheduler()
    result = Simulator(scheduler, bench, 4, 4.0).run()
    incumbent = scheduler.incumbent()
    assert incumbent is not None
    assert result.regrets[-1] == bench.regret(scheduler.trials[incumbent.trial_id].config)
    assert all(r >= 0 for r in result.regrets)
    assert {level for _, _, level, _ in result.rungs} <= {1, 3, 9, 27, 81}
