"""Stopping-type ASHA: one job to r_max, judged at every rung level on the way."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from rung.core.types import Decision, JobKind, TrialStatus

from scheduler_builders import Build, make_spec


def test_every_trial_gets_one_job_to_r_max(build: Build) -> None:
    s = build("asha_stopping", r_min=1, r_max=9, eta=3)
    job = s.suggest(0.0)
    assert (job.kind, job.resume_from, job.milestone) == (JobKind.START, 0, 9)


@given(values=st.lists(st.integers(0, 5), min_size=1, max_size=30))
@settings(max_examples=40, deadline=None)
def test_continues_exactly_within_the_top_ceil_n_over_eta(values: list[int]) -> None:
    s = make_spec("asha_stopping", r_min=1, r_max=9, eta=3, max_trials=30).build_scheduler()
    recorded: list[tuple[int, int]] = []  # (value, report order)
    for order, v in enumerate(values):
        job = s.suggest(0.0)
        recorded.append((v, order))
        rank = sorted(recorded).index((v, order))  # ties: the earlier report ranks higher
        expected = Decision.CONTINUE if rank < math.ceil(len(recorded) / 3) else Decision.STOP
        assert s.report(job.trial_id, 1, float(v)) is expected


def test_stopped_trial_gives_back_unused_resource(build: Build) -> None:
    s = build("asha_stopping", r_min=1, r_max=9, eta=3)
    a, b = s.suggest(0.0), s.suggest(0.0)
    assert s.resource_spent == 18
    assert s.report(a.trial_id, 1, 0.1) is Decision.CONTINUE
    assert s.report(b.trial_id, 1, 0.5) is Decision.STOP
    assert s.trial(b.trial_id).status is TrialStatus.STOPPED
    assert s.resource_spent == 18 - 8


def test_reports_between_levels_continue_and_r_max_completes(build: Build) -> None:
    s = build("asha_stopping", r_min=1, r_max=9, eta=3)
    job = s.suggest(0.0)
    assert [s.report(job.trial_id, r, 0.5) for r in (1, 2, 3, 4)] == [Decision.CONTINUE] * 4
    assert s.report(job.trial_id, 9, 0.4) is Decision.STOP
    assert s.trial(job.trial_id).status is TrialStatus.COMPLETED
    assert s.incumbent().resource == 9  # type: ignore[union-attr]


def test_lost_trial_retrains_without_being_judged_twice(build: Build) -> None:
    s = build("asha_stopping", r_min=1, r_max=9, eta=3)
    good, bad = s.suggest(0.0), s.suggest(0.0)
    s.report(good.trial_id, 1, 0.1)
    s.report(good.trial_id, 3, 0.1)
    s.lose(good.trial_id)
    again = s.suggest(0.0)
    assert (again.kind, again.trial_id, again.resume_from) == (JobKind.START, good.trial_id, 0)
    s.report(bad.trial_id, 1, 0.0)  # now better than good's result at level 1
    assert s.report(good.trial_id, 1, 0.9) is Decision.CONTINUE
    assert [len(r) for r in s.rungs] == [2, 1, 0]


def test_incumbent_follows_the_highest_level_reached(build: Build) -> None:
    s = build("asha_stopping", r_min=1, r_max=9, eta=3)
    a, b = s.suggest(0.0), s.suggest(0.0)
    s.report(a.trial_id, 1, 0.2)
    s.report(b.trial_id, 1, 0.1)
    assert s.incumbent().trial_id == b.trial_id  # type: ignore[union-attr]
    s.report(a.trial_id, 3, 0.3)
    assert s.incumbent().trial_id == a.trial_id  # type: ignore[union-attr]
