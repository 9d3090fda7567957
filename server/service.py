"""The study service: studies, leases, idempotency and journaling of core decisions.

Every change to a study is an event in the journal, written before the call
that caused it returns. After a restart each study is rebuilt by replaying its
events through a fresh scheduler: the core is deterministic, so replay makes
the same decisions, and the service checks that it does (a mismatch means a
corrupt journal or a nondeterminism bug, and is refused loudly).

Events: created, suggest (a START or RESUME job was issued), report, lost (a
lease expired), fail, stop. WAIT and DONE answers change nothing and are not
journaled; heartbeats are not journaled either: after a restart every open
lease gets a fresh deadline.

Idempotency records are bounded: a retried Report is recognised from the
trial's own observations (each carries its lease and decision), and the job of
a retried Suggest is kept in memory only while its lease is open; a retry that
comes later finds its `suggest` event in the journal. Memory then grows with
the trials, not with the requests ever answered.

Writes are group-committed (group_commit.py): a call decides and queues its
events under the study's lock, then waits outside it until they are durable
before it answers, so calls arriving together share one transaction. A call
made on an event loop, inside `deferred_durability()`, does not wait: it gets
the tickets to await, so the loop answers other calls meanwhile.

Every so often the study's whole state is saved as a snapshot (snapshots.py
decides when); a restart loads the latest snapshot and replays only the events
after it, so restart time does not grow with the study's length.
"""

from __future__ import annotations

import gc
import heapq
import json
import logging
import math
import secrets
import threading
import time
from collections import ChainMap
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Iterable, Iterator, Mapping

from rung.core.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    StorageUnavailable,
)
from rung.core.results import MetricsReport, ParetoSummary, summarize
from rung.core.schedulers import Incumbent, Scheduler
from rung.core.study import StudySpec, check_study_name
from rung.core.types import Decision, Job, JobKind, TrialStatus

from .blobs import check_report_ref
from .group_commit import DONE, CommitMetrics, Committer, Ticket
from .records import Observation, Segment, TrialRecord, record_of, trial_records
from .retention import TrialCheckpoints
from .storage import Event, Journal, Snapshot

log = logging.getLogger("rung.server")

MAX_ID_LENGTH = 128
MAX_TEXT_LENGTH = 4096

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


class JournalMismatch(RuntimeError):
    """Replaying the journal made a different decision than the one recorded."""


@dataclass
class Lease:
    lease_id: str
    trial_id: int
    worker_id: str
    deadline: float
    request_id: str = ""  # of the Suggest that issued it: its job is remembered while it is open


@dataclass(frozen=True)
class IssuedJob:
    job: Job
    lease_id: str = ""
    lease_deadline: float = 0.0
    checkpoint: str = ""


@dataclass(frozen=True)
class StudyView:
    """A consistent snapshot of a study for GetStudy/ListStudies."""

    spec: StudySpec
    state: str  # running | done | stopped
    created_at: float
    trials_started: int
    trials_running: int
    promotions: int
    resource_spent: int
    incumbent: Incumbent | None
    incumbent_config: dict[str, Any] | None
    pareto: ParetoSummary | None = None  # studies with several objectives or constraints
    trial_configs: dict[int, dict[str, Any]] = field(default_factory=dict)  # of the front's trials


@dataclass(frozen=True)
class TrialPage:
    """One page of ListTrials: `next_after` is the last trial id listed when more may follow."""

    trials: list["TrialView"]
    next_after: int | None
    seq: int


MAX_PAGE_SIZE = 10_000


@dataclass(frozen=True)
class TrialView:
    trial_id: int
    config: dict[str, Any]
    status: TrialStatus
    bracket: int
    record: TrialRecord
    lease_deadline: float = 0.0  # of the running job's lease; 0.0 when none


@dataclass(frozen=True)
class StudySnapshot:
    """A study and its trials as of one journal position (`seq`), read in one lock hold."""

    view: StudyView
    seq: int
    trials: list[TrialView]
    complete: bool = True  # False: only the trials changed since the position asked about


# The layout of _Study.take_snapshot(); a snapshot of another layout is ignored (the journal is the
# truth: that restart replays it all, and the next snapshot is written in this layout).
SNAPSHOT_FORMAT = 7

# A snapshot encodes the trials used since the last one under the study's lock; a backlog
# larger than this is encoded first in batches of this many, the lock released in between.
COMPACT_BATCH = 5_000

# Called as listener(study, seq, kind) after each journaled event; see StudyService.subscribe.
EventListener = Callable[[str, int, str], None]


class _RowCache:
    """Rows of text by key, as the last save encoded them: a fleet's thousands of open
    leases and jobs barely change between saves, and encoding 10,000 of them took 85 ms
    of the interpreter at every save (while the RPC threads waited for it)."""

    def __init__(self) -> None:
        self._rows: dict[Any, tuple[Any, str]] = {}

    def rows(self, items: Iterable[tuple[Any, Any]], encode: Callable[[Any, Any], str]) -> list[str]:
        """The row of each (key, value): the last one's text if its value is equal, else
        encode(key, value). Keeps only these items for the next call."""
        kept: dict[Any, tuple[Any, str]] = {}
        for key, value in items:
            last = self._rows.get(key)
            text = last[1] if last is not None and last[0] == value else encode(key, value)
            kept[key] = (value, text)
        self._rows = kept
        return [text for _, text in kept.values()]


