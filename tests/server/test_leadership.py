"""Leadership on a real PostgreSQL: one holder of the lock at a time, and a fenced old
leader whose journal connection survived cannot write after a new one took over."""

from __future__ import annotations

import threading

import psycopg
import pytest

from rung.core.errors import NotActive, StorageUnavailable
from rung.server.journals import DatabaseUnreachable
from rung.server.leadership import Leadership
from rung.server.storage import Event, Snapshot
from rung.server.storage_pg import PostgresJournal


def _campaign_briefly(leadership: Leadership) -> int | None:
    """One campaign that gives up after a few polls."""
    stop = threading.Event()
    timer = threading.Timer(1.0, stop.set)
    timer.start()
    try:
        return leadership.campaign(stop, poll_seconds=0.1)
    finally:
        timer.cancel()


def test_a_fenced_old_leader_cannot_write(postgres_url: str) -> None:
    old = Leadership(postgres_url, "host-a:1")
    token = old.campaign(threading.Event())
    old_journal = PostgresJournal(postgres_url, fence=token)
    old_journal.append(Event("s", 1, "created", {"at": 1.0}))

    new = Leadership(postgres_url, "host-b:2")
    assert _campaign_briefly(new) is None  # the lock is held: no second leader
    assert new.holder() == "host-a:1"

    # The old leader's lock session is cut (its machine vanished, a partition): its
    # journal connection lives on, as a paused process's would.
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (old._conn.info.backend_pid,))
    new_token = _campaign_briefly(new)
    assert new_token is not None and new_token > token
    assert new.holder() == "host-b:2"

    for write in (
        lambda: old_journal.append(Event("s", 2, "stop", {})),
        lambda: old_journal.save_snapshot(Snapshot("s", 1, {})),
        lambda: old_journal.delete("s"),
    ):
        with pytest.raises(NotActive, match="stale"):
            write()
    assert not old._still_leading()

    new_journal = PostgresJournal(postgres_url, fence=new_token)
    assert [e.seq for e in new_journal.events("s")] == [1]  # nothing of the old one's slipped in
    new_journal.append(Event("s", 2, "stop", {}))
    assert [e.kind for e in new_journal.events("s")] == ["created", "stop"]
    for closable in (old_journal, new_journal, new):
        closable.close()


def test_closing_the_leader_hands_the_lead_on(postgres_url: str) -> None:
    first = Leadership(postgres_url, "a:1")
    assert first.campaign(threading.Event()) == 1
    first.close()
    second = Leadership(postgres_url, "b:2")
    assert second.campaign(threading.Event()) == 2
    second.close()


def test_a_leader_whose_lock_session_is_cut_notices_and_stops(postgres_url: str) -> None:
    leader = Leadership(postgres_url, "a:1")
    leader.campaign(threading.Event())
    lost, stop = threading.Event(), threading.Event()
    leader.watch(lost, stop, poll_seconds=0.1)
    assert not lost.is_set()
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (leader._conn.info.backend_pid,))
    assert lost.wait(60) and stop.is_set()


def _cut(conn: psycopg.Connection, postgres_url: str) -> None:
    """Ends a connection's session from the server side, as a PostgreSQL restart does."""
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))


def test_a_standby_whose_session_is_cut_reconnects_and_still_takes_the_lead(
    postgres_url: str,
) -> None:
    leader = Leadership(postgres_url, "a:1")
    token = leader.campaign(threading.Event())
    standby = Leadership(postgres_url, "b:2")
    assert _campaign_briefly(standby) is None
    assert standby._conn is not None
    _cut(standby._conn, postgres_url)  # its next poll fails: it must reconnect, not crash
    assert _campaign_briefly(standby) is None
    assert standby.holder() == "a:1"
    leader.close()
    assert _campaign_briefly(standby) == token + 1
    standby.close()


def test_a_server_that_never_reaches_postgresql_gives_up_with_the_reason() -> None:
    unreachable = "postgresql://rung:s3cret@127.0.0.1:1/rung"  # nothing listens on port 1
    waiting = Leadership(unreachable, "a:1", first_connect_wait=0.3)
    assert waiting.holder() == ""  # a standby's refusals still answer
    with pytest.raises(DatabaseUnreachable, match="after 0.3 s: .*refused") as info:
        waiting.campaign(threading.Event())
    assert "s3cret" not in str(info.value)


def test_a_journal_whose_connections_were_cut_reports_unavailable_then_reconnects(
    postgres_url: str,
) -> None:
    journal = PostgresJournal(postgres_url)
    journal.append(Event("s", 1, "created", {"at": 1.0}))
    _cut(journal._writer, postgres_url)
    _cut(journal._reader, postgres_url)
    with pytest.raises(StorageUnavailable, match="cannot be reached"):
        journal.append(Event("s", 2, "stop", {}))  # on the broken connection: not written
    with pytest.raises(StorageUnavailable):
        list(journal.events("s"))
    journal.append(Event("s", 2, "stop", {}))  # a new connection, fence still checked
    assert [e.kind for e in journal.events("s")] == ["created", "stop"]
    journal.close()
