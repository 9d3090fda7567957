"""What `rung serve --db TARGET` names, and how a starting server says it cannot use it.

A plain path is a SQLite file (the default); `postgresql://` (or `postgres://`)
is a PostgreSQL database. Any other URL is refused instead of being taken for
a file name (which would silently create a folder called `mysql:`). Passwords
never reach a log line or an error message (`redact`).
"""

from __future__ import annotations

import re

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


def redact(target: str) -> str:
    """The target with any password (in the user part or a `password=` parameter) replaced,
    fit for logs and error messages; never raises, even for a URL that does not parse."""
    if _scheme(target) is None:
        return target
    return _PASSWORD_PARAMETER.sub(r"\1***", _USER_PASSWORD.sub(r"\1:***@", target, count=1))


def _scheme(target: str) -> str | None:
    match = _URL_SCHEME.match(target)
    return match.group(1).lower() if match else None
