"""Durable storage: an append-only journal of study events.

The service rebuilds every study after a restart by replaying its events
through the deterministic core, so the journal is the only state on disk.
`SqliteJournal` commits each event (WAL mode, synchronous=FULL) before
`append` returns: an acknowledged RPC is on disk. `MemoryJournal` has the same
contract for unit tests of the layers above; `storage_pg.PostgresJournal` keeps
it in PostgreSQL.

Beside the events a journal keeps each study's latest snapshot (its state as
of one sequence number, see snapshots.py), so a restart replays only the
events after it. A snapshot is an optimization: the events alone are the truth.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Protocol


@dataclass(frozen=True)
class Event:
    study: str
    seq: int  # 1, 2, 3, ... within a study
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Snapshot:
    study: str
    seq: int  # the state includes every event up to and including this one
    state: dict[str, Any]


class Journal(Protocol):
    def append(self, event: Event) -> None:
        """Stores the event durably; raises if (study, seq) is already taken."""

    def append_many(self, events: list[Event]) -> None:
        """Stores the events durably in one transaction: all of them, or none (and raises)."""

    def studies(self) -> list[str]:
        """Study names in creation order."""

    def events(self, study: str, after: int = 0, limit: int | None = None) -> Iterator[Event]:
        """The study's events with seq > after, in sequence order; the first `limit` of them."""

    def find_request(self, study: str, request_id: str) -> Event | None:
        """The study's first `suggest` event whose payload has this request_id (indexed)."""

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Stores the study's snapshot durably, replacing any older one."""

    def latest_snapshot(self, study: str) -> Snapshot | None:
        """The study's last saved snapshot, if any."""

    def delete(self, study: str) -> None:
        """Removes every event and snapshot of the study, durably; a later study may reuse the name."""

    def close(self) -> None: ...


class DuplicateEvent(Exception):
    """Two writers claimed the same (study, seq): a bug or a second server on one file."""


_SQLITE_REQUEST_ID = "json_extract(payload, '$.request_id')"  # the index's expression, exactly


class MemoryJournal:
    def __init__(self) -> None:
        self._events: dict[str, list[tuple[str, str]]] = {}  # study -> [(kind, JSON payload)]
        self._snapshots: dict[str, tuple[int, str]] = {}  # study -> (seq, JSON state)

    def append(self, event: Event) -> None:
        # Stored as JSON, as SQLite stores it, so tests catch payloads it could not hold
        # (NaN, objects) and nobody can change a stored event through a shared reference.
        body = json.dumps(event.payload, allow_nan=False)
        log = self._events.setdefault(event.study, [])
        if event.seq != len(log) + 1:
            raise DuplicateEvent(f"{event.study}: expected seq {len(log) + 1}, got {event.seq}")
        log.append((event.kind, body))

    def append_many(self, events: list[Event]) -> None:
        # Checked first, so a refused event leaves every one unstored, as a rollback would.
        lengths: dict[str, int] = {}
        for event in events:
            json.dumps(event.payload, allow_nan=False)
            expected = lengths.get(event.study, len(self._events.get(event.study, []))) + 1
            if event.seq != expected:
                raise DuplicateEvent(f"{event.study}: expected seq {expected}, got {event.seq}")
            lengths[event.study] = expected
        for event in events:
            self.append(event)

    def studies(self) -> list[str]:
        return list(self._events)

    def events(self, study: str, after: int = 0, limit: int | None = None) -> Iterator[Event]:
        stored = self._events.get(study, [])[after : None if limit is None else after + limit]
        return (
            Event(study, seq, kind, json.loads(body))
            for seq, (kind, body) in enumerate(stored, after + 1)
        )

    def find_request(self, study: str, request_id: str) -> Event | None:
        return next(
            (e for e in self.events(study)
             if e.kind == "suggest" and e.payload.get("request_id") == request_id),
            None,
        )

    def save_snapshot(self, snapshot: Snapshot) -> None:
        self._snapshots[snapshot.study] = (snapshot.seq, encode_state(snapshot.state))

    def latest_snapshot(self, study: str) -> Snapshot | None:
        stored = self._snapshots.get(study)
        return Snapshot(study, stored[0], json.loads(stored[1])) if stored else None

    def delete(self, study: str) -> None:
        self._events.pop(study, None)
        self._snapshots.pop(study, None)

    def close(self) -> None:
        pass