class _Study:
    """One study in memory; all access under its lock."""

    def __init__(self, spec: StudySpec, created_at: float):
        self.spec = spec
        self.created_at = created_at
        self.scheduler: Scheduler = spec.build_scheduler()
        self.lock = threading.Lock()
        self.seq = 1  # the 'created' event; the last one queued
        self.last_ticket: Ticket = DONE  # of the last event queued: done once it is durable
        # A write failed and reading the journal back failed too (its database cannot be
        # reached): memory may hold decisions the journal lacks, so no call may build on it
        # until a reload succeeds (_locked).
        self.stale = False
        self.durable = threading.Condition()  # notified as events become durable, for watchers
        self.durable_seq = 1
        self.leases: dict[str, Lease] = {}
        # (deadline, lease number, lease id), a heap: finding the leases that expired costs
        # O(log n) per call, not a walk over every open lease (a fleet holds thousands).
        # Entries go stale when a heartbeat extends or a lease ends; they are checked on the way out.
        self.lease_expiry: list[tuple[float, int, str]] = []
        self.leases_opened = 0
        self.records = trial_records()
        self.jobs_by_request: dict[str, IssuedJob] = {}  # of open leases only
        self.snapshot_seq = 0  # the journal position of the latest saved snapshot
        # Seconds the core spent on journaled decisions since that snapshot: what a restart
        # would spend again replaying them (model-based searchers make this large).
        self.decision_seconds = 0.0
        # When the last snapshot was saved (perf_counter) and how long that held the lock.
        self.snapshot_saved_at = 0.0
        self.snapshot_cost = 0.0
        # Held for a whole save, including the write after the study's lock is released,
        # so saves do not overlap and a delete cannot come between a save's read and write.
        self.snapshot_lock = threading.Lock()
        # The open leases' and jobs' rows as the last save encoded them (used by saves only).
        self.lease_rows, self.job_rows = _RowCache(), _RowCache()
        # Whether the study was finished when last asked, and at which journal position
        # (see StudyService._finished: asking the scheduler costs a deep copy of it).
        self.finished = False
        self.finished_checked_seq = 0
        # For readers that refresh only what changed (the dashboard): each trial's last
        # event, oldest first, and the last event that changed trials without naming one.
        self.touched: dict[int, int] = {}
        self.study_wide_seq = 0

    def open_lease(self, lease: Lease) -> None:
        self.leases[lease.lease_id] = lease
        heapq.heappush(self.lease_expiry, (lease.deadline, self.leases_opened, lease.lease_id))
        self.leases_opened += 1

    def expired_leases(self, now: float) -> Iterator[Lease]:
        """Open leases whose deadline passed, soonest first. The caller must end each one
        before taking the next (its entry is dropped then); if it fails to, the lease
        stays open and is found again by the next call."""
        heap = self.lease_expiry
        while heap and heap[0][0] < now:
            deadline, number, lease_id = heap[0]
            lease = self.leases.get(lease_id)
            if lease is None:  # ended
                heapq.heappop(heap)
            elif lease.deadline != deadline:  # extended by a heartbeat: look again then
                heapq.heapreplace(heap, (lease.deadline, number, lease_id))
            else:
                yield lease

    def take_snapshot(self) -> Callable[[], Snapshot]:
        """Takes, under the study's lock, everything replay would rebuild (lease deadlines
        aside), and returns the function that makes the Snapshot of it once the lock is
        released: calls wait only for the taking.

        The taking costs time in the trials changed since the last snapshot (the others
        are kept as text) and copies of a few lists; nothing taken is shared with the
        live study but immutable values (the jobs, a lease's names), so the rows of open
        leases and jobs, a few thousand in a fleet, are made outside the lock."""
        scheduler = self.scheduler.state_dict(with_trials=False)
        rows = {"trials": self.scheduler.trials.chunks(), "records": self.records.chunks()}
        leases = [
            (le.lease_id, le.trial_id, le.worker_id, le.request_id) for le in self.leases.values()
        ]
        jobs = list(self.jobs_by_request.items())
        name, seq, spec, created_at = self.spec.name, self.seq, self.spec.to_json(), self.created_at

        def build() -> Snapshot:
            return Snapshot(name, seq, {
                "format": SNAPSHOT_FORMAT,
                "spec": spec,
                "created_at": created_at,
                "scheduler": scheduler,
            }, {
                **rows,
                # Rows, not state: encoded one by one, the open jobs of a fleet (a megabyte
                # for 5,000) do not hold the interpreter in one call of the JSON encoder.
                "leases": self.lease_rows.rows(
                    ((lease[0], lease) for lease in leases), lambda _, lease: _row(list(lease))
                ),
                "jobs": self.job_rows.rows(jobs, lambda request_id, issued: _row(
                    [request_id, issued.lease_id, issued.checkpoint, _job_json(issued.job)]
                )),
            })

        return build

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot, deadline: float) -> "_Study":
        """The study a snapshot describes; every open lease and issued job gets `deadline`."""
        state = snapshot.state
        study = cls(StudySpec.from_json(state["spec"]), state["created_at"])
        study.seq = study.snapshot_seq = study.durable_seq = snapshot.seq
        # The scheduler's state before its trials' rows, which may still be being read.
        study.scheduler.load_state_dict(ChainMap(state["scheduler"], snapshot.rows))
        for lease_id, trial_id, worker_id, request_id in _state_rows(snapshot, "leases"):
            study.open_lease(Lease(lease_id, trial_id, worker_id, deadline, request_id))
        study.records = trial_records(snapshot.rows["records"])
        study.jobs_by_request = {
            request_id: IssuedJob(_job_from_json(job), lease_id, deadline, checkpoint)
            for request_id, lease_id, checkpoint, job in _state_rows(snapshot, "jobs")
        }
        return study


