"""Idempotency: retried Suggests and Reports change nothing; late reports are refused."""

from __future__ import annotations

import threading
from typing import Callable

import pytest

from rung.core.errors import FailedPrecondition
from rung.core.types import Decision, JobKind
from rung.server.service import StudyService
from server_support import LEASE, FakeClock, make_spec, snapshot


def journal_length(service: StudyService) -> int:
    return len(list(service.journal.events("s")))


def test_a_repeated_request_id_returns_the_same_job(service: StudyService) -> None:
    first = service.suggest("s", "w", "req-1")
    length = journal_length(service)
    assert service.suggest("s", "w", "req-1") == first
    assert journal_length(service) == length
    other = service.suggest("s", "w", "req-2")
    assert other.job.trial_id != first.job.trial_id and other.lease_id != first.lease_id


def test_an_empty_request_id_is_never_deduplicated(service: StudyService) -> None:
    assert service.suggest("s", "w", "").job.trial_id != service.suggest("s", "w", "").job.trial_id


def test_a_retried_suggest_finds_its_job_after_a_restart(
    service: StudyService, make_service: Callable[..., StudyService]
) -> None:
    first = service.suggest("s", "w", "req-1")
    restarted = make_service(journal=service.journal)
    again = restarted.suggest("s", "w", "req-1")
    assert (again.job, again.lease_id, again.checkpoint) == (
        first.job,
        first.lease_id,
        first.checkpoint,
    )
    restarted.report("s", first.job.trial_id, first.lease_id, 1, 0.5)  # the lease is live there


def test_a_retry_after_its_lease_ended_is_answered_from_the_journal(service: StudyService) -> None:
    first = service.suggest("s", "w", "req-1", first_attempt=True)
    assert service.report("s", first.job.trial_id, first.lease_id, 1, 0.5)[0] is Decision.PAUSE
    length = journal_length(service)  # the lease ended: its job is only in the journal now
    again = service.suggest("s", "w", "req-1")
    assert (again.job, again.lease_id) == (first.job, first.lease_id)
    assert journal_length(service) == length


