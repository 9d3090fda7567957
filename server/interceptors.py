"""Rewrapping a gRPC method handler, whatever its streaming kind.

Server interceptors (authentication, metrics) replace a handler's behavior
but must keep its kind: a client-streaming RPC answered by a unary handler
would read its request stream wrongly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

Behavior = Callable[[Any, grpc.ServicerContext], Any]
# wrap(behavior, response_streaming) -> new behavior
Wrapper = Callable[[Behavior, bool], Behavior]


def method_parts(full_method: str) -> tuple[str, str]:
    """'/rung.v1.Rung/Suggest' -> ('rung.v1.Rung', 'Suggest')."""
    service, _, method = full_method.lstrip("/").partition("/")
    return service, method


def rewrap(
    handler: grpc.RpcMethodHandler, wrap: Wrapper, parse_requests: bool = True
) -> grpc.RpcMethodHandler:
    """A handler of the same kind whose behavior is wrapped.

    `parse_requests=False` hands the behavior raw bytes: a handler that only
    refuses the call need not parse a stranger's payload.
    """
    if handler.request_streaming and handler.response_streaming:
        factory, behavior = grpc.stream_stream_rpc_method_handler, handler.stream_stream
    elif handler.request_streaming:
        factory, behavior = grpc.stream_unary_rpc_method_handler, handler.stream_unary
    elif handler.response_streaming:
        factory, behavior = grpc.unary_stream_rpc_method_handler, handler.unary_stream
    else:
        factory, behavior = grpc.unary_unary_rpc_method_handler, handler.unary_unary
    return factory(
        wrap(behavior, handler.response_streaming),
        request_deserializer=handler.request_deserializer if parse_requests else None,
        response_serializer=handler.response_serializer,
    )
