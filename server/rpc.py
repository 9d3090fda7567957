"""The gRPC servicer: decode the request, call the service, encode the answer.

It runs on the server's asyncio event loop (grpc.aio). Suggest, Report,
Heartbeat, Fail and Release are decided right on the loop, in microseconds,
and then await the commit of their events without holding a thread: one loop
answers many calls while a commit is on disk, with none of the hand-overs
between threads that a thread per call costs. Everything that may block
(listings, checkpoints on disk, watching a study, creating or deleting one, a
searcher that fits a model, a Suggest's look-up of its request id in a
PostgreSQL journal) runs in a thread pool instead.

Domain errors become status codes in one table (`STATUS_BY_ERROR`); anything
else is logged and answered INTERNAL without leaking a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Executor
from typing import Any, AsyncIterator, BinaryIO, Callable, Iterator, NoReturn, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from rung import wire
from rung.core.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotActive,
    NotFound,
    RungError,
    StorageUnavailable,
)
from rung.v1 import rung_pb2 as pb
from rung.v1 import rung_pb2_grpc

from . import paging
from .blobs import CHUNK_BYTES, BlobKey, BlobStore, DataLoss, NoBlobStore, ResourceExhausted
from .service import IssuedJob, StudyService, StudyView, TrialView, deferred_durability

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
    StorageUnavailable: grpc.StatusCode.UNAVAILABLE,
}

T = TypeVar("T")
_END = object()  # what `next` returns at the end of an iterator run in the pool

# Messages quote what the caller sent; gRPC carries them in a trailer that clients
# refuse above 16 KiB (percent-encoded), so a huge id would turn the answer into
# RESOURCE_EXHAUSTED. 1,000 characters stay below that limit even fully encoded.
MAX_MESSAGE_CHARS = 1000


def status_for(exc: Exception, method: str) -> tuple[grpc.StatusCode, str]:
    """The status a failed call answers: domain errors by the table, anything else
    INTERNAL without its traceback (which goes to the log)."""
    if isinstance(exc, RungError):
        code = next(
            (c for cls, c in STATUS_BY_ERROR.items() if isinstance(exc, cls)),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        return code, _clip(str(exc))
    log.error("internal error in %s", method, exc_info=exc)
    return grpc.StatusCode.INTERNAL, "internal server error; see the server log"


async def _abort(
    context: grpc.aio.ServicerContext, exc: Exception, answer: Callable[..., Any]
) -> NoReturn:
    """Ends the call with the status `exc` maps to (abort raises)."""
    await context.abort(*status_for(exc, answer.__qualname__))
    raise AssertionError("context.abort returned")  # gRPC's abort always raises


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
        self,
        service: StudyService,
        pool: Executor,
        blobs: BlobStore | None = None,
        max_watches: int = 4,
    ):
        self.service = service
        self.blobs = blobs
        self._pool = pool
        # A WatchStudy stream holds one of the pool's threads while it lasts: without a cap,
        # as many watchers as threads would leave none for the calls that need the pool.
        self.max_watches = max_watches
        self._watch_slots = threading.BoundedSemaphore(max_watches)

    # ------------------------------------------------------------------ where calls run

    async def _on_loop(self, context: grpc.aio.ServicerContext, answer: Callable[[], T]) -> T:
        """Runs `answer` on the loop, then awaits (not blocks on) its events' commit."""
        try:
            with deferred_durability() as tickets:
                response = answer()
            for ticket in tickets:
                await ticket.durable()
            return response
        except Exception as exc:
            await _abort(context, exc, answer)

    async def _in_pool(self, context: grpc.aio.ServicerContext, answer: Callable[[], T]) -> T:
        """Runs `answer` in the pool: for work that may block or take a while."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, answer)
        except Exception as exc:
            await _abort(context, exc, answer)

    async def _drain_in_pool(
        self, context: grpc.aio.ServicerContext, items: Iterator[T]
    ) -> AsyncIterator[T]:
        """A blocking iterator's items, each fetched in the pool."""
        while (item := await self._in_pool(context, lambda: next(items, _END))) is not _END:
            yield item  # type: ignore[misc]

    # ------------------------------------------------------------------ studies

    async def CreateStudy(self, request: pb.CreateStudyRequest, context: Any) -> pb.Study:
        return await self._in_pool(
            context, lambda: study_to_pb(self.service.create_study(wire.spec_from_pb(request.spec)))
        )

    async def GetStudy(self, request: pb.GetStudyRequest, context: Any) -> pb.Study:
        return await self._in_pool(context, lambda: study_to_pb(self.service.get_study(request.study)))

    async def ListStudies(
        self, request: pb.ListStudiesRequest, context: Any
    ) -> pb.ListStudiesResponse:
        return await self._in_pool(
            context,
            lambda: pb.ListStudiesResponse(
                studies=[study_to_pb(v) for v in self.service.list_studies()]
            ),
        )

    async def StopStudy(self, request: pb.StopStudyRequest, context: Any) -> pb.Study:
        return await self._in_pool(context, lambda: study_to_pb(self.service.stop_study(request.study)))

    async def DeleteStudy(
        self, request: pb.DeleteStudyRequest, context: Any
    ) -> pb.DeleteStudyResponse:
        def delete() -> pb.DeleteStudyResponse:
            self.service.delete_study(request.study)
            if self.blobs is not None:
                self.blobs.delete_study(request.study)
            return pb.DeleteStudyResponse()

        return await self._in_pool(context, delete)

    async def ListTrials(self, request: pb.ListTrialsRequest, context: Any) -> pb.ListTrialsResponse:
        def page() -> pb.ListTrialsResponse:
            found = self.service.page_trials(
                request.study,
                after=paging.after_from_token(request.page_token),
                limit=request.page_size or paging.DEFAULT_PAGE_SIZE,
                statuses=paging.statuses_from_pb(request.statuses),
                changed_since=request.changed_since,
            )
            return pb.ListTrialsResponse(
                trials=[trial_to_pb(t) for t in found.trials],
                next_page_token=paging.token_after(found.next_after),
                seq=found.seq,
            )

        return await self._in_pool(context, page)

    async def WatchStudy(
        self, request: pb.WatchStudyRequest, context: Any
    ) -> AsyncIterator[pb.StudyEvent]:
        def check() -> None:
            if request.after_seq < 0:
                raise InvalidArgument("after_seq must be >= 0")
            self.service.get_study(request.study)  # NOT_FOUND before the stream starts

        await self._in_pool(context, check)
        if not self._watch_slots.acquire(blocking=False):  # on the loop: never left held
            busy = ResourceExhausted(
                f"this server streams at most {self.max_watches} WatchStudy calls at once "
                "(each holds one of its threads); retry later, or poll ListTrials with "
                "changed_since"
            )
            await context.abort(*status_for(busy, "WatchStudy"))
        ended = threading.Event()
        context.add_done_callback(lambda _: ended.set())
        try:
            events = paging.watch(
                self.service, request.study, request.after_seq, lambda: not ended.is_set()
            )
            async for event in self._drain_in_pool(context, events):
                yield event
        finally:  # the stream ended, failed or was cancelled
            self._watch_slots.release()

    # ------------------------------------------------------------------ workers

    async def Suggest(self, request: pb.SuggestRequest, context: Any) -> pb.Job:
        def suggest() -> pb.Job:
            issued = self.service.suggest(
                request.study, request.worker_id, request.request_id, request.first_attempt
            )
            return job_to_pb(issued, self.service.lease_seconds)

        if self.service.suggests_quickly(request.study, request.first_attempt):
            return await self._on_loop(context, suggest)
        return await self._in_pool(context, suggest)

    async def Report(self, request: pb.ReportRequest, context: Any) -> pb.ReportResponse:
        def report() -> pb.ReportResponse:
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

        return await self._on_loop(context, report)

    async def Heartbeat(self, request: pb.HeartbeatRequest, context: Any) -> pb.HeartbeatResponse:
        return await self._on_loop(
            context,
            lambda: pb.HeartbeatResponse(
                lease_deadline=self.service.heartbeat(request.study, request.lease_id)
            ),
        )

    async def Fail(self, request: pb.FailRequest, context: Any) -> pb.FailResponse:
        def fail() -> pb.FailResponse:
            self.service.fail(request.study, request.trial_id, request.lease_id, request.reason)
            return pb.FailResponse()

        return await self._on_loop(context, fail)

    async def Release(self, request: pb.ReleaseRequest, context: Any) -> pb.ReleaseResponse:
        def release() -> pb.ReleaseResponse:
            self.service.release(
                request.study, request.trial_id, request.lease_id, request.resource,
                request.checkpoint,
            )
            return pb.ReleaseResponse()

        return await self._on_loop(context, release)

    # ------------------------------------------------------------------ checkpoints

    async def UploadCheckpoint(
        self, request_iterator: AsyncIterator[pb.CheckpointChunk], context: Any
    ) -> pb.CheckpointRef:
        chunks = _blocking(request_iterator, asyncio.get_running_loop())

        def upload() -> pb.CheckpointRef:
            header, data = _upload_parts(chunks)
            key = BlobKey(header.study, header.trial_id, header.resource, header.sha256)

            def authorize() -> None:
                self.service.authorize_checkpoint_upload(
                    header.study, header.trial_id, header.lease_id, header.resource
                )

            authorize()
            self._blob_store().receive(key, header.size, data, before_commit=authorize)
            return pb.CheckpointRef(ref=key.ref, size=header.size, sha256=key.sha256)

        return await self._in_pool(context, upload)

    async def DownloadCheckpoint(
        self, request: pb.CheckpointRequest, context: Any
    ) -> AsyncIterator[pb.CheckpointChunk]:
        def open_blob() -> Iterator[pb.CheckpointChunk]:
            key = BlobKey.parse(request.ref)
            blob, size = self._blob_store().open(key)  # opened here, so NOT_FOUND is mapped
            return _blob_chunks(key, blob, size)

        chunks = await self._in_pool(context, open_blob)
        async for chunk in self._drain_in_pool(context, chunks):
            yield chunk

    def _blob_store(self) -> BlobStore:
        if self.blobs is None:
            raise NoBlobStore("this server keeps no checkpoints; workers must use a directory")
        return self.blobs


