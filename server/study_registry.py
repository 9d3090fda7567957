"""Which studies the service holds and their locks: create, find, stop, delete; who hears of it.

`_study` finds a study by name; `_locked` is the study's lock for one call, which
answers only once the events it queued are durable (or, inside
`deferred_durability()`, leaves the waiting to an event loop). Listeners hear of
every journaled event (`subscribe`).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

from rung.core.errors import AlreadyExists, NotFound
from rung.core.study import StudySpec, check_study_name

from .group_commit import Ticket
from .storage import Event
from .study_reads import StudyView
from .study_state import EventListener, ServiceState, StudyState

log = logging.getLogger("rung.server")


# Set by `deferred_durability`: the tickets a call would otherwise have waited for.
_deferred: ContextVar[list[Ticket] | None] = ContextVar("rung_deferred_tickets", default=None)


class deferred_durability:
    """Service calls made inside return without waiting for their events to be durable
    and leave the tickets to wait for in the list given: an event loop awaits them
    (`Ticket.durable`) instead of blocking its only thread. Answer only after that.
    (A class, not a generator: it wraps every call on the loop.)"""

    __slots__ = ("_token",)

    def __enter__(self) -> list[Ticket]:
        tickets: list[Ticket] = []
        self._token = _deferred.set(tickets)
        return tickets

    def __exit__(self, *exc: object) -> None:
        _deferred.reset(self._token)


class StudyRegistry(ServiceState):
    """The studies by name and their locks; a part of StudyService (service.py)."""

    def create_study(self, spec: StudySpec) -> StudyView:
        with self._lock:
            existing = self._studies.get(spec.name)
            if existing is None:
                study = self._journal_new_study(spec)
        if existing is not None:
            if existing.spec != spec:
                raise AlreadyExists(f"study {spec.name!r} exists with a different definition")
            # Viewed outside the service's lock: a call holding the study's lock takes the
            # service's lock in _append, so taking them the other way round could deadlock.
            return self._view(existing)
        self._notify(spec.name, 1, "created")
        return self._view(study)

    def _journal_new_study(self, spec: StudySpec) -> StudyState:
        """Under the service's lock: the study's first event, then the study in memory."""
        now = self.clock()
        self.journal.append(Event(spec.name, 1, "created", {"spec": spec.to_json(), "at": now}))
        study = StudyState(spec, now)
        self._studies[spec.name] = study
        log.info("study created", extra={"study": spec.name})
        return study

    def study_names(self) -> list[str]:
        with self._lock:
            return list(self._studies)

    def stop_study(self, name: str) -> StudyView:
        study = self._study(name)
        with self._locked(study):
            if not study.scheduler.stopped:
                self._append(study, "stop", {})
                study.scheduler.stop()
        return self._view(study)

    def delete_study(self, name: str) -> None:
        """Forgets the study and removes its journal; calls already waiting on it get NOT_FOUND."""
        study = self._study(name)
        with study.snapshot_lock, study.lock:
            study.last_ticket.wait()  # queued events first: they must not land after the delete
            with self._lock:
                self.journal.delete(name)
                del self._studies[name]
        with study.durable:
            study.durable.notify_all()  # watchers see it is gone
        log.info("study deleted", extra={"study": name})
        self._notify(name, 0, "deleted")

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Calls `listener(study, seq, kind)` after every journaled event; returns an unsubscribe.

        Study creation and deletion are announced too (deletion with seq 0). The
        listener runs on the caller's thread, inside the study's lock: it must be
        quick (set a flag, notify a condition) and must not call the service.
        """
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _notify(self, name: str, seq: int, kind: str) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(name, seq, kind)
            except Exception:  # a watcher's bug must not fail the RPC that was journaled
                log.exception("event listener failed")

    def _study(self, name: str) -> StudyState:
        check_study_name(name)
        with self._lock:
            study = self._studies.get(name)
        if study is None:
            raise NotFound(f"no study named {name!r}")
        return study

    @contextmanager
    def _locked(self, study: StudyState, durable: bool = True) -> Iterator[None]:
        """The study's lock for a call; on leaving it, waits (unlocked) until every event
        queued so far is durable, so the call answers only with durable state (without
        `durable`, only for the events this call queued)."""
        with study.lock:
            if study.stale:
                self._reload_stale(study)
            before = study.last_ticket
            yield
            ticket = study.last_ticket
        if durable or ticket is not before:
            deferred = _deferred.get()
            if deferred is None:
                ticket.wait()
            else:
                deferred.append(ticket)
