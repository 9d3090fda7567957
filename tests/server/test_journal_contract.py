"""One storage contract, run against every journal (in memory, SQLite and PostgreSQL).

A new backend is added to the `open_journal` fixture (conftest.py) and inherits
the whole suite, as do the service tests that use it.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Callable, Iterator

import pytest

from rung.server.sql_journal import SqliteJournal, SqlJournal
from rung.server.storage import DuplicateEvent, Event, Journal, Snapshot

Factory = Callable[[], Journal]


def _event(study: str, seq: int, kind: str = "report", **payload: object) -> Event:
    return Event(study, seq, kind, dict(payload))


def test_events_come_back_in_order_with_their_payloads(open_journal: Factory) -> None:
    journal = open_journal()
    journal.append(_event("a", 1, "created", spec={"name": "a"}, at=1.5))
    journal.append(_event("a", 2, value=0.25, ids=[1, 2], text="é ✓", nested={"x": None}))
    journal.append(_event("a", 3, "stop"))
    events = list(journal.events("a"))
    assert [(e.seq, e.kind) for e in events] == [(1, "created"), (2, "report"), (3, "stop")]
    payload = {"value": 0.25, "ids": [1, 2], "text": "é ✓", "nested": {"x": None}}
    assert events[1].payload == payload
    assert all(e.study == "a" for e in events)


def test_studies_are_listed_in_creation_order_and_kept_apart(open_journal: Factory) -> None:
    journal = open_journal()
    for name in ("zeta", "alpha", "mid"):
        journal.append(_event(name, 1, "created"))
    journal.append(_event("alpha", 2))
    assert journal.studies() == ["zeta", "alpha", "mid"]
    assert [e.seq for e in journal.events("alpha")] == [1, 2]
    assert [e.seq for e in journal.events("zeta")] == [1]
    assert list(journal.events("unknown")) == []


def test_a_taken_sequence_number_is_refused_and_changes_nothing(open_journal: Factory) -> None:
    journal = open_journal()
    journal.append(_event("a", 1, "created"))
    journal.append(_event("a", 2, value=1.0))
    with pytest.raises(DuplicateEvent):
        journal.append(_event("a", 2, value=2.0))
    assert [e.payload for e in journal.events("a")] == [{}, {"value": 1.0}]


def test_payloads_json_cannot_hold_are_refused(open_journal: Factory) -> None:
    journal = open_journal()
    journal.append(_event("a", 1, "created"))
    for bad in (math.nan, math.inf, object()):
        with pytest.raises((ValueError, TypeError)):
            journal.append(_event("a", 2, value=bad))
    assert [e.seq for e in journal.events("a")] == [1]
    journal.append(_event("a", 2, value=3.0))  # the refused seq is still free


def test_stored_events_survive_a_reopen(open_journal: Factory) -> None:
    journal = open_journal()
    journal.append(_event("a", 1, "created", at=2.0))
    journal.append(_event("a", 2, value=0.5))
    journal.close()
    reopened = open_journal()
    assert reopened.studies() == ["a"]
    assert [(e.seq, e.payload) for e in reopened.events("a")] == [
        (1, {"at": 2.0}),
        (2, {"value": 0.5}),
    ]
    reopened.append(_event("a", 3, "stop"))
    assert [e.seq for e in reopened.events("a")] == [1, 2, 3]


def test_a_payload_cannot_be_changed_through_the_event_given_or_read(open_journal: Factory) -> None:
    journal = open_journal()
    payload = {"ids": [1]}
    journal.append(Event("a", 1, "created", payload))
    payload["ids"].append(2)
    read = next(iter(journal.events("a")))
    read.payload["ids"].append(3)
    assert next(iter(journal.events("a"))).payload == {"ids": [1]}


def test_a_deleted_study_is_gone_for_good_and_its_name_free(open_journal: Factory) -> None:
    journal = open_journal()
    for name in ("a", "b"):
        journal.append(_event(name, 1, "created"))
        journal.append(_event(name, 2))
    journal.delete("a")
    journal.delete("never-existed")
    assert journal.studies() == ["b"] and list(journal.events("a")) == []
    journal.close()
    reopened = open_journal()
    assert reopened.studies() == ["b"]
    reopened.append(_event("a", 1, "created", at=9.0))  # a new study under the old name
    assert [(e.seq, e.payload) for e in reopened.events("a")] == [(1, {"at": 9.0})]
    assert [e.seq for e in reopened.events("b")] == [1, 2]


def test_delete_forgets_one_study_and_survives_a_reopen(open_journal: Factory) -> None:
    journal = open_journal()
    for name in ("gone", "kept"):
        journal.append(_event(name, 1, "created"))
        journal.append(_event(name, 2, value=1.0))
    journal.delete("gone")
    journal.delete("never-existed")
    reopened = open_journal()
    assert reopened.studies() == ["kept"]
    assert list(reopened.events("gone")) == []
    reopened.append(_event("gone", 1, "created"))  # the name can be used again
    assert [e.seq for e in reopened.events("gone")] == [1]


def test_events_after_a_sequence_number_are_the_tail(open_journal: Factory) -> None:
    journal = open_journal()
    for seq in range(1, 6):
        journal.append(_event("a", seq, value=float(seq)))
    assert [e.seq for e in journal.events("a", after=3)] == [4, 5]
    assert list(journal.events("a", after=5)) == []
    assert [e.payload["value"] for e in journal.events("a", after=0)] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert [e.seq for e in journal.events("a", after=1, limit=2)] == [2, 3]
    assert [e.seq for e in journal.events("a", after=4, limit=10)] == [5]


def test_the_latest_snapshot_replaces_older_ones_and_survives_a_reopen(
    open_journal: Factory,
) -> None:
    journal = open_journal()
    journal.append(_event("a", 1, "created"))
    assert journal.latest_snapshot("a") is None
    journal.save_snapshot(Snapshot("a", 1, {"x": [1, 2], "inf": math.inf}))
    journal.save_snapshot(Snapshot("a", 7, {"x": [3], "nested": {"t": "é"}}))
    journal.close()
    snap = open_journal().latest_snapshot("a")
    assert snap == Snapshot("a", 7, {"x": [3], "nested": {"t": "é"}})
    assert open_journal().latest_snapshot("b") is None


def test_a_snapshot_keeps_its_rows_apart_from_its_state(open_journal: Factory) -> None:
    journal = open_journal()
    journal.append(_event("a", 1, "created"))
    rows = {
        "trials": [json.dumps([i, {"x": i / 3, "s": 'q"uote\\ \n é'}]) for i in range(25_000)],
        "empty": [],
        "records": [json.dumps([[], "line\nbreak"])] * 3,
    }
    journal.save_snapshot(Snapshot("a", 9, {"big": list(range(25_000)), "nan": math.nan}, rows))
    journal.close()
    snap = open_journal().latest_snapshot("a")
    assert (snap.seq, snap.rows) == (9, rows)
    assert snap.state["big"] == list(range(25_000)) and math.isnan(snap.state["nan"])


def _parted(open_journal: Factory, monkeypatch: pytest.MonkeyPatch) -> SqlJournal:
    """A SQL journal that stores snapshots in parts of 3 rows, written 4 parts a
    transaction, with study "a"."""
    monkeypatch.setattr("rung.core.lazy_rows.CHUNK_ROWS", 3)
    monkeypatch.setattr("rung.server.sql_journal.PARTS_PER_TRANSACTION", 4)
    journal = open_journal()
    if not isinstance(journal, SqlJournal):
        pytest.skip("only SQL journals write a snapshot in parts")
    journal.append(_event("a", 1, "created"))
    return journal


def _rows(n: int, tag: str) -> dict[str, list[str]]:
    return {"trials": [json.dumps([i, tag * 40]) for i in range(n)]}


def test_a_snapshot_written_in_parts_reads_back_whole_and_replaces_all_older_parts(
    open_journal: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = _parted(open_journal, monkeypatch)
    journal.save_snapshot(Snapshot("a", 3, {"n": 1}, _rows(300, "x")))  # about 100 parts
    journal.save_snapshot(Snapshot("a", 5, {"n": 2}, _rows(20, "y")))  # fewer parts
    assert open_journal().latest_snapshot("a") == Snapshot("a", 5, {"n": 2}, _rows(20, "y"))
    (left,) = journal._read("SELECT COUNT(*) FROM {parts} WHERE study = ?", ("a",))
    assert 0 < left[0] < 10  # the first snapshot's parts are gone
    journal.delete("a")
    assert journal._read("SELECT COUNT(*) FROM {parts}", ()) == [(0,)]


def test_a_save_that_stops_halfway_leaves_the_previous_snapshot_the_latest(
    open_journal: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = _parted(open_journal, monkeypatch)
    journal.save_snapshot(Snapshot("a", 3, {"n": 1}, _rows(30, "x")))
    writes = 0

    def failing_fence() -> None:
        nonlocal writes
        writes += 1
        if writes == 5:
            raise OSError("disk gone")

    monkeypatch.setattr(journal, "_check_fence", failing_fence)
    with pytest.raises(OSError):
        journal.save_snapshot(Snapshot("a", 9, {"n": 2}, _rows(300, "y")))
    assert open_journal().latest_snapshot("a") == Snapshot("a", 3, {"n": 1}, _rows(30, "x"))
    monkeypatch.undo()
    journal.save_snapshot(Snapshot("a", 11, {"n": 2}, _rows(300, "y")))  # the next save
    assert open_journal().latest_snapshot("a") == Snapshot("a", 11, {"n": 2}, _rows(300, "y"))
    (stored,) = journal._read("SELECT COUNT(*) FROM {parts} WHERE study = 'a'", ())
    # One part (monkeypatch.undo() restored 1,000 rows a part): what the cut-short save
    # wrote is gone with the older snapshot's parts.
    assert stored[0] == 1


def _parts_written_by(journal: SqlJournal, seq: int) -> int:
    return journal._read("SELECT COUNT(*) FROM {parts} WHERE study = 'a' AND seq = ?", (seq,))[0][0]


def test_a_save_writes_only_the_parts_whose_rows_changed(
    open_journal: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = _parted(open_journal, monkeypatch)
    rows = _rows(300, "x")
    journal.save_snapshot(Snapshot("a", 3, {"n": 1}, rows))
    assert _parts_written_by(journal, 3) == 100
    changed = {"trials": list(rows["trials"])}
    changed["trials"][10] = json.dumps([10, "z" * 40])  # same length, other text
    changed["trials"][200] = json.dumps([200, "w" * 40])
    changed["trials"] += [json.dumps([i, "n"]) for i in (300, 301)]
    journal.save_snapshot(Snapshot("a", 5, {"n": 2}, changed))
    assert _parts_written_by(journal, 5) == 3  # rows 9-11, 198-200 and the new 300-301
    assert open_journal().latest_snapshot("a") == Snapshot("a", 5, {"n": 2}, changed)
    # A reopened journal refers to the parts it read, too.
    reopened = open_journal()
    assert reopened.latest_snapshot("a") is not None
    changed["trials"][0] = json.dumps([0, "q"])
    reopened.save_snapshot(Snapshot("a", 8, {"n": 3}, changed))
    assert _parts_written_by(reopened, 8) == 1
    assert open_journal().latest_snapshot("a") == Snapshot("a", 8, {"n": 3}, changed)
    (stored,) = reopened._read("SELECT COUNT(*) FROM {parts} WHERE study = 'a'", ())
    assert stored[0] == 101  # every part stored is referred to


def test_a_snapshot_in_the_older_layout_still_reads(
    open_journal: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before parts were shared between saves, the rows followed the state in the same
    text, then in parts numbered under the snapshot's seq."""
    journal = _parted(open_journal, monkeypatch)
    rows = _rows(5, "x")["trials"]
    head = json.dumps({"state": {"n": 1}, "rows": [["trials", 5]]})
    with journal._write_lock, journal._transaction():
        journal._writer.execute(
            journal._sql("INSERT INTO {snapshots} (study, seq, state) VALUES (?, ?, ?)"),
            ("a", 4, "\n".join([head, *rows[:2]])),
        )
        for number, part in ((1, rows[2:4]), (2, rows[4:])):
            journal._writer.execute(
                journal._sql("INSERT INTO {parts} (study, seq, part, body) VALUES (?, ?, ?, ?)"),
                ("a", 4, number, "\n".join(part)),
            )
    assert open_journal().latest_snapshot("a") == Snapshot("a", 4, {"n": 1}, {"trials": rows})