SERVICE = pb.DESCRIPTOR.services_by_name["Rung"]


def add_to_server(servicer: RungServicer, server: grpc.aio.Server) -> None:
    """Registers the service. A request of one message is parsed here rather than by
    gRPC, whose asyncio server answers bytes that do not parse with UNKNOWN and logs a
    traceback: a malformed request is the client's, INVALID_ARGUMENT."""
    handlers = {}
    for method in SERVICE.methods:
        request = getattr(pb, method.input_type.name)
        serialize = getattr(pb, method.output_type.name).SerializeToString
        behavior = getattr(servicer, method.name)
        if method.client_streaming:
            handlers[method.name] = grpc.stream_unary_rpc_method_handler(
                behavior, request.FromString, serialize
            )
        elif method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                _parsing_stream(behavior, request), None, serialize
            )
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                _parsing(behavior, request), None, serialize
            )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),)
    )
    server.add_registered_method_handlers(SERVICE.full_name, handlers)


async def _parsed(raw: bytes, request: type[Message], context: Any) -> Any:
    try:
        return request.FromString(raw)
    except DecodeError as exc:
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"the request does not parse as a {request.DESCRIPTOR.full_name}: {exc}",
        )


def _parsing(behavior: Callable[..., Any], request: type[Message]) -> Callable[..., Any]:
    async def call(raw: bytes, context: Any) -> Any:
        return await behavior(await _parsed(raw, request, context), context)

    return call


def _parsing_stream(behavior: Callable[..., Any], request: type[Message]) -> Callable[..., Any]:
    async def call(raw: bytes, context: Any) -> AsyncIterator[Any]:
        async for response in behavior(await _parsed(raw, request, context), context):
            yield response

    return call


def _blocking(items: AsyncIterator[T], loop: asyncio.AbstractEventLoop) -> Iterator[T]:
    """An async iterator read from a pool thread: each item is fetched on the loop."""

    async def next_item() -> T:
        return await items.__anext__()

    while True:
        try:
            yield asyncio.run_coroutine_threadsafe(next_item(), loop).result()
        except StopAsyncIteration:
            return
