"""Which journal `rung serve --db TARGET` opens.

A plain path is a SQLite file (the default); `postgresql://` (or `postgres://`)
is a PostgreSQL database. Any other URL is refused instead of being taken for
a file name (which would silently create a folder called `mysql:`).
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
from pathlib import Path
from typing import IO

from .sql_journal import SqliteJournal
from .storage import Journal

POSTGRES_SCHEMES = ("postgresql", "postgres")
DEFAULT_DB_WAIT = 60.0  # seconds a starting server waits for PostgreSQL to answer
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_USER_PASSWORD = re.compile(r"^([^:]+://[^:@/?#]*):[^/?#]*@")  # to the last @ of the host part
_PASSWORD_PARAMETER = re.compile(r"([?&]password=)[^&#]*")


class UnsupportedDatabase(ValueError):
    """--db names a URL scheme rung cannot store a journal in."""


class DatabaseUnreachable(Exception):
    """A starting server cannot open its journal: PostgreSQL did not answer within its wait
    (leadership.py), or the SQLite file cannot be opened."""


class DatabaseRefused(Exception):
    """PostgreSQL answers but will not do what rung needs (a role without the privileges, a
    read-only server such as a replica): waiting would not help, so a starting server says
    so at once instead of retrying for `--db-wait` seconds."""


class DatabaseInUse(Exception):
    """Another `rung serve` holds the SQLite file: one server a file."""


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


def is_postgres(target: str) -> bool:
    return _scheme(target) in POSTGRES_SCHEMES


def check_target(target: str) -> None:
    """Raises UnsupportedDatabase for a URL that is neither a path nor PostgreSQL."""
    scheme = _scheme(target)
    if scheme is not None and scheme not in POSTGRES_SCHEMES:
        raise UnsupportedDatabase(
            f"--db {redact(target)!r}: unsupported URL scheme {scheme + '://'!r}; give a file "
            "path for SQLite or postgresql://user@host:5432/dbname for PostgreSQL"
        )
    if not target:
        raise UnsupportedDatabase("--db is empty: give a file path or a postgresql:// URL")
    if scheme is not None:
        _check_postgres_url(target)


def canonical(target: str) -> str:
    """The target as libpq takes it: a URL's scheme in lower case (it refuses POSTGRES://)."""
    scheme = _scheme(target)
    return target if scheme is None else scheme + target[len(scheme):]


def _check_postgres_url(target: str) -> None:
    """What libpq would refuse only when connecting, refused now: a server waiting for its
    database to come up would otherwise retry a typo for as long as it waits."""
    import psycopg  # only for PostgreSQL URLs: SQLite servers never need it

    try:
        options = psycopg.conninfo.conninfo_to_dict(canonical(target))
    except psycopg.ProgrammingError as exc:  # its message may quote the URL, password and all
        reason = str(exc).strip().replace(target, redact(target))
        raise UnsupportedDatabase(f"--db {redact(target)!r}: not a valid URL: {reason}") from None
    ports = str(options.get("port", "")).split(",")
    if not all(port.isdigit() for port in ports if port):
        raise UnsupportedDatabase(
            f"--db {redact(target)!r}: the port must be a number, not {options['port']!r}"
        )


def open_journal(target: str) -> Journal:
    check_target(target)
    if is_postgres(target):
        from .storage_pg import PostgresJournal  # psycopg is only needed here

        return PostgresJournal(target)
    try:
        return SqliteJournal(Path(target))
    except (sqlite3.Error, OSError) as exc:  # a folder, no permission, not a database
        raise DatabaseUnreachable(f"cannot open the SQLite journal {target}: {exc}") from None


def redact(target: str) -> str:
    """The target with any password (in the user part or a `password=` parameter) replaced,
    fit for logs and error messages; never raises, even for a URL that does not parse."""
    if _scheme(target) is None:
        return target
    return _PASSWORD_PARAMETER.sub(r"\1***", _USER_PASSWORD.sub(r"\1:***@", target, count=1))


def _scheme(target: str) -> str | None:
    match = _URL_SCHEME.match(target)
    return match.group(1).lower() if match else None