def test_a_first_attempt_is_not_looked_up_in_the_journal(
    service: StudyService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_reads(study: str, request_id: str) -> None:
        raise AssertionError(f"looked up {request_id} in the journal")

    monkeypatch.setattr(service.journal, "find_request", no_reads)
    first = service.suggest("s", "w", "req-1", first_attempt=True)
    # A retry while the lease is open is answered from memory, whatever it says.
    assert service.suggest("s", "w", "req-1", first_attempt=True) == first
    service.report("s", first.job.trial_id, first.lease_id, 1, 0.5)
    # The client's word is taken: an id it calls new is not looked for (a new job).
    other = service.suggest("s", "w", "req-1", first_attempt=True)
    assert other.job.trial_id != first.job.trial_id
    with pytest.raises(AssertionError, match="looked up req-2"):
        service.suggest("s", "w", "req-2")  # without its word, an id not in memory is


def test_a_repeated_report_is_stored_once_with_the_same_decision(service: StudyService) -> None:
    job = service.suggest("s", "w", "")
    first = service.report("s", job.job.trial_id, job.lease_id, 1, 0.5, checkpoint="ck")
    before, length = snapshot(service), journal_length(service)
    # The lease ended with the PAUSE, but a retry of that very report still gets its answer.
    assert service.report("s", job.job.trial_id, job.lease_id, 1, 0.5, checkpoint="ck") == first
    assert first[0] is Decision.PAUSE
    assert (snapshot(service), journal_length(service)) == (before, length)


def test_a_repeated_report_below_the_milestone_is_stored_once(make_service) -> None:
    service = make_service()
    service.create_study(make_spec(r_min=3))
    job = service.suggest("s", "w", "")
    assert service.report("s", 0, job.lease_id, 1, 0.9)[0] is Decision.CONTINUE
    before = snapshot(service)
    assert service.report("s", 0, job.lease_id, 1, 0.9)[0] is Decision.CONTINUE
    assert snapshot(service) == before
    assert [o.resource for o in service.list_trials("s")[0].record.observations] == [1]


def test_a_late_report_from_an_expired_lease_is_refused_and_changes_nothing(
    make_service: Callable[..., StudyService], clock: FakeClock
) -> None:
    service = make_service()
    service.create_study(make_spec(r_min=3))  # first segment 0 -> 3: reports at 1, 2, 3
    old = service.suggest("s", "w1", "")
    service.report("s", 0, old.lease_id, 1, 0.9)
    clock.advance(LEASE + 1)
    new = service.suggest("s", "w2", "")
    assert (new.job.trial_id, new.job.resume_from) == (0, 0)
    before, length = snapshot(service), journal_length(service)

    for resource in (2, 3):  # never reported under the old lease
        with pytest.raises(FailedPrecondition, match="not accepted"):
            service.report("s", 0, old.lease_id, resource, 0.1)
    assert (snapshot(service), journal_length(service)) == (before, length)


def test_a_resumed_segment_reports_resources_the_lost_one_reported(
    make_service: Callable[..., StudyService], clock: FakeClock
) -> None:
    """The new worker's report at a resource the lost lease also reported is a new result,
    not a retry: it is checked against the new lease and stored."""
    service = make_service()
    service.create_study(make_spec(r_min=3))
    old = service.suggest("s", "w1", "")
    service.report("s", 0, old.lease_id, 1, 0.9)
    clock.advance(LEASE + 1)
    new = service.suggest("s", "w2", "")

    assert service.report("s", 0, new.lease_id, 1, 0.8)[0] is Decision.CONTINUE
    with pytest.raises(FailedPrecondition):  # the old lease cannot report again either
        service.report("s", 0, old.lease_id, 2, 0.1)
    assert service.report("s", 0, new.lease_id, 2, 0.7)[0] is Decision.CONTINUE
    assert service.report("s", 0, new.lease_id, 3, 0.6)[0] is Decision.PAUSE

    observations = service.list_trials("s")[0].record.observations
    assert [(o.resource, o.value) for o in observations] == [(1, 0.9), (1, 0.8), (2, 0.7), (3, 0.6)]


def test_a_report_with_a_lease_of_another_trial_is_refused(service: StudyService) -> None:
    a = service.suggest("s", "w", "")
    b = service.suggest("s", "w", "")
    before = snapshot(service)
    with pytest.raises(FailedPrecondition):
        service.report("s", a.job.trial_id, b.lease_id, 1, 0.5)
    assert snapshot(service) == before
    assert service.suggest("s", "w", "").job.kind is JobKind.START


def test_a_repeated_report_with_another_value_is_refused(service) -> None:
    from rung.core.errors import InvalidArgument

    job = service.suggest("s", "w", "")
    service.report("s", job.job.trial_id, job.lease_id, 1, 0.5)
    assert service.report("s", job.job.trial_id, job.lease_id, 1, 0.5)[0].value == "pause"
    with pytest.raises(InvalidArgument, match="different value"):
        service.report("s", job.job.trial_id, job.lease_id, 1, 0.4)


def test_idempotency_memory_is_kept_per_open_lease_and_the_journal_answers_beyond(
    service: StudyService, make_service: Callable[..., StudyService]
) -> None:
    """Jobs of ended leases leave memory; their retries still get exactly the same job,
    before and after a restart, and change nothing."""
    issued = {}
    for i in range(12):  # 12 first-rung jobs, each ends with its PAUSE or STOP report
        job = service.suggest("s", "w", f"req-{i}")
        assert job.job.kind in (JobKind.START, JobKind.RESUME)
        service.report("s", job.job.trial_id, job.lease_id, job.job.milestone, 0.1 * i, "")
        issued[f"req-{i}"] = job
    open_job = service.suggest("s", "w", "req-open")
    study = service._studies["s"]
    assert set(study.jobs_by_request) == {"req-open"} and len(study.leases) == 1
    before, length = snapshot(service), journal_length(service)
    for restarted in (service, make_service(journal=service.journal)):
        for request_id, job in issued.items():
            again = restarted.suggest("s", "w", request_id)
            assert (again.job, again.lease_id, again.checkpoint) == (
                job.job, job.lease_id, job.checkpoint
            )
            with pytest.raises(FailedPrecondition):  # that lease has ended
                restarted.report("s", job.job.trial_id, job.lease_id, job.job.milestone + 1, 0.0)
        assert restarted.suggest("s", "w", "req-open").lease_id == open_job.lease_id
        assert (snapshot(restarted), journal_length(restarted)) == (before, length)


def test_creating_an_existing_study_does_not_hold_the_service_lock_while_it_waits(
    service: StudyService,
) -> None:
    """A call holding a study's lock takes the service's lock to journal its event; so must
    create_study, when the study exists, wait for the study's lock without the service's,
    or the two deadlock (a worker's Report meets a second `rung create` of the same study)."""
    study = service._studies["s"]
    created = threading.Event()
    with study.lock:  # a call on the study, in progress
        creator = threading.Thread(
            target=lambda: (service.create_study(make_spec()), created.set()), daemon=True
        )
        creator.start()
        creator.join(timeout=0.5)  # it is now waiting for the study's lock
        got_service_lock = service._lock.acquire(timeout=30)  # as _append would
        assert got_service_lock, "create_study held the service's lock while waiting"
        service._lock.release()
    assert created.wait(timeout=30)
