"""Leases: expiry resumes a trial from its checkpoint first, heartbeats extend, release
hands a job back."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Callable

import pytest

from server_support import LEASE, FakeClock, make_spec, snapshot
from rung.core.errors import FailedPrecondition, NotFound
from rung.core.types import Budget, Decision, JobKind, TrialStatus
from rung.server.service import IssuedJob, StudyService, TrialView
from rung.server.storage import Event, MemoryJournal


def start(service: StudyService, n: int, worker: str = "w") -> list[IssuedJob]:
    jobs = [service.suggest("s", worker, "") for _ in range(n)]
    assert all(j.job.kind is JobKind.START for j in jobs)
    return jobs


def pause_all(service: StudyService, jobs: list[IssuedJob]) -> None:
    """Reports each START job's first milestone with value = trial id / 10 (trial 0 is best)."""
    for j in jobs:
        decision, _ = service.report(
            "s",
            j.job.trial_id,
            j.lease_id,
            j.job.milestone,
            j.job.trial_id / 10,
            checkpoint=f"ck-{j.job.trial_id}",
        )
        assert decision is Decision.PAUSE


def trial(service: StudyService, trial_id: int) -> TrialView:
    return next(t for t in service.list_trials("s") if t.trial_id == trial_id)


def test_an_expired_promotion_is_resumed_first_from_its_checkpoint(
    service: StudyService, clock: FakeClock
) -> None:
    pause_all(service, start(service, 6))  # 6 results at level 1: trials 0 and 1 are promotable
    promoted = service.suggest("s", "w", "")
    assert (promoted.job.kind, promoted.job.trial_id) == (JobKind.RESUME, 0)
    assert (promoted.job.resume_from, promoted.job.milestone, promoted.checkpoint) == (1, 3, "ck-0")
    service.report("s", 0, promoted.lease_id, 2, 0.05)

    clock.advance(LEASE + 1)
    again = service.suggest("s", "other", "")

    assert (again.job.kind, again.job.trial_id) == (JobKind.RESUME, 0)  # before trial 1's promotion
    assert (again.job.resume_from, again.job.milestone, again.checkpoint) == (1, 3, "ck-0")
    assert again.lease_id != promoted.lease_id
    record = trial(service, 0).record
    assert [s.lost for s in record.segments] == [False, True, False]
    assert record.failures == ["lease expired; resumed from the last checkpoint"]
    nxt = service.suggest("s", "w", "")
    assert (nxt.job.kind, nxt.job.trial_id) == (JobKind.RESUME, 1)


def test_a_lost_trial_without_checkpoint_starts_again_from_zero(
    service: StudyService, clock: FakeClock
) -> None:
    (first,) = start(service, 1)
    clock.advance(LEASE + 1)
    again = service.suggest("s", "w", "")
    assert (again.job.kind, again.job.trial_id, again.job.resume_from) == (JobKind.START, 0, 0)
    assert again.job.config == first.job.config and again.checkpoint == ""


def test_a_trial_lost_max_lost_times_fails_with_its_reasons(
    make_service: Callable[..., StudyService], clock: FakeClock
) -> None:
    service = make_service(max_lost=2)
    service.create_study(make_spec())
    (job,) = start(service, 1)
    clock.advance(LEASE + 1)
    retry = service.suggest("s", "w", "")
    assert retry.job.trial_id == job.job.trial_id
    clock.advance(LEASE + 1)

    nxt = service.suggest("s", "w", "")

    assert nxt.job.trial_id != job.job.trial_id  # the failed trial is not handed out again
    failed = trial(service, job.job.trial_id)
    assert failed.status is TrialStatus.FAILED
    assert failed.record.failures == [
        "lease expired; resumed from the last checkpoint",
        "lease expired 2 times",
    ]
    with pytest.raises(FailedPrecondition, match="not accepted"):
        service.report("s", job.job.trial_id, retry.lease_id, 1, 0.5)


def test_heartbeats_keep_a_lease_alive(service: StudyService, clock: FakeClock) -> None:
    (job,) = start(service, 1)
    for _ in range(5):  # five times longer than one lease, in steps shorter than one
        clock.advance(0.8 * LEASE)
        assert service.heartbeat("s", job.lease_id) == clock.now + LEASE
    decision, _ = service.report("s", job.job.trial_id, job.lease_id, 1, 0.5)
    assert decision is Decision.PAUSE


