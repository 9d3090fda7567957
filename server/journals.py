"""Which journal `rung serve --db TARGET` opens.

A plain path is a SQLite file (the default); `postgresql://` (or `postgres://`)
is a PostgreSQL database. Any other URL is refused instead of being taken for
a file name (which would silently create a folder called `mysql:`).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .sql_journal import SqliteJournal
from .storage import Journal

POSTGRES_SCHEMES = ("postgresql", "postgres")
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


class UnsupportedDatabase(ValueError):
    """--db names a URL scheme rung cannot store a journal in."""


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


def open_journal(target: str) -> Journal:
    check_target(target)
    if is_postgres(target):
        from .storage_pg import PostgresJournal  # psycopg is only needed here

        return PostgresJournal(target)
    return SqliteJournal(Path(target))


def redact(target: str) -> str:
    """The target with any password replaced, fit for logs and error messages."""
    if _scheme(target) is None:
        return target
    parts = urlsplit(target)
    if parts.password is None:
        return target
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _scheme(target: str) -> str | None:
    match = _URL_SCHEME.match(target)
    return match.group(1).lower() if match else None
