"""Helpers for the service tests: a fake clock, a small ASHA study, comparable snapshots."""

from __future__ import annotations

from typing import Any

from rung.core.space import Float, SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget
from rung.server.service import StudyService, TrialView

LEASE = 10.0


class FakeClock:
    """Time that moves only when a test says so: lease expiry without sleeping."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_spec(
    name: str = "s", r_min: int = 1, r_max: int = 9, eta: int = 3, trials: int = 30
) -> StudySpec:
    return StudySpec(
        name=name,
        space=SearchSpace({"x": Float(0.0, 1.0)}),
        scheduler=SchedulerSettings("asha", r_min, r_max, eta),
        budget=Budget(max_trials=trials),
        seed=7,
    )


def snapshot(service: StudyService, name: str = "s") -> list[tuple[Any, ...]]:
    """Everything ListTrials shows about a study, as comparable values."""
    return [_trial_tuple(t) for t in service.list_trials(name)]


def _trial_tuple(t: TrialView) -> tuple[Any, ...]:
    r = t.record
    return (
        t.trial_id,
        t.config,
        t.status,
        t.bracket,
        [(s.seq, s.resume_from, s.milestone, s.worker_id, s.lease_id, s.lost) for s in r.segments],
        list(r.observations),
        r.checkpoint,
        r.checkpoint_resource,
        list(r.failures),
    )


def study_summary(service: StudyService, name: str = "s") -> tuple[Any, ...]:
    v = service.get_study(name)
    return (
        v.spec,
        v.state,
        v.trials_started,
        v.trials_running,
        v.promotions,
        v.resource_spent,
        v.incumbent,
        v.incumbent_config,
    )
