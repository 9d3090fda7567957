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
own (storage_pg.PostgresJournal; the table is made in pg_common.py). Taking over updates the row, which waits for
writes in flight under the old token and makes every later one fail: the new
leader replays a journal nobody else can still change.
"""

from __future__ import annotations

import logging
import math
import threading
import time

import psycopg

from .database import DEFAULT_DB_WAIT, DatabaseRefused, DatabaseUnreachable, redact
from .pg_common import create_leader_table, first_line, refusal_hint


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

# Seconds between attempts to reach PostgreSQL, the last one repeated: a refused connection
# costs nothing, and a standby waiting for the database to come back takes over sooner.
RECONNECT_DELAYS = (0.1, 0.25, 0.5)
REPEAT_WARNING_SECONDS = 10.0  # while it cannot, the log says so this often, not each time


def _lock_session(url: str) -> psycopg.Connection:
    """A connection for the advisory lock, with keepalives on both sides: PostgreSQL drops
    it, and releases the lock, within seconds of its machine vanishing."""
    conn = psycopg.connect(url, autocommit=True, **KEEPALIVES)
    try:
        conn.execute("SET tcp_keepalives_idle = 2")
        conn.execute("SET tcp_keepalives_interval = 1")
        conn.execute("SET tcp_keepalives_count = 3")
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('rung_schema'))")
            create_leader_table(conn)
    except BaseException:
        conn.close()
        raise
    return conn


class Leadership:
    """Campaigns for the advisory lock; once held, knows its fencing token.

    While it stands by, the database may restart or become unreachable: the
    campaign then reconnects and goes on, so a standby outlives a PostgreSQL
    restart and takes the lead the active server lost with it. Before its
    first connection it waits `first_connect_wait` seconds at most: a database
    still starting is waited for, a wrong host or password is reported."""

    def __init__(
        self, url: str, address: str, first_connect_wait: float = DEFAULT_DB_WAIT
    ):
        self.url = url
        self.address = address
        self.token: int | None = None
        self._conn: psycopg.Connection | None = None  # the lock session, once connected
        self._first_connect_by: float | None = time.monotonic() + first_connect_wait
        self._first_connect_wait = first_connect_wait

    def holder(self) -> str:
        """The address the active server announced ('' if none ever did, or if the database
        cannot be asked now: a standby's refusals must not fail with it)."""
        conn = self._conn
        if conn is None:
            return ""
        try:
            row = conn.execute("SELECT holder FROM rung_leader WHERE id = 1").fetchone()
        except psycopg.Error:
            return ""
        return row[0] if row else ""

    def campaign(self, stop: threading.Event, poll_seconds: float = POLL_SECONDS) -> int | None:
        """Waits until this server holds the lock; returns its new fencing token
        (None if `stop` was set first)."""
        while not stop.is_set():
            conn = self._connected(stop)
            if conn is None:
                return None
            try:
                if conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
                    row = conn.execute(
                        "UPDATE rung_leader SET token = token + 1, holder = %s, since = now()"
                        " WHERE id = 1 RETURNING token",
                        (self.address,),
                    ).fetchone()
                    self.token = int(row[0])
                    log.info("active: took the lead", extra={"token": self.token})
                    return self.token
            except psycopg.OperationalError as exc:  # the session ended, and any lock with it
                log.warning("standing by: lost the connection to PostgreSQL: %s", first_line(exc))
                self._disconnect()
                continue
            stop.wait(poll_seconds)
        return None

    def try_connect(self) -> None:
        """One attempt at the lock session, made before the server announces itself: with
        the database up, its refusals name the active server from the first call on.
        A failure is left to the campaign, which retries and says why."""
        if self._conn is None:
            self._open()

    def _connected(self, stop: threading.Event) -> psycopg.Connection | None:
        """The lock session, opened if there is none: while PostgreSQL cannot be reached (it
        restarts, the network is cut, it is not up yet) retries, saying why each time, with
        a growing delay. None if `stop` is set first."""
        failures, said_at = 0, -math.inf
        while self._conn is None and (error := self._open()) is not None:
            delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
            failures += 1
            if self._first_connect_by is not None:
                left = self._first_connect_by - time.monotonic()
                if left <= 0:
                    raise DatabaseUnreachable(
                        f"cannot reach PostgreSQL at {redact(self.url)} after "
                        f"{self._first_connect_wait:g} s: {first_line(error)}"
                    )
                delay = min(delay, left)
            if time.monotonic() - said_at >= REPEAT_WARNING_SECONDS:
                said_at = time.monotonic()
                log.warning(
                    "cannot reach PostgreSQL (attempt %d; retrying every %.2g s): %s",
                    failures, RECONNECT_DELAYS[-1], first_line(error),
                )
            if stop.wait(delay):
                return None
        return self._conn

    def _open(self) -> psycopg.OperationalError | None:
        """One attempt at the lock session; the error if PostgreSQL could not be reached.
        Raises DatabaseRefused if it was reached and refused (privileges, read-only)."""
        try:
            self._conn = _lock_session(self.url)
        except psycopg.OperationalError as exc:
            return exc
        except psycopg.Error as exc:  # it answered, and said no: retrying would not help
            raise DatabaseRefused(
                f"PostgreSQL at {redact(self.url)} refuses what rung needs: "
                f"{first_line(exc)}{refusal_hint(exc)}"
            ) from None
        self._first_connect_by = None  # from now on, outages are waited out
        active = self.holder() or None
        log.info("standing by", extra={"address": self.address, "active": active})
        return None

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def watch(
        self, lost: threading.Event, stop: threading.Event, poll_seconds: float = 1.0
    ) -> None:
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
        if self._conn is None:
            return False
        try:
            row = self._conn.execute("SELECT token FROM rung_leader WHERE id = 1").fetchone()
        except psycopg.Error:
            return False
        return row is not None and row[0] == self.token

    def close(self) -> None:
        self._disconnect()  # ends the session: the lock is released at once
