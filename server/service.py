"""The study service: studies, leases, idempotency and journaling of core decisions.

Every change to a study is an event in the journal, written before the call
that caused it returns. After a restart each study is rebuilt by replaying its
events through a fresh scheduler: the core is deterministic, so replay makes
the same decisions, and the service checks that it does (a mismatch means a
corrupt journal or a nondeterminism bug, and is refused loudly).

Events: created, suggest (a START or RESUME job was issued), report, lost (a
lease expired), fail, stop; and the steering of a running study (study_steering.py):
budget, retry, import. WAIT and DONE answers change nothing and are not
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

The service is assembled from its parts, each a class of its own module:
study_registry.py (the studies and their locks), study_calls.py (the workers'
idempotent calls and the journaled write), study_leases.py (leases),
study_reads.py (views, pages, watching), study_recovery.py (replay and reloads);
study_state.py holds one study in memory. Saving snapshots stays here.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable

from .group_commit import CommitMetrics, Committer
from .storage import Journal
from .study_calls import MAX_ID_LENGTH, MAX_TEXT_LENGTH, JournaledCalls
from .study_leases import LeaseKeeping
from .study_reads import MAX_PAGE_SIZE, StudyReads, StudySnapshot, StudyView, TrialPage, TrialView
from .study_recovery import JournalMismatch, StudyRecovery, collector_paused
from .study_registry import StudyRegistry, deferred_durability
from .study_state import SNAPSHOT_FORMAT, EventListener, IssuedJob, Lease, StudyState
from .study_state import RowCache as _RowCache
from .study_steering import ImportedResult, ImportedTrial, StudySteering

__all__ = [
    "COMPACT_BATCH", "MAX_ID_LENGTH", "MAX_PAGE_SIZE", "MAX_TEXT_LENGTH", "SNAPSHOT_FORMAT",
    "EventListener", "ImportedResult", "ImportedTrial", "IssuedJob", "JournalMismatch", "Lease",
    "StudyService", "StudySnapshot",
    "StudyView", "TrialPage", "TrialView", "_RowCache", "deferred_durability",
]

# A snapshot encodes the trials used since the last one under the study's lock; a backlog
# larger than this is encoded first in batches of this many, the lock released in between.
COMPACT_BATCH = 5_000


class StudyService(
    StudyRegistry, JournaledCalls, LeaseKeeping, StudyReads, StudyRecovery, StudySteering
):
    """Studies, their leases and reads, every decision journaled before it is answered."""

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
        self._studies: dict[str, StudyState] = {}
        self._lock = threading.Lock()
        self._listeners: list[EventListener] = []
        with collector_paused():
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
