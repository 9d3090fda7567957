"""The in-process tuner: the seeds' shape on top of the same core."""

from __future__ import annotations

from itertools import count
from typing import Any

import pytest
from scheduler_builders import make_spec

from rung.core.types import TrialStatus
from rung.tuner import Tuner


def objective(config: dict[str, Any], resource: int) -> float:
    return (config["x"] - 0.3) ** 2 + 1.0 / resource


def fake_clock() -> Any:
    ticks = count()
    return lambda: float(next(ticks))  # every clock read advances one second


def test_fifo_tuner_keeps_incumbent_and_trajectory() -> None:
    calls: list[int] = []

    def recorded(config: dict[str, Any], resource: int) -> float:
        calls.append(resource)
        return objective(config, resource)

    tuner = Tuner(make_spec("fifo", max_trials=5), recorded, clock=fake_clock()).run()
    trials = tuner.scheduler.trials.values()
    assert len(tuner.incumbent_trajectory) == len(tuner.cumulative_runtime) == 5
    assert tuner.cumulative_runtime == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert calls == [1, 3, 9] * 5  # every rung level, so stopping-type schedulers can act
    best = min(trials, key=lambda t: objective(t.config, 9))
    assert tuner.incumbent == best.config
    assert tuner.incumbent_trajectory[-1] == pytest.approx(objective(best.config, 9))
    assert tuner.incumbent_trajectory == sorted(tuner.incumbent_trajectory, reverse=True)


def test_number_of_trials_still_lets_started_trials_be_promoted() -> None:
    tuner = Tuner(make_spec("asha", max_trials=100), objective).run(number_of_trials=9)
    s = tuner.scheduler
    assert len(s.trials) == 9 and s.promotions > 0


def test_max_wallclock_time_stops_the_run() -> None:
    tuner = Tuner(make_spec("asha", max_trials=100), objective, clock=fake_clock())
    tuner.run(max_wallclock_time=4.0)
    assert tuner.cumulative_runtime[-1] == 4.0


@pytest.mark.parametrize("kind", ["asha_stopping", "sh", "sync_hyperband", "hyperband"])
def test_every_scheduler_runs_to_the_end_in_process(kind: str) -> None:
    tuner = Tuner(make_spec(kind, max_trials=20), objective).run()
    statuses = {t.status for t in tuner.scheduler.trials.values()}
    assert TrialStatus.RUNNING not in statuses and TrialStatus.COMPLETED in statuses
    assert tuner.incumbent is not None


def test_failing_objective_marks_the_trial_failed() -> None:
    def broken(config: dict[str, Any], resource: int) -> float:
        raise ValueError("diverged")

    tuner = Tuner(make_spec("fifo", max_trials=3), broken)
    with pytest.raises(ValueError):
        tuner.run()
    assert tuner.scheduler.trial(0).status is TrialStatus.FAILED
