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

Beside it: rpc_errors.py (status codes), rpc_messages.py (views as messages),
rpc_streams.py (checkpoint streams), rpc_registration.py (add_to_server).
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Executor
from typing import Any, AsyncIterator, Callable, Iterator, TypeVar

import grpc

from rung import wire
from rung.core.errors import InvalidArgument
from rung.v1 import rung_pb2 as pb
from rung.v1 import rung_pb2_grpc

from . import paging
from .blobs import BlobKey, BlobStore, NoBlobStore, ResourceExhausted
from .rpc_errors import MAX_MESSAGE_CHARS, STATUS_BY_ERROR, abort_with, status_for
from .rpc_messages import imported_from_pb, job_to_pb, study_to_pb, trial_to_pb
from .rpc_registration import SERVICE, add_to_server
from .rpc_streams import blob_chunks, blocking_iterator, upload_parts
from .service import StudyService, deferred_durability

__all__ = [
    "MAX_MESSAGE_CHARS", "SERVICE", "STATUS_BY_ERROR", "RungServicer", "add_to_server",
    "job_to_pb", "status_for", "study_to_pb", "trial_to_pb",
]

T = TypeVar("T")
_END = object()  # what `next` returns at the end of an iterator run in the pool


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
            await abort_with(context, exc, answer)

    async def _in_pool(self, context: grpc.aio.ServicerContext, answer: Callable[[], T]) -> T:
        """Runs `answer` in the pool: for work that may block or take a while."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, answer)
        except Exception as exc:
            await abort_with(context, exc, answer)

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

    # ------------------------------------------------------------------ steering

    async def SetBudget(self, request: pb.SetBudgetRequest, context: Any) -> pb.Study:
        limits = {
            name: getattr(request, name)
            for name in ("max_trials", "max_resource", "max_wall_seconds")
            if request.HasField(name)
        }
        return await self._in_pool(context, lambda: study_to_pb(
            self.service.set_budget(request.study, request.request_id, **limits)
        ))

    async def RetryTrials(
        self, request: pb.RetryTrialsRequest, context: Any
    ) -> pb.RetryTrialsResponse:
        return await self._in_pool(context, lambda: pb.RetryTrialsResponse(
            trial_ids=self.service.retry_trials(
                request.study, list(request.trial_ids), request.request_id
            )
        ))

    async def ImportTrials(
        self, request: pb.ImportTrialsRequest, context: Any
    ) -> pb.ImportTrialsResponse:
        def add() -> pb.ImportTrialsResponse:
            ids, skipped = self.service.import_trials(
                request.study, imported_from_pb(request.trials), request.request_id
            )
            return pb.ImportTrialsResponse(trial_ids=ids, skipped=skipped)

        return await self._in_pool(context, add)

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
        chunks = blocking_iterator(request_iterator, asyncio.get_running_loop())

        def upload() -> pb.CheckpointRef:
            header, data = upload_parts(chunks)
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
            return blob_chunks(key, blob, size)

        chunks = await self._in_pool(context, open_blob)
        async for chunk in self._drain_in_pool(context, chunks):
            yield chunk

    def _blob_store(self) -> BlobStore:
        if self.blobs is None:
            raise NoBlobStore("this server keeps no checkpoints; workers must use a directory")
        return self.blobs
