"""Rebuilding studies from the journal: at start-up, and after a write that failed.

A study is its latest snapshot (if one of this format can be read) and the events
after it, replayed through a fresh scheduler; the core is deterministic, so replay
makes the recorded decisions again, and any other decision is refused loudly
(JournalMismatch). A failed write drops what its studies queued since and reloads
them; a study whose journal cannot be read then is stale until a reload succeeds.
"""

from __future__ import annotations

import gc
import logging
from contextlib import contextmanager
from typing import Iterator

from rung.core.errors import StorageUnavailable
from rung.core.study import StudySpec

from .storage import Event
from .study_calls import scheduler_input
from .study_state import SNAPSHOT_FORMAT, ServiceState, StudyState, touch
from .study_steering import STEERING_EVENTS

log = logging.getLogger("rung.server")


class JournalMismatch(RuntimeError):
    """Replaying the journal made a different decision than the one recorded."""


class StudyRecovery(ServiceState):
    """Replay, snapshots, reloads after failed writes; a part of StudyService (service.py)."""

    def _replay(self, name: str) -> StudyState:
        """Rebuilds a study: its latest snapshot, then the events after it through the core."""
        restart_deadline = self.clock() + self.lease_seconds
        study = self._restored_from_snapshot(name, restart_deadline)
        if study is not None:
            events = iter(self.journal.events(name, after=study.seq))
        else:
            events = iter(self.journal.events(name))
            first = next(events)
            study = StudyState(StudySpec.from_json(first.payload["spec"]), first.payload["at"])
        return self._replay_events(study, events, restart_deadline)

    def _restored_from_snapshot(self, name: str, restart_deadline: float) -> StudyState | None:
        """The study as its latest snapshot has it; None if it has none the service can use."""
        try:
            snapshot = self.journal.latest_snapshot(name)
            if snapshot is not None and snapshot.state.get("format") != SNAPSHOT_FORMAT:
                log.info("ignoring study %s's snapshot of another format; replaying its journal",
                         name)
                return None
            if snapshot is None:
                return None
            # Its rows may still be read while the state loads: unreadable ones raise here too.
            return StudyState.from_snapshot(snapshot, restart_deadline)
        except ValueError:  # unreadable (cut short, a part lost): the journal alone holds it all
            log.exception("ignoring study %s's unreadable snapshot; replaying its journal", name)
            return None

    def _replay_events(
        self, study: StudyState, events: Iterator[Event], restart_deadline: float
    ) -> StudyState:
        name = study.spec.name
        for event in events:
            p = event.payload
            if event.kind == "suggest":
                job = study.scheduler.suggest(p["now"])
                expected = (p["kind"], p["trial_id"], p["resume_from"], p["milestone"])
                if (job.kind.value, job.trial_id, job.resume_from, job.milestone) != expected:
                    raise JournalMismatch(f"{name} seq {event.seq}: replay issued {job}")
                self._record_job(study, event.seq, p, job, restart_deadline)
            elif event.kind == "report":
                decision = study.scheduler.report(
                    p["trial_id"], p["resource"],
                    scheduler_input(study.spec, p["value"], p.get("metrics")),
                )
                if decision.value != p["decision"]:
                    raise JournalMismatch(f"{name} seq {event.seq}: replay decided {decision}")
                self._record_report(study, event.seq, p, decision)
            elif event.kind == "lost":
                self._record_lost(study, p)
            elif event.kind == "fail":
                self._record_fail(study, p)
            elif event.kind == "stop":
                study.scheduler.stop()
            elif event.kind in STEERING_EVENTS:
                self._apply_steering(study, event.seq, event.kind, p)  # type: ignore[attr-defined]
            else:
                raise JournalMismatch(f"{name} seq {event.seq}: unknown event {event.kind!r}")
            study.seq = study.durable_seq = event.seq
            touch(study, event.seq, p)
        return study

    def _after_failed_write(self, names: set[str], error: BaseException) -> None:
        """A batch failed: its studies drop what they queued since and reload from the journal."""
        for name in names:
            with self._lock:
                study = self._studies.get(name)
            if study is None:
                continue
            self._committer.discard(name, error)  # frees a snapshot or delete waiting under the lock
            with study.lock:
                self._committer.discard(name, error)
                try:
                    self._reload(study)
                except Exception as exc:
                    study.stale = True
                    log.error(
                        "study %s: reading its journal back after a failed write failed too "
                        "(%s); its calls are refused until a reload succeeds", name, exc,
                    )

    def _reload(self, study: StudyState) -> None:
        fresh = self._replay(study.spec.name)
        for attr in (
            "scheduler", "seq", "leases", "lease_expiry", "leases_opened", "records",
            "jobs_by_request", "snapshot_seq", "last_ticket", "durable_seq", "steer_requests",
            "imported_keys",
        ):
            setattr(study, attr, getattr(fresh, attr))
        study.stale = False

    def _reload_stale(self, study: StudyState) -> None:
        """Under the study's lock: brings a stale study back in line with its journal."""
        try:
            self._reload(study)
        except Exception as exc:
            raise StorageUnavailable(
                f"study {study.spec.name!r} is to be reloaded from its journal after a failed "
                f"write, and the journal cannot be read now ({exc}); retry"
            ) from exc
        log.info("reloaded after a failed write", extra={"study": study.spec.name})


@contextmanager
def collector_paused() -> Iterator[None]:
    """Restoring studies builds millions of objects and frees none; meanwhile Python's
    cycle collector would walk every one of them again and again for nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
