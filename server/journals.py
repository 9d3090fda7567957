"""Which journal `rung serve --db TARGET` opens: a SQLite file or a PostgreSQL database.

What the target means, and the errors a starting server reports, live in
database.py (re-exported here); holding a SQLite file for one server lives here.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path
from typing import IO

from .database import (
    DEFAULT_DB_WAIT,
    POSTGRES_SCHEMES,
    DatabaseInUse,
    DatabaseRefused,
    DatabaseUnreachable,
    UnsupportedDatabase,
    canonical,
    check_target,
    is_postgres,
    redact,
)
from .sql_journal import SqliteJournal
from .storage import Journal

__all__ = [
    "DEFAULT_DB_WAIT", "POSTGRES_SCHEMES", "DatabaseInUse", "DatabaseRefused", "DatabaseUnreachable",
    "UnsupportedDatabase", "canonical", "check_target", "hold_sqlite_file", "is_postgres",
    "open_journal", "redact",
]


def hold_sqlite_file(path: str) -> IO[str]:
    """Makes this process the only `rung serve` on the SQLite file at `path`.

    Two servers on one file would each decide from their own memory and refuse
    each other's writes. The lock (flock on `<path>.lock`, which names the holder)
    ends with the process however it ends, SIGKILL included; keep the returned
    file open while serving."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)  # as SqliteJournal would
        lock = open(f"{path}.lock", "a+")
    except OSError as exc:
        raise DatabaseUnreachable(f"cannot open {path}.lock beside the journal: {exc}") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "a process"
        lock.close()
        raise DatabaseInUse(
            f"{path} is in use by another rung serve ({holder}): one server per SQLite "
            "file. Stop that one first, or use PostgreSQL to run several (one active, "
            "the others standing by)"
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()}\n")
    lock.flush()
    return lock


def open_journal(target: str) -> Journal:
    check_target(target)
    if is_postgres(target):
        from .storage_pg import PostgresJournal  # psycopg is only needed here

        return PostgresJournal(target)
    try:
        return SqliteJournal(Path(target))
    except (sqlite3.Error, OSError) as exc:  # a folder, no permission, not a database
        raise DatabaseUnreachable(f"cannot open the SQLite journal {target}: {exc}") from None
