"""One study in memory: its scheduler, open leases, records, and what a snapshot of it holds.

All access is under the study's lock (`StudyState.lock`); the service (service.py)
takes it. A snapshot is the state replay would rebuild, taken under the lock and
encoded outside it. `ServiceState` names what the service's parts share.
"""

from __future__ import annotations

import heapq
import json
import threading
from collections import ChainMap
from dataclasses import dataclass, fields
from typing import Any, Callable, Iterable, Iterator

from rung.core.schedulers import Scheduler
from rung.core.study import StudySpec
from rung.core.types import Job, JobKind

from .group_commit import DONE, Committer, Ticket
from .records import record_of, trial_records
from .storage import Journal, Snapshot


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


# Called as listener(study, seq, kind) after each journaled event; see StudyService.subscribe.
EventListener = Callable[[str, int, str], None]

# The layout of StudyState.take_snapshot(); a snapshot of another layout is ignored (the journal
# is the truth: that restart replays it all, and the next snapshot is written in this layout).
SNAPSHOT_FORMAT = 7


class RowCache:
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


class StudyState:
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
        self.lease_rows, self.job_rows = RowCache(), RowCache()
        # Whether the study was finished when last asked, and at which journal position
        # (see StudyService._finished: asking the scheduler costs a deep copy of it).
        self.finished = False
        self.finished_checked_seq = 0
        # For readers that refresh only what changed (the dashboard): each trial's last
        # event, oldest first, and the last event that changed trials without naming one.
        self.touched: dict[int, int] = {}
        self.study_wide_seq = 0
        # Steering (study_steering.py): the answers of steering calls by request id, and
        # the imported trials by their configuration and results (imported once each).
        self.steer_requests: dict[str, Any] = {}
        self.imported_keys: set[str] = set()

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
        steering = (
            {"requests": dict(self.steer_requests), "imported": sorted(self.imported_keys)}
            if self.steer_requests or self.imported_keys else None
        )

        def build() -> Snapshot:
            return Snapshot(name, seq, {
                "format": SNAPSHOT_FORMAT,
                "spec": spec,
                "created_at": created_at,
                "scheduler": scheduler,
                **({"steering": steering} if steering else {}),
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
    def from_snapshot(cls, snapshot: Snapshot, deadline: float) -> "StudyState":
        """The study a snapshot describes; every open lease and issued job gets `deadline`."""
        state = snapshot.state
        study = cls(StudySpec.from_json(state["spec"]), state["created_at"])
        study.seq = study.snapshot_seq = study.durable_seq = snapshot.seq
        # The scheduler's state before its trials' rows, which may still be being read.
        study.scheduler.load_state_dict(ChainMap(state["scheduler"], snapshot.rows))
        for lease_id, trial_id, worker_id, request_id in _state_rows(snapshot, "leases"):
            study.open_lease(Lease(lease_id, trial_id, worker_id, deadline, request_id))
        study.records = trial_records(snapshot.rows["records"])
        steering = state.get("steering", {})
        study.steer_requests = dict(steering.get("requests", {}))
        study.imported_keys = set(steering.get("imported", ()))
        study.jobs_by_request = {
            request_id: IssuedJob(_job_from_json(job), lease_id, deadline, checkpoint)
            for request_id, lease_id, checkpoint, job in _state_rows(snapshot, "jobs")
        }
        return study


def touch(study: StudyState, seq: int, payload: dict[str, Any]) -> None:
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


class ServiceState:
    """What StudyService's parts (study_registry.py, study_calls.py, study_leases.py,
    study_reads.py, study_recovery.py) share: the attributes its __init__ sets."""

    journal: Journal
    clock: Callable[[], float]
    lease_seconds: float
    max_lost: int
    _studies: dict[str, StudyState]
    _lock: threading.Lock  # guards _studies and _listeners
    _listeners: list[EventListener]
    _committer: Committer
