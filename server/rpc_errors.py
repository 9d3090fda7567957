"""How a failed call answers: domain errors by one table of status codes, anything else INTERNAL.

The traceback of an unexpected error goes to the log, never to the caller; a
message that quotes what the caller sent is clipped to fit gRPC's trailers.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, NoReturn

import grpc

from rung.core.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotActive,
    NotFound,
    RungError,
    StorageUnavailable,
)

from .blobs import DataLoss, NoBlobStore, ResourceExhausted

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


async def abort_with(
    context: grpc.aio.ServicerContext, exc: Exception, answer: Callable[..., Any]
) -> NoReturn:
    """Ends the call with the status `exc` maps to (abort raises)."""
    await context.abort(*status_for(exc, answer.__qualname__))
    raise AssertionError("context.abort returned")  # gRPC's abort always raises


def _clip(message: str) -> str:
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 20] + f"... ({len(message)} chars)"
