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
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from typing import Callable, Iterable

from .storage import Event, Journal

log = logging.getLogger("rung.server")

MAX_BATCH = 512


def _nothing() -> None:
    pass


_BLOCKING = threading.Lock()  # gives a ticket its one threading.Event, for blocking waiters


class Ticket:
    """Becomes done once its event is durable, or failed with the write's exception.

    One per event, so it is cheap to make: a thread that blocks on it gets a
    `threading.Event` only then, and a call on an event loop awaits a future.
    """

    __slots__ = ("done", "error", "_awaiting", "_blocked", "_nudge")

    def __init__(self, nudge: Callable[[], None] = _nothing) -> None:
        self.done = False
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
            try:
                self.journal.append_many([event for event, _ in batch])
            except BaseException as exc:  # every caller in the batch hears of it
                log.exception("journal write of %d events failed", len(batch))
                _settle_all((ticket for _, ticket in batch), exc)
                self._on_failure({event.study for event, _ in batch}, exc)
                continue
            _settle_all(ticket for _, ticket in batch)
            last = {event.study: event.seq for event, _ in batch}  # queue order: the last wins
            for study, seq in last.items():
                self._on_durable(study, seq)