def test_deleting_a_study_deletes_its_snapshot(open_journal: Factory) -> None:
    journal = open_journal()
    for name in ("a", "b"):
        journal.append(_event(name, 1, "created"))
        journal.save_snapshot(Snapshot(name, 1, {"n": name}))
    journal.delete("a")
    assert journal.latest_snapshot("a") is None
    assert journal.latest_snapshot("b") == Snapshot("b", 1, {"n": "b"})


def test_a_suggest_is_found_by_its_request_id(open_journal: Factory) -> None:
    journal = open_journal()
    journal.append(_event("a", 1, "created"))
    journal.append(_event("a", 2, "suggest", request_id="r1", trial_id=0))
    journal.append(_event("a", 3, "report", request_id="r2"))  # not a suggest
    journal.append(_event("b", 1, "created"))
    journal.append(_event("b", 2, "suggest", request_id="r2", trial_id=5))
    found = journal.find_request("a", "r1")
    assert found is not None and (found.seq, found.payload["trial_id"]) == (2, 0)
    assert journal.find_request("a", "r2") is None
    assert journal.find_request("b", "r2").payload == {"request_id": "r2", "trial_id": 5}
    assert journal.find_request("c", "r1") is None


def test_a_batch_is_stored_whole_or_not_at_all(open_journal: Factory) -> None:
    journal = open_journal()
    journal.append(_event("a", 1, "created"))
    journal.append_many([_event("a", 2, value=1.0), _event("b", 1, "created"),
                         _event("a", 3, value=2.0)])
    assert [e.seq for e in journal.events("a")] == [1, 2, 3]
    for bad in (
        [_event("a", 4, value=3.0), _event("a", 3, value=9.0)],  # a taken seq
        [_event("a", 4, value=3.0), _event("b", 2, value=math.nan)],  # not storable
    ):
        with pytest.raises((DuplicateEvent, ValueError)):
            journal.append_many(bad)
    assert [e.seq for e in journal.events("a")] == [1, 2, 3]
    assert [e.seq for e in journal.events("b")] == [1]
    journal.close()
    assert [e.payload for e in open_journal().events("a")][1:] == [{"value": 1.0}, {"value": 2.0}]


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlJournal]:
    if request.param == "sqlite":
        journal: SqlJournal = SqliteJournal(tmp_path / "j.db")
    else:
        from rung.server.storage_pg import PostgresJournal

        journal = PostgresJournal(request.getfixturevalue("postgres_url"))
    yield journal
    journal.close()


