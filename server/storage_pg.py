"""The journal in a PostgreSQL database (psycopg 3).

Same contract and statements as `SqliteJournal` (sql_journal.py): `append`
returns once the event is committed (PostgreSQL's default
`synchronous_commit=on` waits for the WAL flush), so an acknowledged RPC
survives a crash of the server or of the database. Payloads are stored as the
exact JSON text the SQLite journal stores, so both backends hand back identical
events.

Several `rung serve` processes may share one database (leadership.py): a
journal opened with a fencing token writes only while that token is the
current one, checked in the same transaction as the write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors

from rung.core.errors import NotActive, StorageUnavailable

from .pg_common import create_leader_table, create_missing, first_line, refusal_hint
from .sql_journal import CREATED_INDEX, SqlJournal

REQUEST_ID = "(payload::jsonb ->> 'request_id')"  # the index's expression, exactly
SCHEMA = (  # (name, statement), created where missing (pg_common.create_missing)
    ("rung_events", "CREATE TABLE rung_events ("
     " id BIGSERIAL PRIMARY KEY,"
     " study TEXT NOT NULL, seq BIGINT NOT NULL, kind TEXT NOT NULL,"
     " payload TEXT NOT NULL, UNIQUE (study, seq))"),
    ("rung_snapshots", "CREATE TABLE rung_snapshots ("
     " study TEXT PRIMARY KEY, seq BIGINT NOT NULL, state TEXT NOT NULL)"),
    ("rung_snapshot_parts", "CREATE TABLE rung_snapshot_parts ("
     " study TEXT NOT NULL, seq BIGINT NOT NULL, part INTEGER NOT NULL,"
     " body TEXT NOT NULL, PRIMARY KEY (study, seq, part))"),
    ("rung_events_by_request", "CREATE INDEX rung_events_by_request"
     f" ON rung_events (study, ({REQUEST_ID})) WHERE kind = 'suggest'"),
    ("rung_events_created",
     "CREATE INDEX rung_events_created " + CREATED_INDEX.format(events="rung_events")),
)


# Snapshot text is compressed with lz4 where PostgreSQL has it (14 and later, built with lz4, as
# Debian's is). The 320 MB of rows of a 1,000,000-trial snapshot: written in 1.33 s instead of
# 1.58 s uncompressed, read in 0.47-0.52 s instead of 0.55 s, stored in 154 MB instead of
# 318 MB. PostgreSQL's default compression (pglz) is slower both ways (saving 56 MB took
# 0.98 s instead of 0.26 s, reading it 0.13 s instead of 0.08 s), so without lz4 the text is
# stored uncompressed. Set after creation: PostgreSQL before 16 has no STORAGE clause in
# CREATE TABLE.
SNAPSHOT_TEXT = (("rung_snapshots", "state"), ("rung_snapshot_parts", "body"))


def _store_snapshot_text(conn: psycopg.Connection) -> None:
    """Inside a transaction: lz4 for the snapshots' text columns, else no compression; each
    set once (ALTER TABLE waits for every transaction on the table)."""
    lz4 = _has_lz4(conn)
    for table, column in SNAPSHOT_TEXT:
        storage, compression = conn.execute(
            "SELECT attstorage, " + ("attcompression" if lz4 else "''")
            + " FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
            (table, column),
        ).fetchone()
        if lz4 and compression != "l":
            conn.execute(
                f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE EXTENDED,"
                f" ALTER COLUMN {column} SET COMPRESSION lz4"
            )
        elif not lz4 and storage != "e":
            conn.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE EXTERNAL")


def _has_lz4(conn: psycopg.Connection) -> bool:
    """Whether this PostgreSQL compresses with lz4 (14 and later, when built with it)."""
    try:
        with conn.transaction():  # a savepoint: a refusal leaves the caller's transaction usable
            conn.execute("SET LOCAL default_toast_compression = 'lz4'")
    except psycopg.Error:
        return False
    return True


class PostgresJournal(SqlJournal):
    """Events in table `rung_events` of the database at `url` (postgresql://...).

    With a `fence` token every write first checks, under a share lock of the
    `rung_leader` row, that the token is still current; otherwise it raises
    NotActive and writes nothing.
    """

    EVENTS, SNAPSHOTS, PARTS = "rung_events", "rung_snapshots", "rung_snapshot_parts"
    remote = True
    REQUEST_ID = REQUEST_ID
    UNIQUE_VIOLATION = errors.UniqueViolation
    PARAM = "%s"

    def __init__(self, url: str, fence: int | None = None):
        self.url = url
        self.fence = fence
        self._writer_read_only = False  # replaced before the next write
        with self._reachable():  # e.g. the role's connection limit: StorageUnavailable
            writer = psycopg.connect(url, autocommit=True)
            # Concurrent first starts of several servers may race on CREATE TABLE IF NOT
            # EXISTS; an advisory lock held for the transaction serializes them.
            with writer.transaction():
                writer.execute("SELECT pg_advisory_xact_lock(hashtext('rung_schema'))")
                create_missing(writer, SCHEMA)
                _store_snapshot_text(writer)
                create_leader_table(writer)
            reader = psycopg.connect(url, autocommit=True)
        super().__init__(writer, reader)

    def _read_cursor(self) -> psycopg.Cursor[Any]:
        if self._reader.broken:
            self._reader = psycopg.connect(self.url, autocommit=True)
        # Results in PostgreSQL's binary format: text arrives as the same bytes, numbers
        # unparsed. Reading a million trials' snapshot (370 MB) took 0.59-0.99 s instead of
        # 0.74-1.14 s this way.
        return self._reader.cursor(binary=True)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """A write's transaction, on a new connection if the last one broke (PostgreSQL
        restarted, the network was cut) or reached a server that is now read-only (a
        managed database's failover demoted it; a new connection finds the primary): the
        fence check makes that safe."""
        if self._writer.broken or self._writer_read_only:
            self._writer.close()
            self._writer = psycopg.connect(self.url, autocommit=True)
            self._writer_read_only = False
        try:
            with self._writer.transaction():
                yield
        except errors.ReadOnlySqlTransaction:
            self._writer_read_only = True
            raise

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """Errors an operator or the database's own recovery can end (an outage, revoked
        privileges, a read-only server) as StorageUnavailable: calls answer UNAVAILABLE,
        which workers retry, and the retry succeeds once the cause is gone."""
        try:
            yield
        except psycopg.OperationalError as exc:  # a restart, a cut network, a timeout
            raise StorageUnavailable(
                f"the PostgreSQL journal cannot be reached: {first_line(exc)}"
            ) from exc
        except (errors.InsufficientPrivilege, errors.ReadOnlySqlTransaction) as exc:
            raise StorageUnavailable(
                f"the PostgreSQL journal refuses rung: {first_line(exc)}{refusal_hint(exc)}"
            ) from exc

    def _check_fence(self) -> None:
        """Inside a write's transaction: refuses it unless our token is current."""
        if self.fence is None:
            return
        row = self._writer.execute(
            "SELECT token FROM rung_leader WHERE id = 1 FOR SHARE"
        ).fetchone()
        if row is None or row[0] != self.fence:
            raise NotActive(
                f"this server's fencing token {self.fence} is stale (current: "
                f"{row[0] if row else None}): another server is active; nothing was written"
            )
