"""Replay: a restarted service rebuilds every study from its journal, and a failed write
leaves the study as it is on disk."""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import pytest

from rung.core.errors import StorageUnavailable
from rung.core.types import Decision, JobKind
from rung.server.service import StudyService
from rung.server.storage import Event, Journal, MemoryJournal, Snapshot
from server_support import LEASE, FakeClock, make_spec, snapshot, study_summary


def run_mixed_study(
    service: StudyService, clock: FakeClock, steps: int = 80, seed: int = 3
) -> None:
    """Drives a study through every kind of event: starts, promotions, reports, expiries,
    releases, failures, retries; seeded, so every run is the same."""
    rng = np.random.default_rng(seed)
    for step in range(steps):
        issued = service.suggest("s", f"w{step % 4}", f"req-{seed}-{step}")
        if issued.job.kind is not JobKind.START and issued.job.kind is not JobKind.RESUME:
            continue
        job, lease = issued.job, issued.lease_id
        fate = rng.random()
        if fate < 0.1:
            clock.advance(LEASE + 1)  # abandoned: expires at the next call
            continue
        if fate < 0.15:
            service.release("s", job.trial_id, lease)
            continue
        if fate < 0.2:
            service.fail("s", job.trial_id, lease, f"boom {step}")
            continue
        for resource in range(job.resume_from + 1, job.milestone + 1):
            value = float(job.config["x"]) / resource
            decision, _ = service.report("s", job.trial_id, lease, resource, value, f"ck-{step}")
            service.report("s", job.trial_id, lease, resource, value, f"ck-{step}")  # a retry
            if decision is not Decision.CONTINUE:
                break
        clock.advance(0.5)


def copy_journal(journal: Journal) -> MemoryJournal:
    copy = MemoryJournal()
    for name in journal.studies():
        for event in journal.events(name):
            copy.append(event)
    return copy


def test_a_restart_rebuilds_trials_records_and_incumbent(
    service: StudyService, make_service: Callable[..., StudyService], clock: FakeClock
) -> None:
    run_mixed_study(service, clock)
    trials, summary = snapshot(service), study_summary(service)
    assert summary[4] > 0 and any(t[2].value == "failed" for t in trials)  # promotions, failures

    restarted = make_service(journal=service.journal)

    assert snapshot(restarted) == trials
    assert study_summary(restarted) == summary
    assert [v.spec.name for v in restarted.list_studies()] == ["s"]


def test_a_restarted_service_decides_as_the_original_would(
    service: StudyService, make_service: Callable[..., StudyService], clock: FakeClock
) -> None:
    run_mixed_study(service, clock, steps=40)
    restarted = make_service(journal=copy_journal(service.journal))
    for step in range(20):
        a = service.suggest("s", "w", f"next-{step}")
        b = restarted.suggest("s", "w", f"next-{step}")
        assert (a.job, a.checkpoint) == (b.job, b.checkpoint)
        if a.job.kind in (JobKind.START, JobKind.RESUME):
            for svc, issued in ((service, a), (restarted, b)):
                svc.report("s", a.job.trial_id, issued.lease_id, a.job.resume_from + 1, 0.1 * step)


def test_open_leases_get_a_fresh_deadline_after_a_restart(
    service: StudyService, make_service: Callable[..., StudyService], clock: FakeClock
) -> None:
    job = service.suggest("s", "w", "")
    clock.advance(5 * LEASE)  # the server was down for a while: nobody could heartbeat
    restarted = make_service(journal=service.journal)
    clock.advance(LEASE / 2)
    decision, _ = restarted.report("s", job.job.trial_id, job.lease_id, 1, 0.5)
    assert decision is Decision.PAUSE


def test_two_studies_replay_independently(
    make_service: Callable[..., StudyService], clock: FakeClock
) -> None:
    service = make_service()
    for name in ("s", "t"):
        service.create_study(make_spec(name))
    run_mixed_study(service, clock, steps=20)
    t_job = service.suggest("t", "w", "")
    restarted = make_service(journal=service.journal)
    assert snapshot(restarted, "s") == snapshot(service, "s")
    assert snapshot(restarted, "t") == snapshot(service, "t")
    assert [t.trial_id for t in restarted.list_trials("t")] == [t_job.job.trial_id]


