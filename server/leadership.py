"""One active `rung serve` per PostgreSQL database; the others stand by.

The active server is the one holding a PostgreSQL session-level advisory
lock. PostgreSQL releases the lock when that session ends (the process died,
its machine is gone: TCP keepalives below find out within seconds), and a
standby polling `pg_try_advisory_lock` takes it over.

A lock alone is not enough: an old leader that was paused or cut off from the
database may still hold a journal connection and try to write after a new
leader took over. So every new leader increments a fencing token in the
one-row table `rung_leader`, and every journal write checks, in its own
transaction and under a share lock of that row, that the token is still its
own (storage_pg.PostgresJournal). Taking over updates the row, which waits for
writes in flight under the old token and makes every later one fail: the new
leader replays a journal nobody else can still change.
"""

from __future__ import annotations

import logging
import threading

import psycopg


log = logging.getLogger("rung.server")

LOCK_KEY = 0x72756E67  # "rung"
# A standby asks for the lock this often: a query of a fraction of a millisecond, and the
# larger part of a failover's time when it was 0.5 s.
POLL_SECONDS = 0.1
# The leader's lock session: PostgreSQL probes an idle client after 2 s and drops it
# after 3 unanswered probes 1 s apart, releasing the lock of a vanished machine.
KEEPALIVES = {
    "keepalives": 1, "keepalives_idle": 2, "keepalives_interval": 1, "keepalives_count": 3
}
LEADER_TABLE = (
    "CREATE TABLE IF NOT EXISTS rung_leader ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " token BIGINT NOT NULL, holder TEXT NOT NULL, since TIMESTAMPTZ)"
)


def create_leader_table(conn: psycopg.Connection) -> None:
    conn.execute(LEADER_TABLE)
    conn.execute(
        "INSERT INTO rung_leader (id, token, holder) VALUES (1, 0, '') ON CONFLICT DO NOTHING"
    )


class Leadership:
    """Campaigns for the advisory lock; once held, knows its fencing token."""

    def __init__(self, url: str, address: str):
        self.address = address
        self.token: int | None = None
        self._conn = psycopg.connect(url, autocommit=True, **KEEPALIVES)
        # The server side of the same session: probe a silent client, drop it if it is gone.
        self._conn.execute("SET tcp_keepalives_idle = 2")
        self._conn.execute("SET tcp_keepalives_interval = 1")
        self._conn.execute("SET tcp_keepalives_count = 3")
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('rung_schema'))")
            create_leader_table(self._conn)

    def holder(self) -> str:
        """The address the active server announced ('' if none ever did)."""
        row = self._conn.execute("SELECT holder FROM rung_leader WHERE id = 1").fetchone()
        return row[0] if row else ""

    def campaign(self, stop: threading.Event, poll_seconds: float = POLL_SECONDS) -> int | None:
        """Waits until this server holds the lock; returns its new fencing token
        (None if `stop` was set first)."""
        while not stop.is_set():
            if self._conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
                row = self._conn.execute(
                    "UPDATE rung_leader SET token = token + 1, holder = %s, since = now()"
                    " WHERE id = 1 RETURNING token",
                    (self.address,),
                ).fetchone()
                self.token = int(row[0])
                log.info("active: took the lead", extra={"token": self.token})
                return self.token
            stop.wait(poll_seconds)
        return None

    def watch(self, lost: threading.Event, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        """Sets `lost` and `stop` when the lock's session is gone (or another server took
        the lead): the server then stops; its writes were refused from that moment anyway."""

        def run() -> None:
            while not stop.wait(poll_seconds):
                if not self._still_leading():
                    log.error("lost the lead: this server stops serving")
                    lost.set()
                    stop.set()
                    return

        threading.Thread(target=run, name="rung-leadership", daemon=True).start()

    def _still_leading(self) -> bool:
        try:
            row = self._conn.execute("SELECT token FROM rung_leader WHERE id = 1").fetchone()
        except psycopg.Error:
            return False
        return row is not None and row[0] == self.token

    def close(self) -> None:
        self._conn.close()  # ends the session: the lock is released at once
