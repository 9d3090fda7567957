"""Constraints come first in every scheduler's rungs: an infeasible result is never
promoted (or let continue) over a feasible one, nor over one with a smaller violation.

The table makes infeasible trials look best on both objectives, so a scheduler
that ignored constraints would promote them first.
"""

from __future__ import annotations

import math

import pytest
from scheduler_builders import SPACE

from rung.core.objectives import Constraint, Objective
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, Decision, JobKind, Mode

GOALS = dict(
    objectives=(Objective("error"), Objective("latency_ms", Mode.MIN)),
    constraints=(Constraint("memory_mb", "<=", 50.0),),
)


def metrics(trial_id: int, resource: int) -> dict[str, float]:
    infeasible = trial_id % 4 != 0  # three in four: the feasible ones cannot fill every quota
    error = ((trial_id * 37) % 17) / 17 + 1.0 / resource - (0.6 if infeasible else 0.0)
    memory = 60.0 + 10 * (trial_id % 4) if infeasible else 10.0 + trial_id % 5
    return {"error": error, "latency_ms": float((trial_id * 11) % 13), "memory_mb": memory}


def violation(trial_id: int, resource: int) -> float:
    return max(0.0, metrics(trial_id, resource)["memory_mb"] - 50.0)


def rung_of(scheduler, trial, level):
    if hasattr(scheduler, "_run"):  # synchronous: the bracket run being filled
        return next(r for r in scheduler._run.rungs if r.level == level)
    rungs = scheduler.rungs[trial.bracket] if isinstance(scheduler.rungs[0], list) else scheduler.rungs
    return next(r for r in rungs if r.level == level)


def entries(rung):
    return [(t, o.violation) for o, _, t in rung._entries]


@pytest.mark.parametrize("kind", ["asha", "hyperband", "sh", "sync_hyperband"])
def test_promotions_put_feasible_and_less_violating_results_first(kind):
    spec = StudySpec(
        name="c", space=SPACE, scheduler=SchedulerSettings(kind, 1, 9, 3),
        budget=Budget(max_trials=40), seed=1, **GOALS,
    )
    s = spec.build_scheduler()
    checked = 0
    for step in range(500):
        job = s.suggest(float(step))
        if job.kind is JobKind.DONE:
            break
        assert job.kind is not JobKind.WAIT  # one worker: every job ends before the next Suggest
        if job.kind is JobKind.RESUME:
            trial = s.trials[job.trial_id]
            rung = rung_of(s, trial, job.resume_from)
            mine = violation(job.trial_id, job.resume_from)
            better = [t for t, v in entries(rung) if v < mine]
            assert all(t in rung.promoted for t in better), (kind, job, better)
            checked += mine > 0
        for r in range(job.resume_from + 1, job.milestone + 1):
            s.report(job.trial_id, r, metrics(job.trial_id, r))
    assert s.finished(1e9)
    assert s.promotions > 0
    assert checked > 0  # some promotions of infeasible trials were judged


def test_stopping_asha_lets_an_infeasible_trial_continue_only_below_the_feasible_ones():
    spec = StudySpec(
        name="c", space=SPACE, scheduler=SchedulerSettings("asha_stopping", 1, 9, 3),
        budget=Budget(max_trials=40), seed=1, **GOALS,
    )
    s = spec.build_scheduler()
    continued = stopped_feasible = 0
    for step in range(200):
        job = s.suggest(float(step))
        if job.kind is JobKind.DONE:
            break
        for r in range(job.resume_from + 1, job.milestone + 1):
            decision = s.report(job.trial_id, r, metrics(job.trial_id, r))
            if r in (1, 3) and r < job.milestone:
                rung = s.rungs[s.levels.index(r)]
                quota = math.ceil(len(rung) / s.eta)
                feasible = sum(v == 0 for _, v in entries(rung))
                if decision is Decision.CONTINUE and violation(job.trial_id, r) > 0:
                    assert feasible < quota
                    continued += 1
                if decision is Decision.STOP and violation(job.trial_id, r) == 0:
                    assert feasible > quota - 1
                    stopped_feasible += 1
            if decision is not Decision.CONTINUE:
                break
    assert continued + stopped_feasible > 0


def test_single_objective_with_a_constraint_ranks_feasible_first():
    spec = StudySpec(
        name="c", space=SPACE, scheduler=SchedulerSettings("asha", 1, 9, 3),
        budget=Budget(max_trials=3), constraints=(Constraint("memory_mb", "<=", 50.0),),
    )
    s = spec.build_scheduler()
    rows = [(0.1, 90.0), (0.5, 10.0), (0.3, 20.0)]  # the best error is infeasible
    for step, (error, memory) in enumerate(rows):
        job = s.suggest(float(step))
        s.report(job.trial_id, 1, {"error": error, "memory_mb": memory})
    job = s.suggest(9.0)
    assert (job.kind, job.trial_id) == (JobKind.RESUME, 2)
    assert s.incumbent().trial_id == 2  # at resource 1: the best feasible result
