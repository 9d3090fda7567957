"""Group commit: events that arrive together are made durable in one transaction.

The service decides under a study's lock and queues the event here; it
answers the RPC only once the event's ticket says it is durable, waiting
outside the lock, so other calls meanwhile decide and queue theirs. One
thread writes everything queued so far with `Journal.append_many` (one
transaction, one fsync), in queue order, so a study's events stay in sequence
order. A batch is all or nothing: if it fails, every ticket in it reports the
error and `on_failure` gets the studies involved (the service drops what they
queued since and reloads them from the journal).

A call answered on an event loop awaits its ticket (`Ticket.durable`) instead
of blocking a thread: the commit thread wakes each loop once per batch, not
once per call.

`CommitMetrics` says how that goes (batch sizes, write times, how long calls
wait for their commit), for the Prometheus endpoint: whether a slow call is
waiting for the database is read there, not guessed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from typing import Callable, Iterable

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.registry import Collector

from .storage import Event, Journal

log = logging.getLogger("rung.server")

MAX_BATCH = 512
# From a local SSD's fsync (0.1-1 ms) to a PostgreSQL far away or struggling (seconds).
SECONDS_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0, 2.5, 5.0)


def _nothing() -> None:
    pass


_BLOCKING = threading.Lock()  # gives a ticket its one threading.Event, for blocking waiters


class Ticket:
    """Becomes done once its event is durable, or failed with the write's exception.

    One per event, so it is cheap to make: a thread that blocks on it gets a
    `threading.Event` only then, and a call on an event loop awaits a future.
    """

    __slots__ = ("done", "error", "queued_at", "_awaiting", "_blocked", "_nudge")

    def __init__(self, nudge: Callable[[], None] = _nothing) -> None:
        self.done = False
        self.queued_at = time.perf_counter()
        self.error: BaseException | None = None
        self._awaiting: list[asyncio.Future[None]] = []  # of calls on event loops
        self._blocked: threading.Event | None = None
        self._nudge = nudge  # tells the commit thread that someone is blocked on this

    def settle(self, error: BaseException | None = None) -> list[asyncio.Future[None]]:
        """Marks it done; returns the futures awaiting it, for `wake` (once per batch).
        Waiters read `done` after registering, so one registered later sees it."""
        self.error = error
        self.done = True
        if self._blocked is not None:
            self._blocked.set()
        return self._awaiting

    def wait(self) -> None:
        """Blocks until settled; raises the write's exception if it failed."""
        if not self.done:
            with _BLOCKING:
                if self._blocked is None:
                    self._blocked = threading.Event()
                blocked = self._blocked
            if not self.done:
                self._nudge()  # its loop may be blocked too (on a lock this thread holds)
                blocked.wait()
        if self.error is not None:
            raise self.error

    async def durable(self) -> None:
        """`wait` for a call on an event loop: suspends it, holding no thread."""
        if not self.done:
            future = asyncio.get_running_loop().create_future()
            self._awaiting.append(future)
            if self.done:  # settled meanwhile: its settler may not have seen the future
                _resolve([future])
            await future
        if self.error is not None:
            raise self.error


DONE = Ticket()
DONE.settle()


