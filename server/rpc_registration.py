"""Registering the servicer with a gRPC server, each request of one message parsed by rung.

gRPC's asyncio server answers bytes that do not parse with UNKNOWN and logs a
traceback; parsed here, a malformed request is answered INVALID_ARGUMENT.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable

import grpc
from google.protobuf.message import DecodeError, Message

from rung.v1 import rung_pb2 as pb
from rung.v1 import rung_pb2_grpc


SERVICE = pb.DESCRIPTOR.services_by_name["Rung"]


def add_to_server(servicer: rung_pb2_grpc.RungServicer, server: grpc.aio.Server) -> None:
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
