"""Opens the gRPC channel to a rung server: plaintext or TLS, with or without a token.

The token travels as `authorization: Bearer <token>` metadata added by a client
interceptor. gRPC's own `access_token_call_credentials` would refuse a
plaintext channel, and a token on a loopback or trusted network without TLS is
a supported setup, so one interceptor serves both cases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import grpc

from rung.credentials import read_pem

AUTH_METADATA_KEY = "authorization"


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Sequence[tuple[str, str]] | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: Any


class _BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds the token to every call, whatever its streaming kind."""

    def __init__(self, token: str):
        self._header = (AUTH_METADATA_KEY, f"Bearer {token}")

    def _with_token(self, details: grpc.ClientCallDetails) -> _CallDetails:
        return _CallDetails(
            details.method,
            details.timeout,
            [*(details.metadata or ()), self._header],
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )

    def _call(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    intercept_unary_unary = _call
    intercept_unary_stream = _call
    intercept_stream_unary = _call
    intercept_stream_stream = _call


def open_channel(
    address: str,
    token: str | None = None,
    ca_file: str | None = None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.Channel:
    """TLS verified against `ca_file` when given, else plaintext; the token when given."""
    if ca_file:
        creds = grpc.ssl_channel_credentials(root_certificates=read_pem(ca_file, "CA file"))
        channel = grpc.secure_channel(address, creds, options=list(options))
    else:
        channel = grpc.insecure_channel(address, options=list(options))
    if token:
        channel = grpc.intercept_channel(channel, _BearerToken(token))
    return channel