def wake(futures: Iterable[asyncio.Future[None]]) -> None:
    """Resolves settled tickets' futures, from any thread: one hand-over per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = defaultdict(list)
    for future in futures:
        by_loop[future.get_loop()].append(future)
    for loop, waiting in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, waiting)
        except RuntimeError:  # the loop is closed: its server stopped, nobody waits
            pass


def _settle_all(tickets: Iterable[Ticket], error: BaseException | None = None) -> None:
    """Settles the tickets, then wakes whoever awaits them on event loops."""
    wake([future for ticket in tickets for future in ticket.settle(error)])


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # a thread without one
        return None


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():  # settled and seen by both sides, or the call was cancelled
            future.set_result(None)


class CommitMetrics:
    """The commit thread's measurements, as Prometheus metrics that no registry holds
    until the server's metrics endpoint registers `collectors` (metrics.py)."""

    def __init__(self, queued: Callable[[], int]) -> None:
        self.commit_seconds = Histogram(
            "rung_journal_commit_seconds",
            "Time to write one batch of events durably (one transaction)",
            buckets=SECONDS_BUCKETS, registry=None,
        )
        self.wait_seconds = Histogram(
            "rung_journal_wait_seconds",
            "Time from queueing an event to its being durable: what its call waits for",
            buckets=SECONDS_BUCKETS, registry=None,
        )
        self.events = Counter("rung_journal_events", "Events made durable", registry=None)
        self.failed_commits = Counter(
            "rung_journal_failed_commits",
            "Batches whose write failed (their calls were answered with the error)",
            registry=None,
        )
        self.queued = Gauge(
            "rung_journal_queued_events", "Events waiting for the next commit", registry=None
        )
        self.queued.set_function(queued)

    def collectors(self) -> list[Collector]:
        return [self.commit_seconds, self.wait_seconds, self.events, self.failed_commits,
                self.queued]

    def written(self, tickets: list[Ticket], started: float, durable: float) -> None:
        """A batch of these tickets' events, written from `started`, was durable at `durable`
        (perf_counter times). Called once its calls are woken, so they do not wait for it."""
        self.commit_seconds.observe(durable - started)
        self.events.inc(len(tickets))
        for ticket in tickets:
            self.wait_seconds.observe(durable - ticket.queued_at)


class Committer:
    def __init__(
        self,
        journal: Journal,
        on_durable: Callable[[str, int], None],
        on_failure: Callable[[set[str], BaseException], None],
    ):
        self.journal = journal
        self._on_durable, self._on_failure = on_durable, on_failure
        self._queue: list[tuple[Event, Ticket]] = []
        self._closing = False
        self._wake = threading.Condition()
        self._loops_to_notify: set[asyncio.AbstractEventLoop] = set()
        self.metrics = CommitMetrics(queued=lambda: len(self._queue))
        self._thread = threading.Thread(target=self._run, name="rung-commit", daemon=True)
        self._thread.start()

    def submit(self, event: Event) -> Ticket:
        """Queues the event. Called on an event loop, the commit thread hears of it once
        the loop has run every call that was ready: one batch and one hand-over for all."""
        ticket = Ticket(self._notify_now)
        loop = _running_loop()
        with self._wake:
            self._queue.append((event, ticket))
            if loop is None:
                self._wake.notify()
        if loop is not None and loop not in self._loops_to_notify:
            self._loops_to_notify.add(loop)
            loop.call_soon(self._notify, loop)
        return ticket

    def _notify(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loops_to_notify.discard(loop)
        self._notify_now()

    def _notify_now(self) -> None:
        with self._wake:
            self._wake.notify()

    def discard(self, study: str, error: BaseException) -> None:
        """Fails every queued, unwritten event of the study (it is being reloaded)."""
        with self._wake:
            dropped = [ticket for event, ticket in self._queue if event.study == study]
            self._queue = [(event, ticket) for event, ticket in self._queue if event.study != study]
        _settle_all(dropped, error)

    def close(self) -> None:
        """Writes what is queued, then ends the thread."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closing:
                    self._wake.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            tickets = [ticket for _, ticket in batch]
            started = time.perf_counter()
            try:
                self.journal.append_many([event for event, _ in batch])
            except BaseException as exc:  # every caller in the batch hears of it
                log.exception("journal write of %d events failed", len(batch))
                self.metrics.failed_commits.inc()
                _settle_all(tickets, exc)
                self._on_failure({event.study for event, _ in batch}, exc)
                continue
            durable = time.perf_counter()
            _settle_all(tickets)
            self.metrics.written(tickets, started, durable)
            last = {event.study: event.seq for event, _ in batch}  # queue order: the last wins
            for study, seq in last.items():
                self._on_durable(study, seq)