class StudyService:
    def __init__(
        self,
        journal: Journal,
        clock: Callable[[], float] = time.time,
        lease_seconds: float = 60.0,
        max_lost: int = 3,
    ):
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self.journal = journal
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.max_lost = max_lost
        self._studies: dict[str, _Study] = {}
        self._lock = threading.Lock()
        self._listeners: list[EventListener] = []
        with _collector_paused():
            for name in journal.studies():
                self._studies[name] = self._replay(name)
        self._committer = Committer(journal, self._now_durable, self._after_failed_write)

    def close(self) -> None:
        """Writes what is queued, then stops the commit thread (before the journal closes)."""
        self._committer.close()

    @property
    def commit_metrics(self) -> CommitMetrics:
        """How the journal's group commits go: batch sizes, write and wait times."""
        return self._committer.metrics

    def suggests_quickly(self, name: str, first_attempt: bool = False) -> bool:
        """Whether the study's Suggest takes microseconds: not where its searcher may fit
        a model first, nor where looking its request id up in the journal (skipped on a
        first attempt) is a round trip to a database server. Only such calls are answered
        on the server's event loop."""
        if self.journal.remote and not first_attempt:
            return False
        with self._lock:
            study = self._studies.get(name)
        return study is None or not study.scheduler.searcher.suggest_may_be_slow

    # ------------------------------------------------------------------ studies

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

    def _journal_new_study(self, spec: StudySpec) -> _Study:
        """Under the service's lock: the study's first event, then the study in memory."""
        now = self.clock()
        self.journal.append(Event(spec.name, 1, "created", {"spec": spec.to_json(), "at": now}))
        study = _Study(spec, now)
        self._studies[spec.name] = study
        log.info("study created", extra={"study": spec.name})
        return study

    def get_study(self, name: str) -> StudyView:
        return self._view(self._study(name))

    def list_studies(self) -> list[StudyView]:
        with self._lock:
            studies = list(self._studies.values())
        return [self._view(s) for s in studies]

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

    def list_trials(self, name: str) -> list[TrialView]:
        return self.page_trials(name, limit=None).trials

    def page_trials(
        self,
        name: str,
        after: int = -1,
        limit: int | None = 1000,
        statuses: frozenset[TrialStatus] = frozenset(),
        changed_since: int = 0,
    ) -> TrialPage:
        """Trials with id > `after` in id order, at most `limit`, filtered by status and by
        the journal position of their last change (> `changed_since`)."""
        if limit is not None and not 0 < limit <= MAX_PAGE_SIZE:
            raise InvalidArgument(f"page size must be between 1 and {MAX_PAGE_SIZE}")
        study = self._study(name)
        with self._locked(study):
            self._expire_leases(study)
            deadlines = {le.trial_id: le.deadline for le in study.leases.values()}
            page: list[TrialView] = []
            trials = study.scheduler.trials
            # Read with peek: a listing of every trial leaves them all as compact text.
            for trial_id in range(max(after + 1, 0), len(trials)):
                t, record = trials.peek(trial_id), study.records.peek(trial_id)
                if (statuses and t.status not in statuses) or record.changed <= changed_since:
                    continue
                if limit is not None and len(page) == limit:
                    return TrialPage(page, page[-1].trial_id, study.seq)
                page.append(
                    TrialView(
                        t.trial_id, dict(t.config), t.status, t.bracket, record,
                        deadlines.get(t.trial_id, 0.0),
                    )
                )
            return TrialPage(page, None, study.seq)

    def events_after(
        self, name: str, after_seq: int, wait: float, limit: int = 1000
    ) -> list[Event]:
        """Up to `limit` of the study's durable events after `after_seq`, waiting up to
        `wait` seconds for one to come; NotFound once the study is deleted."""
        study = self._study(name)
        with study.durable:
            study.durable.wait_for(
                lambda: study.durable_seq > after_seq or self._studies.get(name) is not study, wait
            )
        self._study(name)
        if study.durable_seq <= after_seq:
            return []
        return list(self.journal.events(name, after=after_seq, limit=limit))

    def trials_since(self, name: str, after: int = 0) -> StudySnapshot:
        """The study with copies of the trials that events after journal position `after`
        touched (every trial when `after` is 0), consistent with each other.

        For the dashboard, which keeps a copy of each trial and refreshes only what changed.
        """
        study = self._study(name)
        with self._locked(study, durable=False):
            self._expire_leases(study)
            ids: list[int] | None = None
            if 0 < after <= study.seq and after >= study.study_wide_seq:
                ids = []
                for trial_id, seq in reversed(study.touched.items()):
                    if seq <= after:
                        break
                    ids.append(trial_id)
            return StudySnapshot(
                self._view_locked(study), study.seq, self._trial_views(study, ids), ids is None
            )

    def lease_deadlines(self, name: str) -> dict[int, float]:
        """Each running job's lease deadline by trial: heartbeats move them without an event."""
        study = self._study(name)
        with self._locked(study, durable=False):
            return {le.trial_id: le.deadline for le in study.leases.values()}

    def journal_position(self, name: str) -> int:
        """The study's last journal sequence number: a cheap 'has anything changed?' check."""
        return self._study(name).seq

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

    def _trial_views(self, study: _Study, ids: list[int] | None) -> list[TrialView]:
        """Trials `ids` (None: all) with copies of their records, which later events extend.

        The lists are copied, not the segments in them: a segment changes only when its
        job is lost, and that is an event of the trial, so readers refresh it then.
        (Copying every segment of 100,000 trials took seconds, mostly garbage collection.)
        """
        deadlines = {le.trial_id: le.deadline for le in study.leases.values()}
        trials = study.scheduler.trials
        views = []
        for trial_id in range(len(trials)) if ids is None else ids:
            t, r = trials.peek(trial_id), study.records.peek(trial_id)
            record = TrialRecord(
                list(r.segments), list(r.observations), r.checkpoint, r.checkpoint_resource,
                list(r.failures),
            )
            views.append(
                TrialView(
                    t.trial_id, dict(t.config), t.status, t.bracket, record,
                    deadlines.get(t.trial_id, 0.0),
                )
            )
        return views

    # ------------------------------------------------------------------ ask

    def suggest(
        self, name: str, worker_id: str, request_id: str, first_attempt: bool = False
    ) -> IssuedJob:
        """A job for the worker. A Suggest with a request id answered before gets that
        answer again; `first_attempt` (the client's word that the id is new) skips looking
        for it in the journal, though not in the open leases kept in memory."""
        _check_text(worker_id, "worker_id", MAX_ID_LENGTH)
        _check_text(request_id, "request_id", MAX_ID_LENGTH)
        study = self._study(name)
        with self._locked(study):
            if request_id:
                issued = self._issued_before(study, request_id, in_journal=not first_attempt)
                if issued is not None:
                    return issued
            now = self.clock()
            self._expire_leases(study)
            started = time.perf_counter()
            job = study.scheduler.suggest(now)
            if job.kind in (JobKind.WAIT, JobKind.DONE):
                if job.kind is JobKind.DONE and not study.scheduler.n_running:
                    study.finished, study.finished_checked_seq = True, study.seq
                return IssuedJob(job)
            study.decision_seconds += time.perf_counter() - started
            lease_id = secrets.token_hex(16)  # as random as a uuid4, without building one
            payload = {
                "now": now,
                "worker_id": worker_id,
                "request_id": request_id,
                "lease_id": lease_id,
                "trial_id": job.trial_id,
                "kind": job.kind.value,
                "resume_from": job.resume_from,
                "milestone": job.milestone,
                "checkpoint": self._resume_checkpoint(study, job),
            }
            seq = self._append(study, "suggest", payload)
            return self._record_job(study, seq, payload, job, deadline=now + self.lease_seconds)

    # ------------------------------------------------------------------ tell

    def report(
        self,
        name: str,
        trial_id: int,
        lease_id: str,
        resource: int,
        value: float,
        checkpoint: str = "",
        metrics: Mapping[str, float] | None = None,
    ) -> tuple[Decision, TrialStatus]:
        """`value` is a single-objective study's result; `metrics` names every objective
        and constraint metric (and, in a single-objective study, may hold its value)."""
        _check_text(checkpoint, "checkpoint", MAX_TEXT_LENGTH)
        check_report_ref(checkpoint, name, trial_id, resource)
        study = self._study(name)
        value, metrics = _report_values(study.spec, value, metrics)
        with self._locked(study):
            scheduler = study.scheduler
            trial = scheduler.trial(trial_id)
            previous = _reported(study.records[trial_id], resource, lease_id)
            if previous is not None:  # a retried report: stored once, same answer
                if (previous.metrics or previous.value) != (metrics or value):
                    raise InvalidArgument(
                        f"trial {trial_id} already reported {previous.value} at resource "
                        f"{resource} under this lease; a different value ({value}) is refused"
                    )
                return previous.decision, trial.status
            self._expire_leases(study)
            self._active_lease(study, trial_id, lease_id)
            started = time.perf_counter()
            decision = scheduler.report(trial_id, resource, _scheduler_input(study.spec, value, metrics))
            study.decision_seconds += time.perf_counter() - started
            payload = {
                "now": self.clock(),
                "trial_id": trial_id,
                "lease_id": lease_id,
                "resource": resource,
                "value": float(value),
                "checkpoint": checkpoint,
                "decision": decision.value,
                **({"metrics": metrics} if metrics else {}),
            }
            seq = self._append(study, "report", payload)
            self._record_report(study, seq, payload, decision)
            return decision, trial.status

    def heartbeat(self, name: str, lease_id: str) -> float:
        """Extends the lease. Unlike other calls it does not wait for other calls' events to
        become durable: its answer, a deadline, is not journaled, and the lease it extends
        is durable already (its worker holds it from an answered Suggest). A fleet sends as
        many heartbeats as it does Suggests and Reports; they no longer queue behind commits."""
        study = self._study(name)
        with self._locked(study, durable=False):
            self._expire_leases(study)
            lease = study.leases.get(lease_id)
            if lease is None:
                raise FailedPrecondition(
                    f"lease {lease_id!r} is not active (expired, finished or unknown)"
                )
            lease.deadline = self.clock() + self.lease_seconds
            return lease.deadline

    def fail(self, name: str, trial_id: int, lease_id: str, reason: str) -> None:
        _check_text(reason, "reason", MAX_TEXT_LENGTH)
        study = self._study(name)
        with self._locked(study):
            study.scheduler.trial(trial_id)
            self._expire_leases(study)
            self._active_lease(study, trial_id, lease_id)
            payload = {"trial_id": trial_id, "lease_id": lease_id, "reason": reason or "failed"}
            self._append(study, "fail", payload)
            self._record_fail(study, payload)

    def release(
        self, name: str, trial_id: int, lease_id: str, resource: int = 0, checkpoint: str = ""
    ) -> None:
        """The worker hands its job back: resumable at once, and not counted as lost.

        With a checkpoint saved at `resource` (the last resource it reported),
        the next worker resumes from there rather than from the last rung.
        """
        _check_text(checkpoint, "checkpoint", MAX_TEXT_LENGTH)
        if bool(checkpoint) != bool(resource):
            raise InvalidArgument("a released checkpoint needs its resource, and vice versa")
        check_report_ref(checkpoint, name, trial_id, resource)
        study = self._study(name)
        with self._locked(study):
            study.scheduler.trial(trial_id)
            self._expire_leases(study)
            self._active_lease(study, trial_id, lease_id)
            payload = {
                "trial_id": trial_id,
                "lease_id": lease_id,
                "fail": False,
                "released": True,
                "resource": resource,
                "checkpoint": checkpoint,
            }
            self._record_lost(study, payload)  # validates before anything is written
            self._append(study, "lost", payload)

    # ------------------------------------------------------------------ checkpoints

    def authorize_checkpoint_upload(
        self, name: str, trial_id: int, lease_id: str, resource: int
    ) -> None:
        """Only the holder of the trial's active lease stores checkpoints, within its segment."""
        study = self._study(name)
        with self._locked(study):
            trial = study.scheduler.trial(trial_id)
            self._expire_leases(study)
            self._active_lease(study, trial_id, lease_id)
            if not trial.resume_from < resource <= trial.milestone:
                raise InvalidArgument(
                    f"trial {trial_id} is training {trial.resume_from}->{trial.milestone}; "
                    f"a checkpoint at resource {resource} is outside that segment"
                )

    def checkpoint_states(self, name: str) -> dict[int, TrialCheckpoints]:
        """Per trial: the checkpoint its next segment would load, and whether it still can."""
        study = self._study(name)
        with self._locked(study):
            self._expire_leases(study)
            incumbent = study.scheduler.incumbent()
            states = {}
            for trial_id in study.scheduler.trials:
                status = study.scheduler.trials.peek(trial_id).status
                record = study.records.peek(trial_id)
                states[trial_id] = TrialCheckpoints(
                    resumable=status in (TrialStatus.RUNNING, TrialStatus.PAUSED),
                    incumbent=incumbent is not None and incumbent.trial_id == trial_id,
                    checkpoint=record.checkpoint,
                    checkpoint_resource=record.checkpoint_resource,
                )
            return states

    # ------------------------------------------------------------------ leases

    def _active_lease(self, study: _Study, trial_id: int, lease_id: str) -> Lease:
        lease = study.leases.get(lease_id)
        if lease is None or lease.trial_id != trial_id:
            raise FailedPrecondition(
                f"lease {lease_id!r} does not hold trial {trial_id} (it expired, ended, "
                "or belongs to another trial); this result is not accepted"
            )
        return lease

    def _expire_leases(self, study: _Study) -> None:
        now = self.clock()
        for lease in study.expired_leases(now):
            trial = study.scheduler.trials[lease.trial_id]
            give_up = trial.times_lost + 1 >= self.max_lost
            payload = {"trial_id": lease.trial_id, "lease_id": lease.lease_id, "fail": give_up}
            self._append(study, "lost", payload)
            self._record_lost(study, payload)
            log.warning(
                "lease expired",
                extra={"study": study.spec.name, "trial": lease.trial_id, "failed": give_up},
            )

    # ------------------------------------------------------------------ events

    def _append(self, study: _Study, kind: str, payload: dict[str, Any]) -> int:
        """Journals an event; on a storage failure rebuilds the study from what is on disk."""
        seq = study.seq + 1
        with self._lock:
            if self._studies.get(study.spec.name) is not study:
                raise NotFound(f"study {study.spec.name!r} was deleted")
        event = Event(study.spec.name, seq, kind, payload)
        try:
            event.payload_text  # what the journal would refuse, refused now (encoded once)
        except Exception:
            log.exception("event not storable; reloading study %s", study.spec.name)
            self._reload(study)
            raise
        study.last_ticket = self._committer.submit(event)
        study.seq = seq
        _touch(study, seq, payload)
        trial_id = payload.get("trial_id")
        if trial_id is None:
            study.study_wide_seq = seq
        else:
            study.touched.pop(trial_id, None)
            study.touched[trial_id] = seq
        self._notify(study.spec.name, seq, kind)
        return seq

    @contextmanager
    def _locked(self, study: _Study, durable: bool = True) -> Iterator[None]:
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

    def _now_durable(self, name: str, seq: int) -> None:
        with self._lock:
            study = self._studies.get(name)
        if study is not None:
            with study.durable:
                study.durable_seq = max(study.durable_seq, seq)
                study.durable.notify_all()

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

    def _reload(self, study: _Study) -> None:
        fresh = self._replay(study.spec.name)
        for attr in (
            "scheduler", "seq", "leases", "lease_expiry", "leases_opened", "records",
            "jobs_by_request", "snapshot_seq", "last_ticket", "durable_seq",
        ):
            setattr(study, attr, getattr(fresh, attr))
        study.stale = False

    def _reload_stale(self, study: _Study) -> None:
        """Under the study's lock: brings a stale study back in line with its journal."""
        try:
            self._reload(study)
        except Exception as exc:
            raise StorageUnavailable(
                f"study {study.spec.name!r} is to be reloaded from its journal after a failed "
                f"write, and the journal cannot be read now ({exc}); retry"
            ) from exc
        log.info("reloaded after a failed write", extra={"study": study.spec.name})

    def _record_job(
        self, study: _Study, seq: int, p: dict[str, Any], job: Job, deadline: float
    ) -> IssuedJob:
        record = record_of(study.records, job.trial_id)
        record.segments.append(
            Segment(seq, job.resume_from, job.milestone, p["worker_id"], p["lease_id"])
        )
        study.open_lease(Lease(p["lease_id"], job.trial_id, p["worker_id"], deadline, p["request_id"]))
        issued = IssuedJob(job, p["lease_id"], deadline, self._resume_checkpoint(study, job))
        if p["request_id"]:
            study.jobs_by_request[p["request_id"]] = issued
        return issued

    @staticmethod
    def _resume_checkpoint(study: _Study, job: Job) -> str:
        return study.records[job.trial_id].checkpoint if job.kind is JobKind.RESUME else ""

    def _issued_before(
        self, study: _Study, request_id: str, in_journal: bool = True
    ) -> IssuedJob | None:
        """The job an earlier Suggest with this request id got: in memory while its lease is
        open, else (`in_journal`) from its journal event (the lease has ended; the job is
        answered as issued)."""
        issued = study.jobs_by_request.get(request_id)
        if issued is not None or not in_journal:
            return issued
        event = self.journal.find_request(study.spec.name, request_id)
        if event is None:
            return None
        p = event.payload
        trial = study.scheduler.trials.peek(p["trial_id"])
        job = Job(JobKind(p["kind"]), p["trial_id"], dict(trial.config), p["resume_from"],
                  p["milestone"])
        return IssuedJob(job, p["lease_id"], p["now"] + self.lease_seconds, p.get("checkpoint", ""))

    @staticmethod
    def _close_lease(study: _Study, lease_id: str) -> None:
        """The lease ended: its job is no longer kept in memory (the journal has it)."""
        lease = study.leases.pop(lease_id, None)
        if lease is not None and lease.request_id:
            study.jobs_by_request.pop(lease.request_id, None)

    def _record_report(
        self, study: _Study, seq: int, p: dict[str, Any], decision: Decision
    ) -> None:
        trial_id, resource = p["trial_id"], p["resource"]
        record = study.records[trial_id]
        record.observations.append(
            Observation(
                seq, resource, p["value"], p["now"], p["lease_id"], decision, p.get("metrics")
            )
        )
        if decision is not Decision.CONTINUE:
            self._close_lease(study, p["lease_id"])
            if p["checkpoint"] and resource == study.scheduler.trials[trial_id].checkpoint_resource:
                record.checkpoint, record.checkpoint_resource = p["checkpoint"], resource

    def _record_lost(self, study: _Study, p: dict[str, Any]) -> None:
        """Applies a lost or released job; the scheduler goes first, as it may refuse."""
        trial_id = p["trial_id"]
        record = study.records[trial_id]
        if p.get("released"):
            at = p.get("resource", 0)
            study.scheduler.lose(trial_id, counted=False, checkpoint_at=at)
            if at:
                record.checkpoint, record.checkpoint_resource = p["checkpoint"], at
            reason = f"released by its worker; resumes from the checkpoint at {record.checkpoint_resource}"
        elif p["fail"]:
            study.scheduler.fail(trial_id)
            reason = f"lease expired {self.max_lost} times"
        else:
            study.scheduler.lose(trial_id)
            reason = "lease expired; resumed from the last checkpoint"
        self._close_lease(study, p["lease_id"])
        record.segments[-1].lost = True
        record.failures.append(reason)

    def _record_fail(self, study: _Study, p: dict[str, Any]) -> None:
        self._close_lease(study, p["lease_id"])
        study.records[p["trial_id"]].failures.append(p["reason"])
        study.scheduler.fail(p["trial_id"])

    def save_snapshot(
        self,
        name: str,
        min_events: int = 1,
        max_decision_seconds: float = math.inf,
        max_busy_fraction: float | None = None,
    ) -> bool:
        """Saves the study's state if at least `min_events` events came since the last snapshot,
        or if replaying them would take `max_decision_seconds` of the core's time; with
        `max_busy_fraction`, not before the study has run, since the last save,
        1 / `max_busy_fraction` times as long as that save took.

        The state is taken under the study's lock (calls wait only for that: the
        trials and records changed since the last save, copies of a few lists),
        then encoded and written outside it. A save costs time in the number of
        trials, so in a large study the last rule spaces snapshots out, and the
        events a restart replays grow only as fast as saving gets slower.
        """
        study = self._study(name)
        with study.snapshot_lock:
            with study.lock:
                if study.stale or (
                    study.seq - study.snapshot_seq < min_events
                    and study.decision_seconds < max_decision_seconds
                ) or study.seq == study.snapshot_seq:
                    return False
                started = time.perf_counter()
                if max_busy_fraction is not None and (
                    started - study.snapshot_saved_at < study.snapshot_cost / max_busy_fraction
                ):
                    return False
            # Due (and only more so as events come): a backlog of trials used since the last
            # save (after a replay, all of them) is encoded a batch per lock hold first.
            while True:
                with study.lock:
                    left = study.records.compact(COMPACT_BATCH)
                    left += study.scheduler.trials.compact(COMPACT_BATCH)
                if left <= COMPACT_BATCH:
                    break
            with study.lock:
                study.last_ticket.wait()  # a snapshot never runs ahead of the journal
                with self._lock:
                    if self._studies.get(name) is not study:
                        return False
                build, spent = study.take_snapshot(), study.decision_seconds
            snapshot = build()
            self.journal.save_snapshot(snapshot)
            with study.lock:
                study.snapshot_seq = snapshot.seq
                study.decision_seconds -= spent
                study.snapshot_saved_at = time.perf_counter()
                study.snapshot_cost = study.snapshot_saved_at - started
            return True

    def _replay(self, name: str) -> _Study:
        """Rebuilds a study: its latest snapshot, then the events after it through the core."""
        restart_deadline = self.clock() + self.lease_seconds
        study = self._restored_from_snapshot(name, restart_deadline)
        if study is not None:
            events = iter(self.journal.events(name, after=study.seq))
        else:
            events = iter(self.journal.events(name))
            first = next(events)
            study = _Study(StudySpec.from_json(first.payload["spec"]), first.payload["at"])
        return self._replay_events(study, events, restart_deadline)

    def _restored_from_snapshot(self, name: str, restart_deadline: float) -> _Study | None:
        """The study as its latest snapshot has it; None if it has none the service can use."""
        try:
            snapshot = self.journal.latest_snapshot(name)
            if snapshot is not None and snapshot.state.get("format") != SNAPSHOT_FORMAT:
                log.info("ignoring study %s's snapshot of another format; replaying its journal",
                         name)
                return None
            # Its rows may still be read while the state loads: unreadable ones raise here too.
            return None if snapshot is None else _Study.from_snapshot(snapshot, restart_deadline)
        except ValueError:  # unreadable (cut short, a part lost): the journal alone holds it all
            log.exception("ignoring study %s's unreadable snapshot; replaying its journal", name)
            return None

    def _replay_events(
        self, study: _Study, events: Iterator[Event], restart_deadline: float
    ) -> _Study:
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
                    _scheduler_input(study.spec, p["value"], p.get("metrics")),
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
            else:
                raise JournalMismatch(f"{name} seq {event.seq}: unknown event {event.kind!r}")
            study.seq = study.durable_seq = event.seq
            _touch(study, event.seq, p)
        return study

    # ------------------------------------------------------------------ views

    def _study(self, name: str) -> _Study:
        check_study_name(name)
        with self._lock:
            study = self._studies.get(name)
        if study is None:
            raise NotFound(f"no study named {name!r}")
        return study

    def _view(self, study: _Study) -> StudyView:
        with self._locked(study):
            self._expire_leases(study)
            return self._view_locked(study)

    def _finished(self, study: _Study) -> bool:
        """Whether a free worker would be told DONE (nothing running). The scheduler answers
        with a copy of itself, so the answer is kept for the journal position: it holds
        until the next event, except that a wall-clock budget can end the study meanwhile.
        (Workers open a study with GetStudy: asked anew each time, 64 of them at once
        serialized seconds of copying on the study's lock.)"""
        if study.finished_checked_seq != study.seq or (
            not study.finished and study.spec.budget.max_wall_seconds
        ):
            study.finished = study.scheduler.finished(self.clock())
            study.finished_checked_seq = study.seq
        return study.finished

    def _view_locked(self, study: _Study) -> StudyView:
        scheduler = study.scheduler
        running = scheduler.n_running  # a walk over every trial: once per view
        if scheduler.stopped:
            state = "stopped"
        elif not running and self._finished(study):
            state = "done"
        else:
            state = "running"
        incumbent = scheduler.incumbent()
        pareto = None if study.spec.is_scalar else _pareto(study)
        return StudyView(
            spec=study.spec,
            state=state,
            created_at=study.created_at,
            trials_started=len(scheduler.trials),
            trials_running=running,
            promotions=scheduler.promotions,
            resource_spent=scheduler.resource_spent,
            incumbent=incumbent,
            incumbent_config=(
                dict(scheduler.trials.peek(incumbent.trial_id).config) if incumbent else None
            ),
            pareto=pareto,
            trial_configs={
                p.trial_id: dict(scheduler.trials.peek(p.trial_id).config) for p in pareto.front
            } if pareto else {},
        )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Restoring studies builds millions of objects and frees none; meanwhile Python's
    cycle collector would walk every one of them again and again for nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _report_values(
    spec: StudySpec, value: float, metrics: Mapping[str, float] | None
) -> tuple[float, dict[str, float] | None]:
    """The report's (value, metrics) as journaled: `value` is the first objective's value."""
    if not metrics:
        return value, None
    named = dict(metrics)
    first = spec.objectives[0].name
    if first not in named and len(spec.objectives) == 1 and math.isfinite(value):
        named[first] = value  # `value` still means the single objective
    named = spec.goals.metrics(named)  # checks names and numbers; every metric must be there
    return named[first], named


