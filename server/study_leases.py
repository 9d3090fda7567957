"""Leases: a job's lease opened with its Suggest, extended by heartbeats, ended by a
result, a release or its expiry (a trial lost that many times fails).

Only the holder of a trial's active lease may report, fail, release it or store
its checkpoints. Expiry is found lazily, by the calls that touch the study.
"""

from __future__ import annotations

import logging
from typing import Any

from rung.core.errors import FailedPrecondition, InvalidArgument
from rung.core.types import Job, JobKind

from .records import Segment, record_of
from .study_state import IssuedJob, Lease, ServiceState, StudyState

log = logging.getLogger("rung.server")


class LeaseKeeping(ServiceState):
    """Opening, extending, checking and ending leases; a part of StudyService (service.py)."""

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

    def _active_lease(self, study: StudyState, trial_id: int, lease_id: str) -> Lease:
        lease = study.leases.get(lease_id)
        if lease is None or lease.trial_id != trial_id:
            raise FailedPrecondition(
                f"lease {lease_id!r} does not hold trial {trial_id} (it expired, ended, "
                "or belongs to another trial); this result is not accepted"
            )
        return lease

    def _expire_leases(self, study: StudyState) -> None:
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

    def _record_job(
        self, study: StudyState, seq: int, p: dict[str, Any], job: Job, deadline: float
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
    def _resume_checkpoint(study: StudyState, job: Job) -> str:
        return study.records[job.trial_id].checkpoint if job.kind is JobKind.RESUME else ""

    @staticmethod
    def _close_lease(study: StudyState, lease_id: str) -> None:
        """The lease ended: its job is no longer kept in memory (the journal has it)."""
        lease = study.leases.pop(lease_id, None)
        if lease is not None and lease.request_id:
            study.jobs_by_request.pop(lease.request_id, None)

    def _record_lost(self, study: StudyState, p: dict[str, Any]) -> None:
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
