"""Study views: whether a study is done is asked of the scheduler (a deep copy of it) once
per journal position, not once per GetStudy; a wall-clock budget is asked again."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from rung.core.types import Budget
from rung.server.service import StudyService
from server_support import FakeClock, make_spec


def _count_finished_calls(service: StudyService, name: str = "s") -> list[float]:
    scheduler = service._studies[name].scheduler
    asked: list[float] = []
    original = scheduler.finished

    def counted(now: float) -> bool:
        asked.append(now)
        return original(now)

    scheduler.finished = counted  # type: ignore[method-assign]
    return asked


def test_views_at_one_journal_position_ask_the_scheduler_once(service: StudyService) -> None:
    asked = _count_finished_calls(service)
    for _ in range(5):  # creating the study viewed it at this position already
        assert service.get_study("s").state == "running"
    assert asked == []
    job = service.suggest("s", "w", "")
    service.report("s", job.job.trial_id, job.lease_id, job.job.milestone, 0.5)
    for _ in range(5):
        assert service.get_study("s").state == "running"
    assert len(asked) == 1  # a new position: asked once again


def test_a_wall_clock_budget_is_asked_again_as_time_passes(
    make_service: Callable[..., StudyService], clock: FakeClock
) -> None:
    service = make_service()
    service.create_study(replace(make_spec(), budget=Budget(max_wall_seconds=100.0)))
    job = service.suggest("s", "w", "")  # the study's clock starts with its first job
    service.report("s", job.job.trial_id, job.lease_id, job.job.milestone, 0.5)
    asked = _count_finished_calls(service)
    assert service.get_study("s").state == "running"
    clock.advance(101.0)
    assert service.get_study("s").state == "done"
    assert len(asked) == 2
    assert service.get_study("s").state == "done"
    assert len(asked) == 2  # done stays done until the next event