def _scheduler_input(
    spec: StudySpec, value: float, metrics: Mapping[str, float] | None
) -> float | Mapping[str, float]:
    """A number for a single-objective study (as before), the named metrics otherwise."""
    if spec.is_scalar:
        return value
    if metrics is None:
        raise InvalidArgument(
            f"this study has objectives {[o.name for o in spec.objectives]} and constraints "
            f"{[str(c) for c in spec.constraints]}: report every metric by name"
        )
    return metrics


def _pareto(study: _Study) -> ParetoSummary:
    reports = [
        MetricsReport(o.seq, o.at, trial_id, o.resource, o.metrics)
        for trial_id in study.records
        for o in study.records.peek(trial_id).observations
        if o.metrics
    ]
    return summarize(study.spec.goals, reports, study.spec.reference_point)


def _touch(study: _Study, seq: int, payload: dict[str, Any]) -> None:
    """Marks the trial an event is about as changed at `seq` (for ListTrials' changed_since)."""
    trial_id = payload.get("trial_id")
    if trial_id is not None:
        record_of(study.records, trial_id).changed = seq


def _row(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _state_rows(snapshot: Snapshot, name: str) -> Iterable[list[Any]]:
    """A snapshot's leases or jobs: rows of JSON text; snapshots saved before 30 Nov 2026
    kept them in the state."""
    return snapshot.state[name] if name in snapshot.state else map(json.loads, snapshot.rows[name])


_JOB_FIELDS = tuple(f.name for f in fields(Job))


def _job_json(job: Job) -> dict[str, Any]:
    """Shallow: a snapshot encodes it at once (dataclasses.asdict deep-copied each config:
    the largest part of building a snapshot at 100,000 trials with 5,000 jobs open)."""
    return {**{name: getattr(job, name) for name in _JOB_FIELDS}, "kind": job.kind.value}


def _job_from_json(data: dict[str, Any]) -> Job:
    return Job(**{**data, "kind": JobKind(data["kind"])})


def _reported(record: TrialRecord, resource: int, lease_id: str) -> Observation | None:
    """The report this lease already made at this resource (a resumed segment re-reports
    resources a lost one reported, so the lease is part of the key)."""
    for o in reversed(record.observations):
        if o.resource == resource and o.lease_id == lease_id:
            return o
    return None


def _check_text(value: Any, what: str, limit: int) -> None:
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a string")
    if len(value) > limit:
        raise InvalidArgument(f"{what} is longer than {limit} characters")
