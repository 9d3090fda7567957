"""Group commit: events that arrive together are made durable in one transaction.

The service decides under a study's lock and queues the event here; it
answers the RPC only once the event's ticket says it is durable, waiting
outside the lock, so other calls meanwhile decide and queue theirs. One
thread writes everything queued so far with `Journal.append_many` (one
transaction, one fsync), in queue order, so a study's events stay in sequence
order. A batch is all or nothing: if it fails, every ticket in it reports the
error and `on_failure` gets the studies involved (the service drops what they
queued since and reloads them from the journal).
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from .storage import Event, Journal

log = logging.getLogger("rung.server")

MAX_BATCH = 512


class Ticket:
    """Becomes done once its event is durable, or failed with the write's exception."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self.error: BaseException | None = None

    def settle(self, error: BaseException | None = None) -> None:
        self.error = error
        self._done.set()

    def wait(self) -> None:
        """Blocks until settled; raises the write's exception if it failed."""
        self._done.wait()
        if self.error is not None:
            raise self.error

    @property
    def done(self) -> bool:
        return self._done.is_set()


DONE = Ticket()
DONE.settle()


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
        self._thread = threading.Thread(target=self._run, name="rung-commit", daemon=True)
        self._thread.start()

    def submit(self, event: Event) -> Ticket:
        ticket = Ticket()
        with self._wake:
            self._queue.append((event, ticket))
            self._wake.notify()
        return ticket

    def discard(self, study: str, error: BaseException) -> None:
        """Fails every queued, unwritten event of the study (it is being reloaded)."""
        with self._wake:
            kept = []
            for event, ticket in self._queue:
                if event.study == study:
                    ticket.settle(error)
                else:
                    kept.append((event, ticket))
            self._queue = kept

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
                for _, ticket in batch:
                    ticket.settle(exc)
                self._on_failure({event.study for event, _ in batch}, exc)
                continue
            last: dict[str, int] = {}
            for event, ticket in batch:
                ticket.settle()
                last[event.study] = event.seq
            for study, seq in last.items():
                self._on_durable(study, seq)