class SqliteJournal:
    """The journal in one SQLite file (stdlib sqlite3, WAL mode)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS events ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " study TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,"
            " payload TEXT NOT NULL, UNIQUE (study, seq))"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS snapshots ("
            " study TEXT PRIMARY KEY, seq INTEGER NOT NULL, state TEXT NOT NULL)"
        )
        self._db.execute(
            "CREATE INDEX IF NOT EXISTS events_by_request"
            f" ON events (study, {_SQLITE_REQUEST_ID}) WHERE kind = 'suggest'"
        )

    def append(self, event: Event) -> None:
        body = json.dumps(event.payload, allow_nan=False, separators=(",", ":"))
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO events (study, seq, kind, payload) VALUES (?, ?, ?, ?)",
                    (event.study, event.seq, event.kind, body),
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateEvent(f"{event.study}: seq {event.seq} already stored") from exc

    def append_many(self, events: list[Event]) -> None:
        rows = [
            (e.study, e.seq, e.kind, json.dumps(e.payload, allow_nan=False, separators=(",", ":")))
            for e in events
        ]
        with self._lock:
            try:
                with self._db:  # one transaction, one fsync
                    self._db.execute("BEGIN")
                    self._db.executemany(
                        "INSERT INTO events (study, seq, kind, payload) VALUES (?, ?, ?, ?)", rows
                    )
            except sqlite3.IntegrityError as exc:
                raise DuplicateEvent(f"a seq in this batch is already stored: {exc}") from exc

    def studies(self) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT study FROM events WHERE seq = 1 ORDER BY id"
            ).fetchall()
        return [r[0] for r in rows]

    def events(self, study: str, after: int = 0, limit: int | None = None) -> Iterator[Event]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, payload FROM events WHERE study = ? AND seq > ? ORDER BY seq"
                " LIMIT ?",
                (study, after, -1 if limit is None else limit),
            ).fetchall()
        return (Event(study, seq, kind, json.loads(body)) for seq, kind, body in rows)

    def find_request(self, study: str, request_id: str) -> Event | None:
        with self._lock:
            rows = self._db.execute(
                # No ORDER BY: with one, the planner walks the (study, seq) index instead.
                "SELECT seq, kind, payload FROM events"
                f" WHERE study = ? AND kind = 'suggest' AND {_SQLITE_REQUEST_ID} = ?",
                (study, request_id),
            ).fetchall()
        return first_event(study, rows)

    def save_snapshot(self, snapshot: Snapshot) -> None:
        body = encode_state(snapshot.state)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO snapshots (study, seq, state) VALUES (?, ?, ?)",
                (snapshot.study, snapshot.seq, body),
            )

    def latest_snapshot(self, study: str) -> Snapshot | None:
        with self._lock:
            row = self._db.execute(
                "SELECT seq, state FROM snapshots WHERE study = ?", (study,)
            ).fetchone()
        return Snapshot(study, row[0], json.loads(row[1])) if row else None

    def delete(self, study: str) -> None:
        with self._lock, self._db:  # one transaction: events and snapshot go together
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM events WHERE study = ?", (study,))
            self._db.execute("DELETE FROM snapshots WHERE study = ?", (study,))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def encode_state(state: dict[str, Any]) -> str:
    """A snapshot's state as compact JSON (NaN and infinities allowed: values may be)."""
    return json.dumps(state, separators=(",", ":"))


def first_event(study: str, rows: list[tuple[int, str, str]]) -> Event | None:
    """The earliest of a few (seq, kind, payload) rows, as an Event."""
    if not rows:
        return None
    seq, kind, body = min(rows)
    return Event(study, seq, kind, json.loads(body))