def test_reads_neither_wait_for_nor_see_a_commit_in_progress(sql_journal: SqlJournal) -> None:
    """A Suggest looks its request id up while the commit thread writes other calls'
    events; if that read waited for the commit, every call would queue behind every fsync."""
    journal = sql_journal
    journal.append(_event("a", 1, "created"))
    journal.append(_event("a", 2, "suggest", request_id="r1"))
    uncommitted = Event("a", 3, "suggest", {"request_id": "r2"})
    insert = journal._sql("INSERT INTO {events} (study, seq, kind, payload) VALUES (?, ?, ?, ?)")
    seen: dict[str, object] = {}

    def read() -> None:
        seen["r1"] = journal.find_request("a", "r1")
        seen["r2"] = journal.find_request("a", "r2")
        seen["seqs"] = [e.seq for e in journal.events("a")]

    with journal._write_lock, journal._transaction():  # a commit in progress, held open
        journal._writer.execute(insert, ("a", 3, "suggest", json.dumps(uncommitted.payload)))
        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=30)
        assert not reader.is_alive(), "a read waited for the writer's open transaction"
    assert seen["seqs"] == [1, 2] and seen["r2"] is None
    assert isinstance(seen["r1"], Event) and seen["r1"].seq == 2
    found = journal.find_request("a", "r2")  # committed now
    assert found is not None and found.seq == 3


