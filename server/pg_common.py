"""What the PostgreSQL journal (storage_pg.py) and leader election (leadership.py) share.

The tables each creates where missing, the leader's one-row table among them
(the journal's writes check its fencing token), and how PostgreSQL's refusals
are put in a log line or an error message.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

LEADER_TABLE = (
    "rung_leader",
    "CREATE TABLE rung_leader ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " token BIGINT NOT NULL, holder TEXT NOT NULL, since TIMESTAMPTZ)",
)


# What an operator can do about PostgreSQL's refusals that rung meets (by SQLSTATE).
REFUSAL_HINTS = {
    "42501": "the role needs CREATE on the schema, or to own the database, the first time,"
    " when rung makes its tables, and SELECT, INSERT, UPDATE and DELETE on them",
    "25006": "the server is read-only, a replica perhaps: point --db at the primary",
}


def refusal_hint(exc: psycopg.Error) -> str:
    """' (what to do)' for a refusal with a known remedy, else ''."""
    hint = REFUSAL_HINTS.get(exc.sqlstate or "")
    return f" ({hint})" if hint else ""


def first_line(exc: Exception) -> str:
    """A driver error's first line: enough for a log line or a status message."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def create_missing(conn: psycopg.Connection, relations: Iterable[tuple[str, str]]) -> None:
    """Runs each (name, CREATE statement) whose table or index does not exist yet. Asking
    first lets a role that may only read and write tables made beforehand run rung:
    PostgreSQL checks CREATE on the schema even for CREATE ... IF NOT EXISTS."""
    for name, create in relations:
        if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0] is None:
            conn.execute(create)


def create_leader_table(conn: psycopg.Connection) -> None:
    create_missing(conn, [LEADER_TABLE])
    conn.execute(
        "INSERT INTO rung_leader (id, token, holder) VALUES (1, 0, '') ON CONFLICT DO NOTHING"
    )
