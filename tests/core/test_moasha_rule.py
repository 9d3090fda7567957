"""Multi-objective ASHA against a sequence worked out by hand.

Two objectives, both minimized: validation error and latency (ms). eta = 3,
rung levels 1, 3, 9, one worker. A rung ranks its results by non-dominated
front, and within a front by the epsilon-net (first the lowest error, then the
result farthest from those picked, objectives scaled by their range over the
rung); the candidates are the top floor(n / 3).

 #  job                rung 1 after the report                         why
 1  start T0 0->1      T0 (.50, 10)
 2  start T1 0->1      T1 (.40, 30)                                   n=2: no candidates
 3  start T2 0->1      T2 (.60, 40), dominated by T0 and T1            n=3: top 1 = T1 (lowest error in front 1)
 4  resume T1 1->3     rung 3: T1
 5  start T3 0->1      T3 (.45, 5) dominates T0                        n=4: top 1 = T1, promoted already
 6  start T4 0->1      T4 (.90, 1): front 1 = T1, T3, T4               n=5: top 1 = T1
 7  start T5 0->1      T5 (.70, 20), dominated by T3                   n=6: top 2 = T1, then T4 (farthest from T1;
                                                                        scaled: T3 is 0.65 away, T4 1.25)
 8  resume T4 1->3     rung 3: T1, T4                                  not T3, which error alone would promote
 9  start T6 0->1      ...
"""

from __future__ import annotations

from rung.core.objectives import Objective, Objectives
from rung.core.schedulers import ASHA
from rung.core.searchers import RandomSearcher
from rung.core.space import Float, SearchSpace
from rung.core.types import Budget, Decision, JobKind, Mode

START, RESUME = JobKind.START, JobKind.RESUME
GOALS = Objectives((Objective("error"), Objective("latency_ms")))

# (kind, trial, resume_from, milestone, metrics at the milestone, decision)
SCRIPT = [
    (START, 0, 0, 1, (0.50, 10.0), Decision.PAUSE),
    (START, 1, 0, 1, (0.40, 30.0), Decision.PAUSE),
    (START, 2, 0, 1, (0.60, 40.0), Decision.PAUSE),
    (RESUME, 1, 1, 3, (0.30, 30.0), Decision.PAUSE),
    (START, 3, 0, 1, (0.45, 5.0), Decision.PAUSE),
    (START, 4, 0, 1, (0.90, 1.0), Decision.PAUSE),
    (START, 5, 0, 1, (0.70, 20.0), Decision.PAUSE),
    (RESUME, 4, 1, 3, (0.85, 1.0), Decision.PAUSE),
    (START, 6, 0, 1, (0.99, 99.0), Decision.PAUSE),
]


def make_moasha() -> ASHA:
    searcher = RandomSearcher(SearchSpace({"x": Float(0.0, 1.0)}), seed=0)
    return ASHA(searcher, Mode.MIN, 1, 9, 3, Budget(max_trials=100), seed=0, objectives=GOALS)


def test_multi_objective_promotions_follow_the_hand_worked_sequence():
    asha = make_moasha()
    for step, (kind, trial, resume_from, milestone, (error, latency), decision) in enumerate(SCRIPT):
        job = asha.suggest(now=float(step))
        assert (job.kind, job.trial_id, job.resume_from, job.milestone) == (
            kind, trial, resume_from, milestone,
        ), f"step {step + 1}"
        got = asha.report(trial, milestone, {"error": error, "latency_ms": latency})
        assert got is decision, f"step {step + 1}"


def test_a_number_is_refused_where_several_objectives_are_declared():
    import pytest

    from rung.core.errors import InvalidArgument

    asha = make_moasha()
    job = asha.suggest(now=0.0)
    with pytest.raises(InvalidArgument, match="report a value for each"):
        asha.report(job.trial_id, 1, 0.5)
    with pytest.raises(InvalidArgument, match="missing metrics"):
        asha.report(job.trial_id, 1, {"error": 0.5})


def test_state_dict_round_trip_keeps_multi_objective_rungs():
    asha = make_moasha()
    for step, (_, trial, _, milestone, (error, latency), _) in enumerate(SCRIPT[:7]):
        asha.suggest(now=float(step))
        asha.report(trial, milestone, {"error": error, "latency_ms": latency})
    copy = make_moasha()
    copy.load_state_dict(asha.state_dict())
    assert copy.state_dict() == asha.state_dict()
    assert copy.suggest(10.0) == asha.suggest(10.0)
