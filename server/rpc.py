"""The gRPC servicer: decode the request, call the service, encode the answer.

Domain errors become status codes in one table (`STATUS_BY_ERROR`); anything
else is logged and answered INTERNAL without leaking a traceback.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable, TypeVar

import grpc

from rung import wire
from rung.core.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    RungError,
)
from rung.v1 import rung_pb2 as pb
from rung.v1 import rung_pb2_grpc

from .service import IssuedJob, StudyService, StudyView, TrialView

log = logging.getLogger("rung.server.rpc")

STATUS_BY_ERROR: dict[type[RungError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
}

Handler = TypeVar("Handler", bound=Callable[..., Any])


def _maps_errors(method: Handler) -> Handler:
    @functools.wraps(method)
    def wrapper(self: "RungServicer", request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except RungError as exc:
            code = next(
                (c for cls, c in STATUS_BY_ERROR.items() if isinstance(exc, cls)),
                grpc.StatusCode.INVALID_ARGUMENT,
            )
            context.abort(code, str(exc))
        except Exception:
            log.exception("internal error in %s", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, "internal server error; see the server log")

    return wrapper  # type: ignore[return-value]


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
        observations=[pb.Observation(seq=q, resource=res, value=v) for q, res, v in r.observations],
        checkpoint=r.checkpoint,
        checkpoint_resource=r.checkpoint_resource,
        failures=r.failures,
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


class RungServicer(rung_pb2_grpc.RungServicer):
    def __init__(self, service: StudyService):
        self.service = service

    @_maps_errors
    def CreateStudy(self, request: pb.CreateStudyRequest, context: Any) -> pb.Study:
        return study_to_pb(self.service.create_study(wire.spec_from_pb(request.spec)))

    @_maps_errors
    def GetStudy(self, request: pb.GetStudyRequest, context: Any) -> pb.Study:
        return study_to_pb(self.service.get_study(request.study))

    @_maps_errors
    def ListStudies(self, request: pb.ListStudiesRequest, context: Any) -> pb.ListStudiesResponse:
        return pb.ListStudiesResponse(studies=[study_to_pb(v) for v in self.service.list_studies()])

    @_maps_errors
    def StopStudy(self, request: pb.StopStudyRequest, context: Any) -> pb.Study:
        return study_to_pb(self.service.stop_study(request.study))

    @_maps_errors
    def ListTrials(self, request: pb.ListTrialsRequest, context: Any) -> pb.ListTrialsResponse:
        return pb.ListTrialsResponse(
            trials=[trial_to_pb(t) for t in self.service.list_trials(request.study)]
        )

    @_maps_errors
    def Suggest(self, request: pb.SuggestRequest, context: Any) -> pb.Job:
        issued = self.service.suggest(request.study, request.worker_id, request.request_id)
        return job_to_pb(issued, self.service.lease_seconds)

    @_maps_errors
    def Report(self, request: pb.ReportRequest, context: Any) -> pb.ReportResponse:
        decision, status = self.service.report(
            request.study,
            request.trial_id,
            request.lease_id,
            request.resource,
            request.value,
            request.checkpoint,
        )
        return pb.ReportResponse(
            decision=wire.DECISIONS[decision], status=wire.TRIAL_STATUSES[status]
        )

    @_maps_errors
    def Heartbeat(self, request: pb.HeartbeatRequest, context: Any) -> pb.HeartbeatResponse:
        return pb.HeartbeatResponse(
            lease_deadline=self.service.heartbeat(request.study, request.lease_id)
        )

    @_maps_errors
    def Fail(self, request: pb.FailRequest, context: Any) -> pb.FailResponse:
        self.service.fail(request.study, request.trial_id, request.lease_id, request.reason)
        return pb.FailResponse()

    @_maps_errors
    def Release(self, request: pb.ReleaseRequest, context: Any) -> pb.ReleaseResponse:
        self.service.release(request.study, request.trial_id, request.lease_id)
        return pb.ReleaseResponse()
