"""ASHA with promotion against a sequence worked out by hand.

eta = 3, r_min = 1, r_max = 9 (rung levels 1, 3, 9), one worker: every job is
trained to its milestone before the next Suggest. Values are validation errors
(lower is better). The candidates of a rung with n results are its best
floor(n / 3); ties go to the earlier report.

 #  job                 rung 1 after the report (best first)      why
 1  start T0  0->1      T0 .50                                     nothing to promote
 2  start T1  0->1      T1 .40, T0 .50                             n=2: no candidates
 3  start T2  0->1      T1, T0, T2 .60                             n=3: top 1 = T1
 4  resume T1 1->3      rung 3: T1 .30                             T1 is rung 1's best
 5  start T3  0->1      T3 .35, T1, T0, T2                         rung 3 n=1; rung 1 top 1 = T1, promoted
 6  resume T3 1->3      rung 3: T1 .30, T3 .32                     n=4: top 1 = T3
 7  start T4  0->1      ..., T4 .70 (n=5)                          top 1 = T3, promoted
 8  start T5  0->1      T3, T1, T5 .45, T0, T2, T4 (n=6)           top 2 = T3, T1, both promoted
 9  start T6  0->1      T3 .35, T6 .38, T1 .40, ... (n=7)          nothing until T6 reports
10  resume T6 1->3      rung 3: T6 .25, T1 .30, T3 .32             top 2 = T3, T6: T6 not yet promoted
11  resume T6 3->9      T6 completes at r=9 with .20               rung 3 n=3: top 1 = T6 (highest rung first)
12  start T7  0->1      T7 .40 ties T1 .40 (n=8)                   top 2 = T3, T6, promoted
13  start T8  0->1      T8 .55 (n=9)                               top 3 = T3, T6, T1 (T1 reported before T7)
14  start T9  0->1      T9 .90 (n=10)                              a wrong tie-break would promote T7 here
15  start T10 0->1      (n=11)                                     top 3 unchanged, all promoted
"""

from __future__ import annotations

import pytest

from rung.core.schedulers import ASHA
from rung.core.searchers import RandomSearcher
from rung.core.space import Float, SearchSpace
from rung.core.types import Budget, Decision, JobKind, Mode, TrialStatus

START, RESUME = JobKind.START, JobKind.RESUME

# (kind, trial, resume_from, milestone, {resource: value reported}, decision at the milestone)
SCRIPT = [
    (START, 0, 0, 1, {1: 0.50}, Decision.PAUSE),
    (START, 1, 0, 1, {1: 0.40}, Decision.PAUSE),
    (START, 2, 0, 1, {1: 0.60}, Decision.PAUSE),
    (RESUME, 1, 1, 3, {2: 0.35, 3: 0.30}, Decision.PAUSE),
    (START, 3, 0, 1, {1: 0.35}, Decision.PAUSE),
    (RESUME, 3, 1, 3, {2: 0.33, 3: 0.32}, Decision.PAUSE),
    (START, 4, 0, 1, {1: 0.70}, Decision.PAUSE),
    (START, 5, 0, 1, {1: 0.45}, Decision.PAUSE),
    (START, 6, 0, 1, {1: 0.38}, Decision.PAUSE),
    (RESUME, 6, 1, 3, {2: 0.30, 3: 0.25}, Decision.PAUSE),
    (RESUME, 6, 3, 9, {r: 0.22 for r in range(4, 9)} | {9: 0.20}, Decision.STOP),
    (START, 7, 0, 1, {1: 0.40}, Decision.PAUSE),
    (START, 8, 0, 1, {1: 0.55}, Decision.PAUSE),
    (START, 9, 0, 1, {1: 0.90}, Decision.PAUSE),
    (START, 10, 0, 1, {1: 0.95}, Decision.PAUSE),
]


def make_asha(**budget: int) -> ASHA:
    searcher = RandomSearcher(SearchSpace({"x": Float(0.0, 1.0)}), seed=0)
    return ASHA(searcher, Mode.MIN, 1, 9, 3, Budget(**(budget or {"max_trials": 100})), seed=0)


def test_first_fifteen_decisions_match_the_hand_worked_sequence():
    asha = make_asha()
    for step, (kind, trial, resume_from, milestone, values, final) in enumerate(SCRIPT, 1):
        job = asha.suggest(now=float(step))
        assert (job.kind, job.trial_id, job.resume_from, job.milestone) == (
            kind, trial, resume_from, milestone,
        ), f"decision {step}"
        *intermediate, last = sorted(values)
        for r in intermediate:
            assert asha.report(trial, r, values[r]) is Decision.CONTINUE
        assert asha.report(trial, last, values[last]) is final, f"report after decision {step}"
    assert asha.trials[6].status is TrialStatus.COMPLETED
    assert asha.promotions == 4
    incumbent = asha.incumbent()
    assert incumbent is not None and (incumbent.trial_id, incumbent.resource) == (6, 9)


def test_maximized_metric_promotes_the_largest():
    searcher = RandomSearcher(SearchSpace({"x": Float(0.0, 1.0)}), seed=0)
    asha = ASHA(searcher, Mode.MAX, 1, 9, 3, Budget(max_trials=10), seed=0)
    for trial, value in enumerate([0.1, 0.9, 0.5]):
        assert asha.suggest(0.0).trial_id == trial
        asha.report(trial, 1, value)
    job = asha.suggest(0.0)
    assert (job.kind, job.trial_id) == (RESUME, 1)


def test_lost_trial_is_resumed_first_from_its_checkpoint():
    asha = make_asha()
    for trial, value in enumerate([0.5, 0.4, 0.6]):
        asha.suggest(0.0)
        asha.report(trial, 1, value)
    promoted = asha.suggest(0.0)  # T1 1->3
    asha.report(1, 2, 0.3)
    asha.lose(1)
    again = asha.suggest(0.0)
    assert (again.kind, again.trial_id, again.resume_from, again.milestone) == (RESUME, 1, 1, 3)
    assert promoted.milestone == again.milestone
    # The epoch reported before the loss may be reported again by the new worker.
    assert asha.report(1, 2, 0.31) is Decision.CONTINUE


def test_trial_budget_ends_with_done_after_running_work_finishes():
    asha = make_asha(max_trials=2)
    first, second = asha.suggest(0.0), asha.suggest(0.0)
    assert asha.suggest(0.0).kind is JobKind.WAIT  # trials are running: one may unlock a promotion
    asha.report(first.trial_id, 1, 0.5)
    asha.report(second.trial_id, 1, 0.4)
    assert asha.suggest(0.0).kind is JobKind.DONE  # n=2 gives no candidate; no more trials
    assert asha.finished(0.0)


def test_reports_out_of_range_are_rejected_without_changing_state():
    from rung.core.errors import FailedPrecondition, InvalidArgument

    asha = make_asha()
    asha.suggest(0.0)
    before = asha.state_dict()
    for resource, value in [(0, 0.5), (2, 0.5), (1, float("nan")), (1, float("inf"))]:
        with pytest.raises(InvalidArgument):
            asha.report(0, resource, value)
    assert asha.state_dict() == before
    asha.report(0, 1, 0.5)
    with pytest.raises(FailedPrecondition):
        asha.report(0, 1, 0.5)  # paused: no report expected