class GatedJournal(MemoryJournal):
    """Writes wait until the gate opens: a commit that takes as long as a test likes."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()

    def append_many(self, events: list[Event]) -> None:
        self.gate.wait()
        super().append_many(events)


def test_a_heartbeat_does_not_wait_for_other_calls_commits(clock: FakeClock) -> None:
    journal = GatedJournal()
    service = StudyService(journal, clock=clock, lease_seconds=LEASE)
    service.create_study(make_spec())
    a, b, _ = start(service, 3)
    journal.gate.clear()  # the disk stalls
    reporting = threading.Thread(
        target=service.report, args=("s", a.job.trial_id, a.lease_id, a.job.milestone, 0.5)
    )
    reporting.start()
    while service._studies["s"].last_ticket.done:  # the report's event is queued, not durable
        time.sleep(0.001)
    clock.advance(0.5 * LEASE)
    assert service.heartbeat("s", b.lease_id) == clock.now + LEASE  # answered meanwhile
    assert reporting.is_alive()  # the report still waits for its commit
    clock.advance(0.6 * LEASE)  # the third lease expired: a heartbeat now journals that...
    expiring = threading.Thread(target=service.heartbeat, args=("s", b.lease_id))
    expiring.start()
    expiring.join(0.2)
    assert expiring.is_alive()  # ... and waits for it, like every call that queues an event
    journal.gate.set()
    reporting.join(5)
    expiring.join(5)
    assert not reporting.is_alive() and not expiring.is_alive()
    service.close()


def test_of_many_leases_exactly_those_without_heartbeats_expire(
    service: StudyService, clock: FakeClock
) -> None:
    """Expiry is found through a heap of deadlines that heartbeats leave stale: a lease
    extended many times must not expire early, and one never extended must not be missed."""
    jobs = []
    for _ in range(12):
        jobs += start(service, 1)
        clock.advance(LEASE / 20)
    kept = {j.lease_id for j in jobs[::3]}
    for _ in range(6):
        clock.advance(LEASE / 4)
        for j in jobs:
            if j.lease_id in kept:
                service.heartbeat("s", j.lease_id)
    service.list_trials("s")  # any call expires what is due
    lost = [t.trial_id for t in service.list_trials("s") if t.record.segments[-1].lost]
    assert lost == [j.job.trial_id for j in jobs if j.lease_id not in kept]
    for j in jobs:
        if j.lease_id in kept:
            assert service.heartbeat("s", j.lease_id) == clock.now + LEASE
        else:
            with pytest.raises(FailedPrecondition, match="not active"):
                service.heartbeat("s", j.lease_id)


def test_without_heartbeats_the_lease_expires_and_a_heartbeat_says_so(
    service: StudyService, clock: FakeClock
) -> None:
    (job,) = start(service, 1)
    clock.advance(LEASE + 0.5)
    with pytest.raises(FailedPrecondition, match="not active"):
        service.heartbeat("s", job.lease_id)
    with pytest.raises(FailedPrecondition):
        service.report("s", job.job.trial_id, job.lease_id, 1, 0.5)
    assert trial(service, job.job.trial_id).record.observations == []


def test_a_lease_ends_with_its_segment(service: StudyService) -> None:
    (job,) = start(service, 1)
    service.report("s", job.job.trial_id, job.lease_id, 1, 0.5)
    with pytest.raises(FailedPrecondition):
        service.heartbeat("s", job.lease_id)


def test_release_hands_the_job_back_without_counting_a_loss(
    make_service: Callable[..., StudyService],
) -> None:
    service = make_service(max_lost=1)  # a single counted loss would fail the trial
    service.create_study(make_spec())
    (job,) = start(service, 1)
    for _ in range(3):
        service.release("s", job.job.trial_id, job.lease_id)
        job = service.suggest("s", "w", "")
        assert (job.job.kind, job.job.trial_id) == (JobKind.START, 0)
    t = trial(service, 0)
    assert t.status is TrialStatus.RUNNING
    assert [s.lost for s in t.record.segments] == [True, True, True, False]


def test_release_and_fail_need_the_lease_of_that_trial(service: StudyService) -> None:
    a, b = start(service, 2)
    before = snapshot(service)
    for call in (service.release, service.fail):
        args = ("why",) if call == service.fail else ()
        with pytest.raises(FailedPrecondition):
            call("s", a.job.trial_id, b.lease_id, *args)
        with pytest.raises(FailedPrecondition):
            call("s", a.job.trial_id, "no-such-lease", *args)
        with pytest.raises(NotFound):
            call("s", 99, a.lease_id, *args)
    assert snapshot(service) == before


def test_fail_ends_the_trial_for_good_with_its_reason(service: StudyService) -> None:
    (job,) = start(service, 1)
    service.fail("s", job.job.trial_id, job.lease_id, "CUDA out of memory")
    t = trial(service, job.job.trial_id)
    assert t.status is TrialStatus.FAILED and t.record.failures == ["CUDA out of memory"]
    assert service.suggest("s", "w", "").job.trial_id == 1
    with pytest.raises(FailedPrecondition):
        service.heartbeat("s", job.lease_id)


def test_a_study_with_lost_trials_is_not_done_until_they_finish(
    clock: FakeClock, make_service
) -> None:
    service = make_service()
    service.create_study(make_spec(r_max=1, trials=1))  # one trial, one level
    start(service, 1)
    clock.advance(LEASE + 1)
    assert service.get_study("s").state == "running"
    again = service.suggest("s", "w", "")
    service.report("s", 0, again.lease_id, 1, 0.3)
    assert service.get_study("s").state == "done"
    assert service.suggest("s", "w", "").job.kind is JobKind.DONE


def test_a_trial_lost_after_the_wall_time_budget_is_still_resumed(
    make_service: Callable[..., StudyService], clock: FakeClock
) -> None:
    """Like a running trial, a lost one finishes its segment; else the study never ends."""
    service = make_service()
    spec = make_spec(r_max=1)
    service.create_study(replace(spec, budget=Budget(max_wall_seconds=5.0)))
    (job,) = start(service, 1)
    clock.advance(LEASE + 1)  # past the wall-time budget too
    again = service.suggest("s", "w", "")
    assert (again.job.kind, again.job.trial_id) == (JobKind.START, job.job.trial_id)
    assert service.get_study("s").state == "running"
    service.report("s", 0, again.lease_id, 1, 0.3)
    assert service.get_study("s").state == "done"


def test_trials_lost_in_a_stopped_study_end_as_stopped(
    service: StudyService, clock: FakeClock
) -> None:
    _, lost_after = start(service, 2)
    clock.advance(LEASE / 2)
    service.heartbeat("s", lost_after.lease_id)
    clock.advance(LEASE / 2 + 1)  # the first lease expires; the second is still held
    service.list_trials("s")
    service.stop_study("s")
    clock.advance(LEASE)  # and now the second one expires, after the stop
    statuses = {t.trial_id: t.status for t in service.list_trials("s")}
    assert statuses == {0: TrialStatus.STOPPED, 1: TrialStatus.STOPPED}
    assert service.get_study("s").trials_running == 0
