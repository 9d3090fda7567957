"""Snapshots: a restart from the latest snapshot plus the journal after it is the same
study as a replay of the whole journal, and goes on deciding the same way."""

from __future__ import annotations

import json
from typing import Callable, Iterator

import pytest

from rung.server.service import StudyService, _RowCache
from rung.server.snapshots import Snapshotter
from rung.server.storage import Event, MemoryJournal, Snapshot, encode_json
from server_support import LEASE, FakeClock, make_spec, snapshot, study_summary
from test_service_replay import copy_journal, run_mixed_study


def _state(service: StudyService, name: str = "s") -> str:
    taken = service._studies[name].take_snapshot()()
    rows = {name: list(texts) for name, texts in taken.rows.items()}  # chunks or lists
    return json.dumps([taken.seq, taken.state, rows], sort_keys=True)


def test_snapshot_plus_tail_equals_full_replay(
    service: StudyService, make_service: Callable[..., StudyService], clock: FakeClock
) -> None:
    run_mixed_study(service, clock, steps=40)
    assert service.save_snapshot("s")
    saved_at = service.journal.latest_snapshot("s").seq
    run_mixed_study(service, clock, steps=40, seed=4)  # the tail: events after the snapshot
    assert service._studies["s"].seq > saved_at

    from_snapshot = make_service(journal=service.journal)
    full_replay = make_service(journal=copy_journal(service.journal))  # events only
    assert full_replay.journal.latest_snapshot("s") is None
    assert _state(from_snapshot) == _state(full_replay)
    assert snapshot(from_snapshot) == snapshot(full_replay) == snapshot(service)
    assert study_summary(from_snapshot) == study_summary(full_replay)
    for step in range(20):  # and both decide alike from here on
        a = from_snapshot.suggest("s", "w", f"after-{step}")
        b = full_replay.suggest("s", "w", f"after-{step}")
        assert (a.job, a.checkpoint, a.lease_id != "") == (b.job, b.checkpoint, b.lease_id != "")


def test_a_snapshot_at_the_last_event_restores_the_study_exactly(
    service: StudyService, make_service: Callable[..., StudyService], clock: FakeClock
) -> None:
    run_mixed_study(service, clock, steps=30)
    assert service.save_snapshot("s")
    assert not service.save_snapshot("s")  # nothing new since
    restarted = make_service(journal=service.journal)
    assert _state(restarted) == _state(make_service(journal=copy_journal(service.journal)))
    assert snapshot(restarted) == snapshot(service)


class TailCountingJournal(MemoryJournal):
    """Remembers which part of each study's journal a restart read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[int] = []

    def events(self, study: str, after: int = 0, limit: int | None = None) -> Iterator[Event]:
        self.reads.append(after)
        return super().events(study, after, limit)


def test_a_restart_reads_only_the_events_after_the_snapshot(clock: FakeClock) -> None:
    journal = TailCountingJournal()
    service = StudyService(journal, clock=clock, lease_seconds=LEASE)
    service.create_study(make_spec())
    run_mixed_study(service, clock, steps=30)
    snapshotter = Snapshotter(service, every=25)
    assert snapshotter.save_due() == 1
    assert snapshotter.save_due() == 0  # fewer than 25 new events since
    saved_at = journal.latest_snapshot("s").seq
    run_mixed_study(service, clock, steps=5, seed=4)
    journal.reads.clear()
    restarted = StudyService(journal, clock=clock, lease_seconds=LEASE)
    assert journal.reads == [saved_at]
    assert snapshot(restarted) == snapshot(service)


def test_a_deleted_study_leaves_no_snapshot_behind(
    service: StudyService, make_service: Callable[..., StudyService], clock: FakeClock
) -> None:
    run_mixed_study(service, clock, steps=10)
    service.save_snapshot("s")
    service.delete_study("s")
    service.create_study(make_spec())  # the same name, a new study
    restarted = make_service(journal=service.journal)
    assert snapshot(restarted) == [] and restarted._studies["s"].seq == 1


def test_costly_decisions_bring_the_next_snapshot_forward(
    service: StudyService, clock: FakeClock
) -> None:
    """A study whose replay would take long (a model-based searcher) is snapshotted before
    `every` events have come: the core's time on journaled decisions is what counts."""
    run_mixed_study(service, clock, steps=20)
    study = service._studies["s"]
    assert study.decision_seconds > 0.0
    few_events = 10**9
    assert not service.save_snapshot("s", few_events, max_decision_seconds=3600.0)
    assert service.save_snapshot("s", few_events, max_decision_seconds=0.0)
    assert study.decision_seconds == 0.0 and study.snapshot_seq == study.seq
    saver = Snapshotter(service, every=few_events, replay_seconds=1e-9, busy_fraction=None)
    run_mixed_study(service, clock, steps=5, seed=7)
    assert saver.save_due() == 1


