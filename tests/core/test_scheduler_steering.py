"""Steering every scheduler: budgets, retries of failed trials, imported results; each a
deterministic call whose effect survives state_dict/load_state_dict."""

from __future__ import annotations

import json

import pytest

from rung.core.errors import FailedPrecondition, InvalidArgument
from rung.core.objectives import Objective
from rung.core.schedulers import SCHEDULERS, Scheduler
from rung.core.space import Float, SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, JobKind, Mode, TrialStatus

SPACE = SearchSpace({"x": Float(0.0, 1.0)})


def build(kind: str, **budget: float) -> Scheduler:
    return StudySpec(
        name="t", space=SPACE, scheduler=SchedulerSettings(kind, 1, 9, 3),
        searcher="mfgp" if kind == "model_promotion" else "random",
        budget=Budget(**budget) if budget else Budget(max_trials=6), seed=1,
    ).build_scheduler()


def run_out(s: Scheduler, fail: int = -1) -> int:
    """Runs jobs to DONE (reporting each resource); trial `fail` fails at its first job."""
    jobs = 0
    while (job := s.suggest(0.0)).kind is not JobKind.DONE:
        assert job.kind is not JobKind.WAIT
        jobs += 1
        if job.trial_id == fail:
            s.fail(job.trial_id)
            fail = -1
            continue
        for r in range(job.resume_from + 1, job.milestone + 1):
            if s.report(job.trial_id, r, (job.config["x"] - 0.3) ** 2 + 1 / r).value != "continue":
                break
    return jobs


def same(a: Scheduler, b: Scheduler) -> bool:
    return json.dumps(a.state_dict(), sort_keys=True) == json.dumps(b.state_dict(), sort_keys=True)


@pytest.mark.parametrize("kind", sorted(SCHEDULERS))
def test_every_scheduler_takes_more_budget_a_retry_and_an_import(kind: str) -> None:
    s = build(kind)
    s.import_trial({"x": 0.31}, [(1, 0.2), (9, 0.1)])
    s.import_trial({"x": 0.9}, [(3, 0.8)])
    assert s.incumbent() is not None and s.incumbent().trial_id == 0  # known before any trial
    run_out(s, fail=2)
    assert s.finished(0.0)
    started = len(s.trials) - s.imported
    assert s.failed_trials() == [2]
    s.check_budget(Budget(max_trials=started + 2), 0.0)
    s.set_budget(Budget(max_trials=started + 2))
    if kind not in ("sh", "sync_hyperband"):  # a sync bracket may have moved on (tested below)
        s.check_retry([2])
        s.retry([2])
    restored = build(kind)
    restored.load_state_dict(json.loads(json.dumps(s.state_dict())))
    assert same(restored, s) and restored.budget == s.budget and restored.imported == 2
    assert not s.finished(0.0)
    assert run_out(s) >= 2  # the raised budget's trials (and the retried one) run
    assert len(s.trials) - s.imported == started + 2
    assert s.trials[0].status is TrialStatus.COMPLETED  # imported at r_max
    with pytest.raises(FailedPrecondition, match=f"below the {started + 2} trials"):
        s.check_budget(Budget(max_trials=started + 1), 0.0)


def test_an_imported_trial_paused_in_a_rung_is_promoted_from_scratch() -> None:
    s = build("asha")
    for i in range(3):
        s.import_trial({"x": 0.3 + i / 10}, [(1, i / 10)])
    assert [s.trials[i].status for i in range(3)] == [TrialStatus.PAUSED] * 3
    job = s.suggest(0.0)  # the best of three at level 1 goes to level 3, retrained from 0
    assert (job.kind, job.trial_id, job.resume_from, job.milestone) == (JobKind.START, 0, 0, 3)
    assert s.resource_spent == 3


def test_bad_imports_and_retries_are_refused_before_anything_changes() -> None:
    s = build("asha")
    before = json.dumps(s.state_dict(), sort_keys=True)
    with pytest.raises(InvalidArgument, match=r"resource 0 is outside \[r_min, r_max\]"):
        s.import_trial({"x": 0.5}, [(0, 0.1)])
    with pytest.raises(InvalidArgument, match="finite"):
        s.import_trial({"x": 0.5}, [(1, float("nan"))])
    with pytest.raises(InvalidArgument, match="repeat"):
        s.import_trial({"x": 0.5}, [(1, 0.1), (1, 0.2)])
    assert json.dumps(s.state_dict(), sort_keys=True) == before
    job = s.suggest(0.0)
    with pytest.raises(FailedPrecondition, match="running, not failed"):
        s.check_retry([job.trial_id])


def test_a_synchronous_bracket_takes_back_only_a_trial_of_the_rung_it_fills() -> None:
    s = build("sh", max_trials=30)
    first = s.suggest(0.0)
    s.fail(first.trial_id)
    s.check_retry([first.trial_id])  # rung 0 is still being filled
    s.retry([first.trial_id])
    again = s.suggest(0.0)
    assert (again.trial_id, again.kind) == (first.trial_id, JobKind.START)
    s.fail(again.trial_id)
    run_out(s)
    s.set_budget(Budget(max_trials=60))
    run_out(s)
    with pytest.raises(FailedPrecondition, match="moved on"):
        s.check_retry([first.trial_id])


def test_several_objectives_import_their_metrics() -> None:
    spec = StudySpec(
        name="t", space=SPACE, scheduler=SchedulerSettings("asha", 1, 9, 3),
        objectives=(Objective("error", Mode.MIN), Objective("cost", Mode.MIN)),
        budget=Budget(max_trials=4),
    )
    s = spec.build_scheduler()
    s.import_trial({"x": 0.2}, [(9, {"error": 0.1, "cost": 3.0})])
    with pytest.raises(InvalidArgument, match="missing metrics"):
        s.import_trial({"x": 0.2}, [(9, {"error": 0.1})])
    assert s.incumbent() is not None and s.incumbent().resource == 9
