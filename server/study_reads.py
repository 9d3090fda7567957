"""What readers see of a study: GetStudy's view, pages of trials, journal events to watch,
and the copies the dashboard refreshes by what changed since a journal position.

Every view is taken in one hold of the study's lock, so it is consistent; lease
expiry is applied first, so a view never shows a job whose lease has run out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rung.core.errors import InvalidArgument
from rung.core.results import MetricsReport, ParetoSummary, summarize
from rung.core.schedulers import Incumbent
from rung.core.study import StudySpec
from rung.core.types import Budget, TrialStatus

from .records import TrialRecord
from .retention import TrialCheckpoints
from .storage import Event
from .study_state import ServiceState, StudyState


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
    budget: Budget | None = None  # the budget now (steered); None: spec.budget
    trials_imported: int = 0


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


class StudyReads(ServiceState):
    """The service's read side; a part of StudyService (service.py)."""

    def get_study(self, name: str) -> StudyView:
        return self._view(self._study(name))

    def list_studies(self) -> list[StudyView]:
        with self._lock:
            studies = list(self._studies.values())
        return [self._view(s) for s in studies]

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

    def _trial_views(self, study: StudyState, ids: list[int] | None) -> list[TrialView]:
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

    def _view(self, study: StudyState) -> StudyView:
        with self._locked(study):
            self._expire_leases(study)
            return self._view_locked(study)

    def _finished(self, study: StudyState) -> bool:
        """Whether a free worker would be told DONE (nothing running). The scheduler answers
        with a copy of itself, so the answer is kept for the journal position: it holds
        until the next event, except that a wall-clock budget can end the study meanwhile.
        (Workers open a study with GetStudy: asked anew each time, 64 of them at once
        serialized seconds of copying on the study's lock.)"""
        if study.finished_checked_seq != study.seq or (
            not study.finished and study.scheduler.budget.max_wall_seconds
        ):
            study.finished = study.scheduler.finished(self.clock())
            study.finished_checked_seq = study.seq
        return study.finished

    def _view_locked(self, study: StudyState) -> StudyView:
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
            trials_started=len(scheduler.trials) - scheduler.imported,
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
            budget=scheduler.budget,
            trials_imported=scheduler.imported,
        )


def _pareto(study: StudyState) -> ParetoSummary:
    reports = [
        MetricsReport(o.seq, o.at, trial_id, o.resource, o.metrics)
        for trial_id in study.records
        for o in study.records.peek(trial_id).observations
        if o.metrics
    ]
    return summarize(study.spec.goals, reports, study.spec.reference_point)
