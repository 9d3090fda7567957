"""The journal in a SQL database: the statements and connection handling that SQLite
and PostgreSQL share, and the SQLite journal (PostgreSQL's is in storage_pg.py).

Each journal holds two connections. The writer appends batches, snapshots and
deletions, one transaction each, under a lock (the commit thread is its main
user). The reader answers replay, lookups of retried requests and watchers. A
Suggest looks its request id up in the journal while other calls' events are
being committed; on one shared connection that lookup would wait for the
commit's fsync, holding the study's lock, and every call would queue behind
every commit (group commit would batch nothing). Both databases let a reader
see every committed transaction without waiting for a writer (SQLite's WAL
mode, PostgreSQL's MVCC).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, ClassVar, Iterator

from rung.core.errors import StorageUnavailable
from rung.core.lazy_rows import chunk_text

from .storage import (
    DuplicateEvent, Event, PartKey, PartRows, PendingRows, Snapshot, StoredParts,
    decode_snapshot_reading_rows, first_event, row_parts, same_rows, snapshot_head,
)

# Parts of a snapshot are written (and dropped) this many a transaction, about 1 MB of
# trials, so the events committed meanwhile wait for one such transaction at most; with a
# pause between them, so commits in waiting go first.
PARTS_PER_TRANSACTION = 3
PART_PAUSE_SECONDS = 0.005
# Events an INSERT statement: 2,000 parameters, well below SQLite's limit (32,766).
ROWS_PER_INSERT = 500
# SQLite's primary result codes for a write that may work later (space freed, the disk
# back, a lock let go); others (a corrupt file, an SQL error) are bugs or lost causes.
TRANSIENT_SQLITE_ERRORS = frozenset(
    {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
)
# Each study's first event ("created"), in creation order: a partial index of one row a study.
CREATED_INDEX = "ON {events} (id) WHERE seq = 1"


class SqlJournal:
    """A Journal over a DB-API writer and reader connection. Subclasses name the tables,
    the request-id expression of their index, the parameter marker and their unique
    violation, and open a transaction; `_check_fence` may refuse a write inside one."""

    EVENTS: ClassVar[str]
    SNAPSHOTS: ClassVar[str]
    PARTS: ClassVar[str]  # the snapshots' later parts
    REQUEST_ID: ClassVar[str]  # the expression the request-id index is built on, exactly
    UNIQUE_VIOLATION: ClassVar[type[Exception]]
    PARAM: ClassVar[str] = "?"

    def __init__(self, writer: Any, reader: Any):
        self._writer, self._reader = writer, reader
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        # study -> the parts of its latest snapshot that a save may refer to (storage.decode_snapshot)
        self._parts: dict[str, StoredParts] = {}
        self._reading: dict[str, PendingRows] = {}  # rows of a latest snapshot still being read

    # ------------------------------------------------------------ dialect hooks

    def _transaction(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _statement_transaction(self) -> AbstractContextManager[Any]:
        """The transaction of a write that is one statement (and a fence check)."""
        return self._transaction()

    def _check_fence(self) -> None:
        """Inside a write's transaction: raises to refuse the write (no-op by default)."""

    def _sql(self, text: str) -> str:
        return text.format(
            events=self.EVENTS, snapshots=self.SNAPSHOTS, parts=self.PARTS,
            request_id=self.REQUEST_ID,
        ).replace("?", self.PARAM)

    # ------------------------------------------------------------ writes

    def append(self, event: Event) -> None:
        self.append_many([event])

    def append_many(self, events: list[Event]) -> None:
        """One INSERT of up to ROWS_PER_INSERT rows: at 16 concurrent workers a batch holds
        a few events, and a statement per event cost the commit thread a hand-over of the
        interpreter each (0.26 ms of CPU a batch against 0.19 ms)."""
        statements = []
        for start in range(0, len(events), ROWS_PER_INSERT):
            chunk = events[start : start + ROWS_PER_INSERT]
            insert = self._sql(
                "INSERT INTO {events} (study, seq, kind, payload) VALUES "
                + ", ".join(["(?, ?, ?, ?)"] * len(chunk))
            )
            values = [v for e in chunk for v in (e.study, e.seq, e.kind, e.payload_text)]
            statements.append((insert, values))
        try:
            with self._writing(one_statement=len(statements) == 1):  # one commit, one fsync
                for insert, values in statements:
                    self._writer.execute(insert, values)
        except self.UNIQUE_VIOLATION as exc:
            raise DuplicateEvent(f"a seq in this batch is already stored: {exc}") from exc

    @contextmanager
    def _writing(self, one_statement: bool = False) -> Iterator[None]:
        """One write: under the write lock, in a transaction whose fence is checked first,
        with a database that cannot be reached reported as StorageUnavailable."""
        transaction = self._statement_transaction if one_statement else self._transaction
        with self._write_lock, self._reachable(), transaction():
            self._check_fence()
            yield

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Writes the parts whose rows changed since the study's last snapshot, a few a
        transaction (events commit in between, so none waits for a whole large snapshot);
        then, in one transaction, the head into the snapshots table, which makes this
        snapshot the latest; then drops the study's parts it does not refer to. A save
        that stops halfway leaves the previous snapshot the latest, its parts intact."""
        self._finish_reading(snapshot.study)  # the parts it reads are what this save refers to
        known = self._parts.get(snapshot.study, {})
        parts: StoredParts = {}
        fresh: list[tuple[PartKey, PartRows]] = []
        # Numbers go on after any part an earlier save under this seq wrote and still refers to.
        number = max((n for _, (seq, n) in known.values() if seq == snapshot.seq), default=0)
        for where, rows in row_parts(snapshot):
            stored = known.get(where)
            if stored is not None and same_rows(stored[0], rows):
                key = stored[1]
            else:
                number += 1
                key = (snapshot.seq, number)
                fresh.append((key, rows))
            parts[where] = (rows, key)
        keys = [key for _, key in parts.values()]  # in the snapshot's order
        self._write_parts(snapshot.study, fresh)
        head = snapshot_head(snapshot, keys)
        with self._writing():
            self._writer.execute(
                self._sql("DELETE FROM {snapshots} WHERE study = ?"), (snapshot.study,)
            )
            self._writer.execute(
                self._sql("INSERT INTO {snapshots} (study, seq, state) VALUES (?, ?, ?)"),
                (snapshot.study, snapshot.seq, head),
            )
        self._parts[snapshot.study] = parts
        self._drop_parts(snapshot.study, set(keys))

    def _write_parts(self, study: str, fresh: list[tuple[PartKey, PartRows]]) -> None:
        self._in_transactions(
            self._sql(
                "INSERT INTO {parts} (study, seq, part, body) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (study, seq, part) DO UPDATE SET body = excluded.body"
            ),
            [(study, seq, number, chunk_text(rows)) for (seq, number), rows in fresh],
        )

    def _drop_parts(self, study: str, kept: set[PartKey]) -> None:
        """Deletes the study's parts not in `kept`, also any a save cut short left behind;
        after the head that stops referring to them, since freeing a part costs about as
        much as writing it (50 ms for 30 parts), and events wait for that transaction."""
        stored = self._read("SELECT seq, part FROM {parts} WHERE study = ?", (study,))
        self._in_transactions(
            self._sql("DELETE FROM {parts} WHERE study = ? AND seq = ? AND part = ?"),
            [(study, seq, part) for seq, part in stored if (seq, part) not in kept],
        )

    def _in_transactions(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        """Runs `statement` for each row of parameters, PARTS_PER_TRANSACTION rows a
        transaction, with a pause after each."""
        for start in range(0, len(rows), PARTS_PER_TRANSACTION):
            with self._writing():
                self._writer.cursor().executemany(
                    statement, rows[start : start + PARTS_PER_TRANSACTION]
                )
            # A lock is not fair: without a pause, this thread would take it again for the next
            # batch before the commit thread waiting for it woke up, and starve every call.
            time.sleep(PART_PAUSE_SECONDS)

    def _finish_reading(self, study: str) -> None:
        """Waits for the rows of the study's latest snapshot if they are still being read
        (latest_snapshot): reading them sets the parts a save may refer to."""
        reading = self._reading.pop(study, None)
        if reading is not None:
            reading.wait()

    def delete(self, study: str) -> None:
        self._finish_reading(study)
        with self._writing():  # events and snapshot go together
            self._writer.execute(self._sql("DELETE FROM {events} WHERE study = ?"), (study,))
            self._writer.execute(self._sql("DELETE FROM {snapshots} WHERE study = ?"), (study,))
            self._writer.execute(self._sql("DELETE FROM {parts} WHERE study = ?"), (study,))
        self._parts.pop(study, None)

    # ------------------------------------------------------------ reads

    def _read(self, text: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._read_lock, self._reachable():
            return self._read_cursor().execute(self._sql(text), params).fetchall()

    def _reachable(self) -> AbstractContextManager[Any]:
        """Around every read and write: turns the driver's errors for a database that cannot
        be reached, or written now, into StorageUnavailable, which callers may retry."""
        return nullcontext()

    def _read_cursor(self) -> Any:
        return self._reader.cursor()

    def studies(self) -> list[str]:
        # Answered from CREATED_INDEX: a scan of every event took 0.4 s at 3.8 million.
        return [r[0] for r in self._read("SELECT study FROM {events} WHERE seq = 1 ORDER BY id", ())]

    def events(self, study: str, after: int = 0, limit: int | None = None) -> Iterator[Event]:
        rows = self._read(
            "SELECT seq, kind, payload FROM {events} WHERE study = ? AND seq > ? ORDER BY seq"
            " LIMIT ?",
            (study, after, self._no_limit() if limit is None else limit),
        )
        return (Event(study, seq, kind, json.loads(body)) for seq, kind, body in rows)

    def find_request(self, study: str, request_id: str) -> Event | None:
        rows = self._read(
            # No ORDER BY: with one, the planner walks the (study, seq) index instead.
            "SELECT seq, kind, payload FROM {events}"
            " WHERE study = ? AND kind = 'suggest' AND {request_id} = ?",
            (study, request_id),
        )
        return first_event(study, rows)

    def latest_snapshot(self, study: str) -> Snapshot | None:
        """The latest snapshot; its rows are still being read when it is returned
        (storage.PendingRows), so the restore loads its state meanwhile. (Reading the parts
        on a connection of their own while the head is read was slower: 2.7-3.1 s against
        2.2-2.7 s to restart at a million trials on PostgreSQL, two cores.)"""
        rows = self._read("SELECT seq, state FROM {snapshots} WHERE study = ?", (study,))
        if not rows:
            return None
        seq, head = rows[0]

        def bodies() -> dict[PartKey, str]:
            return {
                (s, n): body
                for s, n, body in self._read(
                    "SELECT seq, part, body FROM {parts} WHERE study = ?", (study,)
                )
            }

        def keep(parts: StoredParts) -> None:
            self._parts[study] = parts  # the next save refers to what is unchanged

        snapshot = decode_snapshot_reading_rows(study, seq, head, bodies, keep)
        if isinstance(snapshot.rows, PendingRows):
            self._reading[study] = snapshot.rows
        return snapshot

    @staticmethod
    def _no_limit() -> Any:
        """The LIMIT value that means no limit."""
        return None

    def close(self) -> None:
        with self._write_lock, self._read_lock:
            self._writer.close()
            self._reader.close()


class SqliteJournal(SqlJournal):
    """The journal in one SQLite file (stdlib sqlite3, WAL mode, synchronous=FULL:
    a transaction is on disk when its commit returns)."""

    EVENTS, SNAPSHOTS, PARTS = "events", "snapshots", "snapshot_parts"
    remote = False
    REQUEST_ID = "json_extract(payload, '$.request_id')"
    UNIQUE_VIOLATION = sqlite3.IntegrityError

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        writer = self._connect()
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA synchronous=FULL")
        writer.execute(
            "CREATE TABLE IF NOT EXISTS events ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " study TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,"
            " payload TEXT NOT NULL, UNIQUE (study, seq))"
        )
        writer.execute(
            "CREATE TABLE IF NOT EXISTS snapshots ("
            " study TEXT PRIMARY KEY, seq INTEGER NOT NULL, state TEXT NOT NULL)"
        )
        writer.execute(
            "CREATE TABLE IF NOT EXISTS snapshot_parts ("
            " study TEXT NOT NULL, seq INTEGER NOT NULL, part INTEGER NOT NULL,"
            " body TEXT NOT NULL, PRIMARY KEY (study, seq, part))"
        )
        writer.execute(
            "CREATE INDEX IF NOT EXISTS events_by_request"
            f" ON events (study, {self.REQUEST_ID}) WHERE kind = 'suggest'"
        )
        writer.execute(
            "CREATE INDEX IF NOT EXISTS events_created " + CREATED_INDEX.format(events="events")
        )
        super().__init__(writer, self._connect())

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA busy_timeout=5000")
        return db

    def _transaction(self) -> AbstractContextManager[Any]:
        self._writer.execute("BEGIN")
        return self._writer  # commits on leaving, rolls back on an exception

    def _statement_transaction(self) -> AbstractContextManager[Any]:
        """None: a statement is a transaction of its own here (autocommit), and SQLite
        journals are not fenced (one server a file: journals.hold_sqlite_file)."""
        return nullcontext()

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """A full disk, an I/O error or a file another process keeps locked: the write
        (or read) may succeed later, so callers hear UNAVAILABLE and retry."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in TRANSIENT_SQLITE_ERRORS:
                raise
            raise StorageUnavailable(
                f"the SQLite journal cannot be written now: {exc} ({exc.sqlite_errorname})"
            ) from exc

    @staticmethod
    def _no_limit() -> Any:
        return -1
