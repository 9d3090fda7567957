"""The workers' calls (Suggest, Report, Fail, Release) and the journaled write of each decision.

Each call is idempotent: a Suggest retried with its request id gets the job it
got (from memory while its lease is open, else from its journal event, which a
`first_attempt` skips looking for); a Report retried under the same lease at the
same resource is recognised from the trial's observations. `_append` queues the
decision's event for the group commit.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from typing import Any, Mapping

from rung.core.errors import InvalidArgument, NotFound
from rung.core.study import StudySpec
from rung.core.types import Decision, Job, JobKind, TrialStatus

from .blobs import check_report_ref
from .records import Observation, TrialRecord
from .storage import Event
from .study_state import IssuedJob, ServiceState, StudyState, touch

log = logging.getLogger("rung.server")


MAX_ID_LENGTH = 128
MAX_TEXT_LENGTH = 4096


class JournaledCalls(ServiceState):
    """Suggest, Report, Fail and Release, journaled; a part of StudyService (service.py)."""

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
            decision = scheduler.report(trial_id, resource, scheduler_input(study.spec, value, metrics))
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

    def _issued_before(
        self, study: StudyState, request_id: str, in_journal: bool = True
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

    def _record_report(
        self, study: StudyState, seq: int, p: dict[str, Any], decision: Decision
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

    def _record_fail(self, study: StudyState, p: dict[str, Any]) -> None:
        self._close_lease(study, p["lease_id"])
        study.records[p["trial_id"]].failures.append(p["reason"])
        study.scheduler.fail(p["trial_id"])

    def _append(self, study: StudyState, kind: str, payload: dict[str, Any]) -> int:
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
        touch(study, seq, payload)
        trial_id = payload.get("trial_id")
        if trial_id is None:
            study.study_wide_seq = seq
        else:
            study.touched.pop(trial_id, None)
            study.touched[trial_id] = seq
        self._notify(study.spec.name, seq, kind)
        return seq

    def _now_durable(self, name: str, seq: int) -> None:
        with self._lock:
            study = self._studies.get(name)
        if study is not None:
            with study.durable:
                study.durable_seq = max(study.durable_seq, seq)
                study.durable.notify_all()


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


def scheduler_input(
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
