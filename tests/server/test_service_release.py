"""Release with a checkpoint: the next worker resumes from the last epoch reported,
the hand-back survives a restart, and a checkpoint that does not match is refused."""

from __future__ import annotations

from typing import Callable

import pytest

from rung.core.errors import InvalidArgument
from rung.core.types import JobKind
from rung.server.service import StudyService
from server_support import snapshot


def promote_trial_zero(service: StudyService) -> tuple[int, str]:
    """Three trials reach rung 1 (trial 0 best); trial 0 is promoted 1 -> 3 and reports 2."""
    jobs = [service.suggest("s", "w", "") for _ in range(3)]
    for j in jobs:
        service.report("s", j.job.trial_id, j.lease_id, 1, j.job.trial_id / 10, f"ck{j.job.trial_id}-1")
    promoted = service.suggest("s", "w", "")
    assert (promoted.job.kind, promoted.job.trial_id, promoted.job.resume_from) == (JobKind.RESUME, 0, 1)
    service.report("s", 0, promoted.lease_id, 2, 0.05)
    return 0, promoted.lease_id


def test_release_with_a_checkpoint_resumes_from_that_epoch(
    service: StudyService, make_service: Callable[..., StudyService]
) -> None:
    trial_id, lease = promote_trial_zero(service)
    service.release("s", trial_id, lease, resource=2, checkpoint="ck0-2")
    before = snapshot(service)
    again = service.suggest("s", "other", "")
    assert (again.job.kind, again.job.trial_id, again.job.resume_from, again.job.milestone) == (
        JobKind.RESUME, 0, 2, 3,
    )
    assert again.checkpoint == "ck0-2"
    restarted = make_service(journal=service.journal)
    assert snapshot(restarted) == snapshot(service) != before


@pytest.mark.parametrize(
    "resource, checkpoint",
    [(1, "ck"), (3, "ck"), (2, ""), (0, "ck")],  # not the last report; past it; half given
)
def test_release_with_a_mismatched_checkpoint_is_refused_and_changes_nothing(
    service: StudyService, resource: int, checkpoint: str
) -> None:
    trial_id, lease = promote_trial_zero(service)
    before = snapshot(service)
    with pytest.raises(InvalidArgument):
        service.release("s", trial_id, lease, resource=resource, checkpoint=checkpoint)
    assert snapshot(service) == before
    service.release("s", trial_id, lease)  # a plain release still works
