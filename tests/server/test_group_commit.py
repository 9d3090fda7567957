"""Group commit as calls on an event loop use it: awaiting tickets, one batch per loop turn."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from prometheus_client import CollectorRegistry

from rung.server.group_commit import Committer, Ticket
from rung.server.storage import Event, MemoryJournal

T = TypeVar("T")


class RecordingJournal(MemoryJournal):
    """Remembers each batch's size; `gate` (when set) holds writes until it is set, and
    each write takes at least `write_seconds`."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.gate: threading.Event | None = None
        self.write_seconds = 0.0

    def append_many(self, events: list[Event]) -> None:
        if self.gate is not None:
            self.gate.wait(10)
        time.sleep(self.write_seconds)
        super().append_many(events)
        self.batches.append(len(events))


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """asyncio.run on a thread of its own: the browser tests' driver keeps a loop running
    on the main thread, where asyncio.run refuses to start another."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(lambda: asyncio.run(main())).result()


def events(study: str, first_seq: int, n: int) -> list[Event]:
    return [Event(study, first_seq + i, "report", {"i": i}) for i in range(n)]


def committer(journal: RecordingJournal) -> Committer:
    journal.append(Event("s", 1, "created", {}))
    return Committer(journal, on_durable=lambda study, seq: None, on_failure=lambda s, e: None)


def scraped(commits: Committer) -> CollectorRegistry:
    """Its metrics, as the server's endpoint would serve them."""
    registry = CollectorRegistry()
    for collector in commits.metrics.collectors():
        registry.register(collector)
    return registry


def test_calls_queued_in_one_loop_turn_share_one_batch_and_await_it() -> None:
    journal = RecordingJournal()
    commits = committer(journal)

    async def calls() -> list[Ticket]:
        tickets = [commits.submit(event) for event in events("s", 2, 20)]  # one turn
        await asyncio.gather(*(ticket.durable() for ticket in tickets))
        return tickets

    tickets = run(calls)
    commits.close()
    assert journal.batches == [20]
    assert all(ticket.done for ticket in tickets)
    assert [e.seq for e in journal.events("s")] == list(range(1, 22))


def test_a_failed_write_fails_every_awaiting_call_and_is_counted() -> None:
    journal = RecordingJournal()
    commits = committer(journal)

    async def call() -> None:
        await commits.submit(Event("s", 1, "report", {})).durable()  # seq 1 exists already

    with pytest.raises(Exception, match="1"):
        run(call)
    commits.close()
    value = scraped(commits).get_sample_value
    assert value("rung_journal_failed_commits_total") == 1
    assert value("rung_journal_events_total") == 0
    assert value("rung_journal_commit_seconds_count") == 0


def test_a_thread_blocked_on_a_ticket_is_not_left_waiting_for_the_loop_turn_to_end() -> None:
    """A thread may block on a ticket queued by a loop call (a snapshot waiting, holding the
    study's lock) while the loop waits for that thread (for the same lock): the blocked
    thread must get the commit written itself, or neither ever goes on."""
    journal = RecordingJournal()
    commits = committer(journal)
    written = threading.Event()

    async def call() -> None:
        ticket = commits.submit(Event("s", 2, "report", {}))
        waiter = threading.Thread(target=lambda: (ticket.wait(), written.set()))
        waiter.start()
        waiter.join(5)  # blocks the loop, as a lock held by the waiting thread would
        assert written.is_set()

    run(call)
    commits.close()


def test_a_ticket_settled_while_it_is_being_awaited_from_another_thread_resolves() -> None:
    """The commit thread may settle a ticket between the loop's check and its wait."""
    journal = RecordingJournal()
    journal.gate = threading.Event()
    commits = committer(journal)

    async def call() -> None:
        ticket = commits.submit(Event("s", 2, "report", {}))
        asyncio.get_running_loop().call_later(0.05, journal.gate.set)
        await asyncio.wait_for(ticket.durable(), 10)
        assert ticket.done

    run(call)
    commits.close()
    assert journal.batches == [1]


def test_metrics_count_batches_and_time_the_write_and_each_call_s_wait() -> None:
    journal = RecordingJournal()
    journal.write_seconds = 0.05
    commits = committer(journal)
    registry = scraped(commits)

    async def calls() -> None:
        tickets = [commits.submit(event) for event in events("s", 2, 20)]
        # Handed over only when this loop turn ends.
        assert registry.get_sample_value("rung_journal_queued_events") == 20
        await asyncio.gather(*(ticket.durable() for ticket in tickets))

    run(calls)
    commits.close()
    value = registry.get_sample_value
    assert value("rung_journal_events_total") == 20
    assert value("rung_journal_commit_seconds_count") == 1
    assert value("rung_journal_commit_seconds_sum") >= 0.05
    assert value("rung_journal_commit_seconds_bucket", {"le": "0.025"}) == 0
    assert value("rung_journal_wait_seconds_count") == 20
    # Each event was queued before its write began, so waited at least that long.
    assert value("rung_journal_wait_seconds_sum") >= 20 * value("rung_journal_commit_seconds_sum")
    assert value("rung_journal_failed_commits_total") == 0
    assert value("rung_journal_queued_events") == 0