def test_postgres_compresses_snapshot_text_with_lz4_where_it_can(postgres_url: str) -> None:
    """lz4 wrote and read a million trials' rows faster than no compression, in half the
    space; PostgreSQL's default compression (pglz) made saving about 4 times slower, so
    without lz4 the text is stored uncompressed."""
    from rung.server.storage_pg import PostgresJournal, _has_lz4

    PostgresJournal(postgres_url).close()  # a second open finds the storage already set
    journal = PostgresJournal(postgres_url)
    rows = {"trials": [json.dumps([i, "x" * 50]) for i in range(3000)]}
    journal.save_snapshot(Snapshot("a", 1, {"n": 1}, rows))
    columns = journal._read(
        "SELECT attrelid::regclass::text, attname, attstorage FROM pg_attribute"
        " WHERE (attrelid, attname) IN (('rung_snapshots'::regclass, 'state'),"
        " ('rung_snapshot_parts'::regclass, 'body'))", (),
    )
    lz4 = _has_lz4(journal._writer)
    # pg_column_compression: PostgreSQL 14 and later, as lz4.
    stored = (
        journal._read("SELECT DISTINCT pg_column_compression(body) FROM {parts}", ())
        if lz4 else []
    )
    assert journal.latest_snapshot("a") == Snapshot("a", 1, {"n": 1}, rows)
    journal.close()
    storage = "x" if lz4 else "e"  # x: compressed where large, e: never compressed
    assert sorted(columns) == [
        ("rung_snapshot_parts", "body", storage), ("rung_snapshots", "state", storage)
    ]
    assert stored == ([("lz4",)] if lz4 else [])


def test_sqlite_lists_studies_from_the_index_of_first_events(tmp_path: Path) -> None:
    """A scan of every event took 0.4 s at 3.8 million events."""
    journal = SqliteJournal(tmp_path / "j.db")
    plan = journal._read(
        "EXPLAIN QUERY PLAN SELECT study FROM {events} WHERE seq = 1 ORDER BY id", ()
    )
    journal.close()
    assert "USING INDEX events_created" in plan[0][-1]


def test_a_batch_larger_than_one_statement_is_stored_whole_or_not_at_all(
    open_journal: Factory,
) -> None:
    """Batches go into INSERTs of ROWS_PER_INSERT events; one of several (a tool copying a
    journal appends 20,000 at once) is still one transaction."""
    journal = open_journal()
    many = [_event("a", seq, value=float(seq)) for seq in range(1, 1202)]
    journal.append_many(many)
    assert [e.seq for e in journal.events("a")] == list(range(1, 1202))
    clash = [_event("b", seq) for seq in range(1, 1100)] + [_event("a", 1201)]  # the last clashes
    with pytest.raises(DuplicateEvent):
        journal.append_many(clash)
    assert list(journal.events("b")) == []  # the statements before the clash are rolled back
