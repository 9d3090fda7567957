"""The service's views as rung.v1 messages: a study, a trial, an issued job."""

from __future__ import annotations

from typing import Iterable

from rung import wire
from rung.v1 import rung_pb2 as pb

from .service import ImportedResult, ImportedTrial, IssuedJob, StudyView, TrialView
from .study_steering import is_imported


def study_to_pb(view: StudyView) -> pb.Study:
    msg = pb.Study(
        spec=wire.spec_to_pb(view.spec),
        state=wire.STUDY_STATES[view.state],
        trials_started=view.trials_started,
        trials_running=view.trials_running,
        promotions=view.promotions,
        resource_spent=view.resource_spent,
        has_incumbent=view.incumbent is not None,
        created_at=view.created_at,
    )
    if view.incumbent is not None and view.incumbent_config is not None:
        msg.incumbent.CopyFrom(
            pb.Incumbent(
                trial_id=view.incumbent.trial_id,
                config=wire.config_to_pb(view.incumbent_config),
                resource=view.incumbent.resource,
                value=view.incumbent.value,
            )
        )
    if view.pareto is not None:
        wire.pareto_to_pb(view.pareto, view.trial_configs, msg)
    budget = view.budget or view.spec.budget
    msg.budget.CopyFrom(pb.Budget(
        max_trials=budget.max_trials, max_resource=budget.max_resource,
        max_wall_seconds=budget.max_wall_seconds,
    ))
    msg.trials_imported = view.trials_imported
    return msg


def trial_to_pb(view: TrialView) -> pb.Trial:
    r = view.record
    return pb.Trial(
        id=view.trial_id,
        config=wire.config_to_pb(view.config),
        status=wire.TRIAL_STATUSES[view.status],
        bracket=view.bracket,
        segments=[
            pb.Segment(
                seq=s.seq,
                resume_from=s.resume_from,
                milestone=s.milestone,
                worker_id=s.worker_id,
                lease_id=s.lease_id,
                lost=s.lost,
            )
            for s in r.segments
        ],
        observations=[
            pb.Observation(seq=o.seq, resource=o.resource, value=o.value, at=o.at, metrics=o.metrics)
            for o in r.observations
        ],
        checkpoint=r.checkpoint,
        checkpoint_resource=r.checkpoint_resource,
        failures=r.failures,
        lease_deadline=view.lease_deadline,
        imported=is_imported(r.observations),
    )


def job_to_pb(issued: IssuedJob, lease_seconds: float) -> pb.Job:
    job = issued.job
    return pb.Job(
        kind=wire.JOB_KINDS[job.kind],
        trial_id=job.trial_id,
        config=wire.config_to_pb(job.config or {}),
        resume_from=job.resume_from,
        milestone=job.milestone,
        checkpoint=issued.checkpoint,
        lease_id=issued.lease_id,
        lease_deadline=issued.lease_deadline,
        retry_after_ms=int(job.retry_after * 1000),
        lease_seconds=lease_seconds if issued.lease_id else 0.0,
    )


def imported_from_pb(trials: Iterable[pb.ImportedTrial]) -> list[ImportedTrial]:
    """ImportTrials' trials as the service takes them (it checks every value)."""
    return [
        ImportedTrial(
            wire.config_from_pb(t.config),
            [
                ImportedResult(
                    r.resource, r.value if r.HasField("value") else None,
                    wire.metrics_from_pb(r.metrics) or {},
                )
                for r in t.results
            ],
            t.label,
        )
        for t in trials
    ]
