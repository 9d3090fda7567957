"""The gRPC servicer: decode the request, call the service, encode the answer.

Domain errors become status codes in one table (`STATUS_BY_ERROR`); anything
else is logged and answered INTERNAL without leaking a traceback.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any, BinaryIO, Callable, Iterator, TypeVar

import grpc

from rung import wire
from rung.core.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotActive,
    NotFound,
    RungError,
)
from rung.v1 import rung_pb2 as pb
from rung.v1 import rung_pb2_grpc

from . import paging
from .blobs import CHUNK_BYTES, BlobKey, BlobStore, DataLoss, NoBlobStore, ResourceExhausted
from .service import IssuedJob, StudyService, StudyView, TrialView

log = logging.getLogger("rung.server.rpc")

STATUS_BY_ERROR: dict[type[RungError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    DataLoss: grpc.StatusCode.DATA_LOSS,
    NoBlobStore: grpc.StatusCode.UNIMPLEMENTED,
    NotActive: grpc.StatusCode.UNAVAILABLE,  # clients retry, and try their other addresses
}

Handler = TypeVar("Handler", bound=Callable[..., Any])

# Messages quote what the caller sent; gRPC carries them in a trailer that clients
# refuse above 16 KiB (percent-encoded), so a huge id would turn the answer into
# RESOURCE_EXHAUSTED. 1,000 characters stay below that limit even fully encoded.
MAX_MESSAGE_CHARS = 1000


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
            context.abort(code, _clip(str(exc)))
        except Exception:
            log.exception("internal error in %s", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, "internal server error; see the server log")

    return wrapper  # type: ignore[return-value]


def _clip(message: str) -> str:
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 20] + f"... ({len(message)} chars)"


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


def _upload_parts(
    chunks: Iterator[pb.CheckpointChunk],
) -> tuple[pb.CheckpointHeader, Iterator[bytes]]:
    """Splits an upload stream into its header and a lazy iterator over the data."""
    first = next(chunks, None)
    if first is None or first.WhichOneof("part") != "header":
        raise InvalidArgument("a checkpoint upload starts with a header chunk")

    def data() -> Iterator[bytes]:
        for chunk in chunks:
            if chunk.WhichOneof("part") != "data":
                raise InvalidArgument("only the first chunk of an upload may be a header")
            yield chunk.data

    return first.header, data()


def _blob_chunks(key: BlobKey, blob: BinaryIO, size: int) -> Iterator[pb.CheckpointChunk]:
    with blob:
        yield pb.CheckpointChunk(
            header=pb.CheckpointHeader(
                study=key.study,
                trial_id=key.trial_id,
                resource=key.resource,
                size=size,
                sha256=key.sha256,
            )
        )
        while data := blob.read(CHUNK_BYTES):
            yield pb.CheckpointChunk(data=data)


class RungServicer(rung_pb2_grpc.RungServicer):
    def __init__(
        self, service: StudyService, blobs: BlobStore | None = None, max_watches: int = 4
    ):
        self.service = service
        self.blobs = blobs
        # A WatchStudy stream holds one of the server's RPC threads while it lasts: without
        # a cap, as many watchers as threads would leave none for workers' calls.
        self.max_watches = max_watches
        self._watch_slots = threading.BoundedSemaphore(max_watches)

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
    def DeleteStudy(self, request: pb.DeleteStudyRequest, context: Any) -> pb.DeleteStudyResponse:
        self.service.delete_study(request.study)
        if self.blobs is not None:
            self.blobs.delete_study(request.study)
        return pb.DeleteStudyResponse()

    @_maps_errors
    def ListTrials(self, request: pb.ListTrialsRequest, context: Any) -> pb.ListTrialsResponse:
        page = self.service.page_trials(
            request.study,
            after=paging.after_from_token(request.page_token),
            limit=request.page_size or paging.DEFAULT_PAGE_SIZE,
            statuses=paging.statuses_from_pb(request.statuses),
            changed_since=request.changed_since,
        )
        return pb.ListTrialsResponse(
            trials=[trial_to_pb(t) for t in page.trials],
            next_page_token=paging.token_after(page.next_after),
            seq=page.seq,
        )

    @_maps_errors
    def WatchStudy(self, request: pb.WatchStudyRequest, context: Any) -> Iterator[pb.StudyEvent]:
        if request.after_seq < 0:
            raise InvalidArgument("after_seq must be >= 0")
        self.service.get_study(request.study)  # NOT_FOUND before the stream starts
        if not self._watch_slots.acquire(blocking=False):
            raise ResourceExhausted(
                f"this server streams at most {self.max_watches} WatchStudy calls at once "
                "(each holds one of its RPC threads); retry later, or poll ListTrials with "
                "changed_since"
            )
        return self._holding_a_watch_slot(
            paging.watch(self.service, request.study, request.after_seq, context.is_active)
        )

    def _holding_a_watch_slot(self, events: Iterator[pb.StudyEvent]) -> Iterator[pb.StudyEvent]:
        try:
            yield from events
        finally:  # the stream ended, failed or was cancelled (the generator is closed)
            self._watch_slots.release()

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
            metrics=wire.metrics_from_pb(request.metrics),
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
        self.service.release(
            request.study, request.trial_id, request.lease_id, request.resource, request.checkpoint
        )
        return pb.ReleaseResponse()

    @_maps_errors
    def UploadCheckpoint(
        self, request_iterator: Iterator[pb.CheckpointChunk], context: Any
    ) -> pb.CheckpointRef:
        header, data = _upload_parts(request_iterator)
        key = BlobKey(header.study, header.trial_id, header.resource, header.sha256)

        def authorize() -> None:
            self.service.authorize_checkpoint_upload(
                header.study, header.trial_id, header.lease_id, header.resource
            )

        authorize()
        self._blob_store().receive(key, header.size, data, before_commit=authorize)
        return pb.CheckpointRef(ref=key.ref, size=header.size, sha256=key.sha256)

    @_maps_errors
    def DownloadCheckpoint(
        self, request: pb.CheckpointRequest, context: Any
    ) -> Iterator[pb.CheckpointChunk]:
        key = BlobKey.parse(request.ref)
        blob, size = self._blob_store().open(key)  # opened here, so NOT_FOUND is mapped
        return _blob_chunks(key, blob, size)

    def _blob_store(self) -> BlobStore:
        if self.blobs is None:
            raise NoBlobStore("this server keeps no checkpoints; workers must use a directory")
        return self.blobs