class FlakyJournal:
    """Delegates to a journal, but fails the next `fail_next` appends, as a full disk does;
    while `unreadable`, its reads fail too, as a PostgreSQL journal's do when the database
    cannot be reached."""

    remote = False

    def __init__(self, inner: Journal):
        self.inner = inner
        self.fail_next = 0
        self.unreadable = False

    def _readable(self) -> None:
        if self.unreadable:
            raise StorageUnavailable("the journal cannot be reached")

    def append(self, event: Event) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise OSError("disk full")
        self.inner.append(event)

    def append_many(self, events: list[Event]) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise OSError("disk full")
        self.inner.append_many(events)

    def studies(self) -> list[str]:
        return self.inner.studies()

    def events(self, study: str, after: int = 0, limit: int | None = None) -> Iterator[Event]:
        self._readable()
        return self.inner.events(study, after, limit)

    def find_request(self, study: str, request_id: str) -> Event | None:
        self._readable()
        return self.inner.find_request(study, request_id)

    def save_snapshot(self, snapshot: Snapshot) -> None:
        self.inner.save_snapshot(snapshot)

    def latest_snapshot(self, study: str) -> Snapshot | None:
        self._readable()
        return self.inner.latest_snapshot(study)

    def delete(self, study: str) -> None:
        self.inner.delete(study)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def flaky(
    open_journal: Callable[[], Journal], clock: FakeClock
) -> tuple[StudyService, FlakyJournal]:
    journal = FlakyJournal(open_journal())
    service = StudyService(journal, clock=clock, lease_seconds=LEASE)
    service.create_study(make_spec())
    return service, journal


def assert_matches_disk(service: StudyService, journal: FlakyJournal) -> None:
    on_disk = StudyService(copy_journal(journal.inner), clock=service.clock, lease_seconds=LEASE)
    assert snapshot(service) == snapshot(on_disk)
    assert study_summary(service) == study_summary(on_disk)


def test_a_failed_write_of_a_suggest_issues_nothing(
    flaky: tuple[StudyService, FlakyJournal],
) -> None:
    service, journal = flaky
    first = service.suggest("s", "w", "a")
    journal.fail_next = 1
    with pytest.raises(OSError):
        service.suggest("s", "w", "b")
    assert_matches_disk(service, journal)
    retry = service.suggest("s", "w", "b")  # the same request, now stored
    assert retry.job.trial_id == first.job.trial_id + 1
    assert service.suggest("s", "w", "b") == retry


def test_a_failed_write_of_a_report_can_be_retried(
    flaky: tuple[StudyService, FlakyJournal],
) -> None:
    service, journal = flaky
    job = service.suggest("s", "w", "a")
    journal.fail_next = 1
    with pytest.raises(OSError):
        service.report("s", 0, job.lease_id, 1, 0.5, "ck")
    assert_matches_disk(service, journal)
    assert service.list_trials("s")[0].record.observations == []
    assert service.report("s", 0, job.lease_id, 1, 0.5, "ck")[0] is Decision.PAUSE
    assert [o.value for o in service.list_trials("s")[0].record.observations] == [0.5]


def test_a_failed_write_of_an_expiry_loses_no_lease_state(
    flaky: tuple[StudyService, FlakyJournal], clock: FakeClock
) -> None:
    service, journal = flaky
    job = service.suggest("s", "w", "a")
    clock.advance(LEASE + 1)
    journal.fail_next = 1
    with pytest.raises(OSError):
        service.suggest("s", "w", "b")
    assert_matches_disk(service, journal)
    clock.advance(LEASE + 1)
    again = service.suggest("s", "w", "b")  # now the expiry is written and the trial resumed
    assert (again.job.trial_id, again.job.kind) == (job.job.trial_id, JobKind.START)
    assert_matches_disk(service, journal)


def test_a_study_that_cannot_be_read_back_after_a_failed_write_refuses_calls_until_it_can(
    flaky: tuple[StudyService, FlakyJournal],
) -> None:
    """Memory then holds a decision the journal lacks: a call building on it, or a snapshot
    storing it, would put into the journal what never happened there."""
    service, journal = flaky
    job = service.suggest("s", "w", "a")
    journal.fail_next, journal.unreadable = 1, True  # the database went away mid-write
    with pytest.raises(OSError):
        service.report("s", 0, job.lease_id, 1, 0.5, "ck")
    with pytest.raises(StorageUnavailable, match="reloaded from its journal"):
        service.suggest("s", "w", "b")
    for read_or_decide in (
        lambda: service.report("s", 0, job.lease_id, 1, 0.5, "ck"),
        lambda: service.get_study("s"),
        lambda: service.list_trials("s"),
        lambda: service.trials_since("s"),  # the dashboard's
        lambda: service.lease_deadlines("s"),
    ):
        with pytest.raises(StorageUnavailable):
            read_or_decide()
    assert service.save_snapshot("s") is False
    journal.unreadable = False  # it is back: the next call reloads the study first
    assert service.report("s", 0, job.lease_id, 1, 0.5, "ck")[0] is Decision.PAUSE
    assert_matches_disk(service, journal)
    stored = [event.seq for event in journal.inner.events("s")]
    assert stored == list(range(1, len(stored) + 1))  # nothing lost, no gap