def test_saves_are_spaced_out_by_what_the_last_one_cost(
    service: StudyService, clock: FakeClock
) -> None:
    """A save holds the study's lock for a time that grows with its trials; the next one waits
    until the study has run 1 / busy_fraction times as long, so calls wait at most that share."""
    run_mixed_study(service, clock, steps=20)
    assert service.save_snapshot("s")
    study = service._studies["s"]
    assert study.snapshot_cost > 0.0
    run_mixed_study(service, clock, steps=5, seed=5)
    assert study.seq > study.snapshot_seq
    # A fraction this small means waiting some 10**12 times the last save's cost: not yet due.
    assert not service.save_snapshot("s", max_busy_fraction=1e-12)
    assert service.save_snapshot("s", max_busy_fraction=None)
    assert study.snapshot_seq == study.seq


def test_records_kept_as_text_after_a_save_take_later_changes_into_the_next_one(
    service: StudyService, make_service: Callable[..., StudyService], clock: FakeClock
) -> None:
    """A save turns every record back into text; events after it decode and change some,
    and the next save must hold those changes (a restart from it reads no tail)."""
    run_mixed_study(service, clock, steps=25)
    assert service.save_snapshot("s")
    run_mixed_study(service, clock, steps=25, seed=6)
    assert service.save_snapshot("s")
    restarted = make_service(journal=service.journal)
    assert restarted._studies["s"].seq == service.journal.latest_snapshot("s").seq
    full_replay = make_service(journal=copy_journal(service.journal))
    assert _state(restarted) == _state(full_replay)
    assert snapshot(restarted) == snapshot(full_replay) == snapshot(service)


def test_state_encoded_in_pieces_is_the_json_of_one_call() -> None:
    state = {
        "rungs": [[{"level": 1, "entries": [(0.5 * i, i, i) for i in range(25_001)]}]],
        "small": [1, [2, 3], {"a": None}], "empty": {}, "inf": float("inf"), "t": "é\n",
        "long_structure": [{"k": i} for i in range(100)],
    }
    assert encode_json(state) == json.dumps(state, separators=(",", ":"))


@pytest.mark.parametrize("damage", ["head cut short", "a part lost"])
def test_an_unreadable_snapshot_is_ignored_and_the_journal_replayed(
    clock: FakeClock, damage: str
) -> None:
    journal = MemoryJournal()
    service = StudyService(journal, clock=clock, lease_seconds=LEASE)
    service.create_study(make_spec())
    run_mixed_study(service, clock, steps=30)
    assert service.save_snapshot("s")
    seq, head, parts = journal._snapshots["s"]
    if damage == "head cut short":
        head = head[: len(head) // 2]
    else:
        parts = dict(list(parts.items())[1:])
    journal._snapshots["s"] = (seq, head, parts)
    restarted = StudyService(journal, clock=clock, lease_seconds=LEASE)
    assert snapshot(restarted) == snapshot(service)


def test_a_snapshot_that_kept_its_leases_and_jobs_in_its_state_still_restores(
    clock: FakeClock,
) -> None:
    """Snapshots saved before 30 Nov 2026 kept open leases and jobs in the state."""
    journal = MemoryJournal()
    service = StudyService(journal, clock=clock, lease_seconds=LEASE)
    service.create_study(make_spec())
    run_mixed_study(service, clock, steps=30)
    service.suggest("s", "w-open", "r-open")  # a lease and a job open in the snapshot
    assert service.save_snapshot("s")
    saved = journal.latest_snapshot("s")
    moved = ("leases", "jobs")
    assert all(saved.rows[name] for name in moved)  # the study has open leases and jobs
    journal.save_snapshot(Snapshot(
        "s", saved.seq,
        {**saved.state, **{name: [json.loads(row) for row in saved.rows[name]] for name in moved}},
        {name: rows for name, rows in saved.rows.items() if name not in moved},
    ))
    restarted = StudyService(journal, clock=clock, lease_seconds=LEASE)
    assert snapshot(restarted) == snapshot(service)


def test_a_backlog_of_used_trials_is_encoded_in_batches_and_saved_whole(
    service: StudyService, make_service: Callable[..., StudyService], clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("rung.server.service.COMPACT_BATCH", 2)
    run_mixed_study(service, clock, steps=40)  # every trial used: a backlog of many batches
    assert service.save_snapshot("s")
    study = service._studies["s"]
    assert not study.records._used and not study.scheduler.trials._used
    restarted = make_service(journal=service.journal)
    assert _state(restarted) == _state(make_service(journal=copy_journal(service.journal)))
    assert snapshot(restarted) == snapshot(service)


def test_the_row_cache_reuses_a_text_only_while_its_value_is_unchanged() -> None:
    cache, encoded = _RowCache(), []

    def encode(key: str, value: int) -> str:
        encoded.append(key)
        return f"{key}={value}"

    assert cache.rows([("a", 1), ("b", 2)], encode) == ["a=1", "b=2"]
    assert cache.rows([("a", 1), ("b", 3), ("c", 4)], encode) == ["a=1", "b=3", "c=4"]
    assert encoded == ["a", "b", "b", "c"]  # a was reused; b changed; c is new
    assert cache.rows([("c", 4)], encode) == ["c=4"]
    assert cache.rows([("a", 1)], encode) == ["a=1"]  # forgotten when it was left out
    assert encoded == ["a", "b", "b", "c", "a"]
