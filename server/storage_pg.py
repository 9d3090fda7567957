"""The journal in a PostgreSQL database (psycopg 3).

Same contract as `SqliteJournal`: `append` returns once the event is
committed (PostgreSQL's default `synchronous_commit=on` waits for the WAL
flush), so an acknowledged RPC survives a crash of the server or of the
database. Payloads are stored as the exact JSON text the SQLite journal
stores, so both backends hand back identical events.

Several `rung serve` processes may share one database (leadership.py): a
journal opened with a fencing token writes only while that token is the
current one, checked in the same transaction as the write.
"""

from __future__ import annotations

import json
import threading
from typing import Iterator

import psycopg
from psycopg import errors

from .leadership import NotActive, create_leader_table
from .storage import DuplicateEvent, Event, Snapshot, encode_state, first_event

REQUEST_ID = "(payload::jsonb ->> 'request_id')"  # the index's expression, exactly
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS rung_events ("
    " id BIGSERIAL PRIMARY KEY,"
    " study TEXT NOT NULL, seq BIGINT NOT NULL, kind TEXT NOT NULL,"
    " payload TEXT NOT NULL, UNIQUE (study, seq))",
    "CREATE TABLE IF NOT EXISTS rung_snapshots ("
    " study TEXT PRIMARY KEY, seq BIGINT NOT NULL, state TEXT NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS rung_events_by_request"
    f" ON rung_events (study, ({REQUEST_ID})) WHERE kind = 'suggest'",
)


class PostgresJournal:
    """Events in table `rung_events` of the database at `url` (postgresql://...).

    With a `fence` token every write first checks, under a share lock of the
    `rung_leader` row, that the token is still current; otherwise it raises
    NotActive and writes nothing.
    """

    def __init__(self, url: str, fence: int | None = None):
        self.url = url
        self.fence = fence
        self._lock = threading.Lock()
        self._db = psycopg.connect(url, autocommit=True)
        # Concurrent first starts of several servers may race on CREATE TABLE IF NOT EXISTS;
        # an advisory lock held for the transaction serializes them.
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(hashtext('rung_schema'))")
            for statement in SCHEMA:
                self._db.execute(statement)
            create_leader_table(self._db)

    def _check_fence(self) -> None:
        """Inside a write's transaction: refuses it unless our token is current."""
        if self.fence is None:
            return
        row = self._db.execute("SELECT token FROM rung_leader WHERE id = 1 FOR SHARE").fetchone()
        if row is None or row[0] != self.fence:
            raise NotActive(
                f"this server's fencing token {self.fence} is stale (current: "
                f"{row[0] if row else None}): another server is active; nothing was written"
            )

    def append(self, event: Event) -> None:
        body = json.dumps(event.payload, allow_nan=False, separators=(",", ":"))
        with self._lock:
            try:
                with self._db.transaction():
                    self._check_fence()
                    self._db.execute(
                        "INSERT INTO rung_events (study, seq, kind, payload)"
                        " VALUES (%s, %s, %s, %s)",
                        (event.study, event.seq, event.kind, body),
                    )
            except errors.UniqueViolation as exc:
                raise DuplicateEvent(f"{event.study}: seq {event.seq} already stored") from exc

    def append_many(self, events: list[Event]) -> None:
        rows = [
            (e.study, e.seq, e.kind, json.dumps(e.payload, allow_nan=False, separators=(",", ":")))
            for e in events
        ]
        with self._lock:
            try:
                with self._db.transaction():  # one commit, one WAL flush
                    self._check_fence()
                    with self._db.cursor() as cursor:
                        cursor.executemany(
                            "INSERT INTO rung_events (study, seq, kind, payload)"
                            " VALUES (%s, %s, %s, %s)",
                            rows,
                        )
            except errors.UniqueViolation as exc:
                raise DuplicateEvent(f"a seq in this batch is already stored: {exc}") from exc

    def studies(self) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT study FROM rung_events WHERE seq = 1 ORDER BY id"
            ).fetchall()
        return [r[0] for r in rows]

    def events(self, study: str, after: int = 0, limit: int | None = None) -> Iterator[Event]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, payload FROM rung_events WHERE study = %s AND seq > %s"
                " ORDER BY seq LIMIT %s",
                (study, after, limit),
            ).fetchall()
        return (Event(study, seq, kind, json.loads(body)) for seq, kind, body in rows)

    def find_request(self, study: str, request_id: str) -> Event | None:
        with self._lock:
            rows = self._db.execute(
                # No ORDER BY: with one, the planner walks the (study, seq) index instead.
                "SELECT seq, kind, payload FROM rung_events WHERE study = %s AND kind = 'suggest'"
                f" AND {REQUEST_ID} = %s",
                (study, request_id),
            ).fetchall()
        return first_event(study, rows)

    def save_snapshot(self, snapshot: Snapshot) -> None:
        body = encode_state(snapshot.state)
        with self._lock, self._db.transaction():
            self._check_fence()
            self._db.execute(
                "INSERT INTO rung_snapshots (study, seq, state) VALUES (%s, %s, %s)"
                " ON CONFLICT (study) DO UPDATE SET seq = EXCLUDED.seq, state = EXCLUDED.state",
                (snapshot.study, snapshot.seq, body),
            )

    def latest_snapshot(self, study: str) -> Snapshot | None:
        with self._lock:
            row = self._db.execute(
                "SELECT seq, state FROM rung_snapshots WHERE study = %s", (study,)
            ).fetchone()
        return Snapshot(study, row[0], json.loads(row[1])) if row else None

    def delete(self, study: str) -> None:
        with self._lock, self._db.transaction():
            self._check_fence()
            self._db.execute("DELETE FROM rung_events WHERE study = %s", (study,))
            self._db.execute("DELETE FROM rung_snapshots WHERE study = %s", (study,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
