"""Streams of checkpoint chunks: an upload split into header and data, a blob sent as chunks,
and an async request stream read from a pool thread."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, BinaryIO, Iterator, TypeVar

from rung.core.errors import InvalidArgument
from rung.v1 import rung_pb2 as pb

from .blobs import CHUNK_BYTES, BlobKey

T = TypeVar("T")


def upload_parts(
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


def blob_chunks(key: BlobKey, blob: BinaryIO, size: int) -> Iterator[pb.CheckpointChunk]:
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


def blocking_iterator(items: AsyncIterator[T], loop: asyncio.AbstractEventLoop) -> Iterator[T]:
    """An async iterator read from a pool thread: each item is fetched on the loop."""

    async def next_item() -> T:
        return await items.__anext__()

    while True:
        try:
            yield asyncio.run_coroutine_threadsafe(next_item(), loop).result()
        except StopAsyncIteration:
            return
