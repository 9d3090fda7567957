"""Who may talk to the server: the shared token, TLS, and the exposure check.

With a token set, every call must carry `authorization: Bearer <token>`
metadata (compared in constant time), or it is answered UNAUTHENTICATED before
its request is even parsed. That covers the rung.v1 service and server
reflection (which would otherwise describe the API to anyone). Health checking
stays open: load balancers and orchestrators probe it without credentials, and
it says nothing but SERVING / NOT_SERVING.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health

from rung.credentials import CredentialsError, read_pem, resolve_token

from .interceptors import method_parts, rewrap

log = logging.getLogger("rung.server.security")

OPEN_SERVICES = (health.SERVICE_NAME,)
AUTH_METADATA_KEY = "authorization"


class _TokenCheck:
    def __init__(self, token: str, open_services: Sequence[str] = OPEN_SERVICES):
        self._expected = f"Bearer {token}".encode()
        self._open = frozenset(open_services)

    def _lets_through(self, details: grpc.HandlerCallDetails) -> bool:
        service, _ = method_parts(details.method)
        return service in self._open or self._authorized(details.invocation_metadata)

    def _authorized(self, metadata: Sequence[tuple[str, Any]] | None) -> bool:
        for key, value in metadata or ():
            if key == AUTH_METADATA_KEY:
                given = value if isinstance(value, bytes) else value.encode("utf-8", "replace")
                return hmac.compare_digest(given, self._expected)
        return False


class TokenAuthInterceptor(_TokenCheck, grpc.aio.ServerInterceptor):
    """For the server (grpc.aio)."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        if self._lets_through(details):
            return await continuation(details)
        # Unknown methods are refused the same way: a stranger learns nothing about the API.
        handler = await continuation(details) or grpc.unary_unary_rpc_method_handler(None)
        return rewrap(handler, lambda _behavior, _streaming: _refuse_async, parse_requests=False)


class ThreadedTokenAuthInterceptor(_TokenCheck, grpc.ServerInterceptor):
    """For a standby's threaded server, which only refuses calls (standby.py)."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        if self._lets_through(details):
            return continuation(details)
        handler = continuation(details) or grpc.unary_unary_rpc_method_handler(None)
        return rewrap(handler, lambda _behavior, _streaming: _refuse, parse_requests=False)


REFUSAL = "missing or wrong token: give the client --token-file or set RUNG_TOKEN"


def _refuse(request: Any, context: grpc.ServicerContext) -> None:
    _log_refusal(context)
    context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSAL)


async def _refuse_async(request: Any, context: grpc.aio.ServicerContext) -> None:
    _log_refusal(context)
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSAL)


def _log_refusal(context: grpc.ServicerContext | grpc.aio.ServicerContext) -> None:
    log.warning("refused a call without a valid token", extra={"peer": context.peer()})


def is_loopback(host: str) -> bool:
    """Only literal loopback addresses and 'localhost' count; any other name might not be."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerSecurity:
    """The server's token (None: no authentication) and TLS certificate and key (PEM)."""

    token: str | None = None
    tls_cert: bytes | None = None
    tls_key: bytes | None = None

    @classmethod
    def from_files(
        cls,
        token_file: str | Path | None = None,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
        env: Mapping[str, str] = os.environ,
    ) -> ServerSecurity:
        """Reads --token-file (or $RUNG_TOKEN), --tls-cert and --tls-key."""
        if bool(tls_cert) != bool(tls_key):
            raise CredentialsError("--tls-cert and --tls-key must be given together")
        return cls(
            token=resolve_token(token_file, env),
            tls_cert=read_pem(tls_cert, "TLS certificate") if tls_cert else None,
            tls_key=read_pem(tls_key, "TLS key") if tls_key else None,
        )

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    def interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        return [TokenAuthInterceptor(self.token)] if self.token else []

    def threaded_interceptors(self) -> list[grpc.ServerInterceptor]:
        return [ThreadedTokenAuthInterceptor(self.token)] if self.token else []

    def add_port(self, server: grpc.Server | grpc.aio.Server, address: str) -> int:
        """Binds `address` (TLS when configured); returns the port, 0 on failure."""
        if self.tls_cert is None or self.tls_key is None:
            return server.add_insecure_port(address)
        creds = grpc.ssl_server_credentials([(self.tls_key, self.tls_cert)])
        return server.add_secure_port(address, creds)

    def check_exposure(self, host: str, insecure: bool) -> None:
        """Refuses to serve a non-loopback address to anyone who connects, unless told to."""
        if is_loopback(host):
            return
        if not self.token and not insecure:
            raise CredentialsError(
                f"refusing to listen on {host} without authentication: anyone who can reach "
                "it could read and change every study. Give --token-file (or set RUNG_TOKEN), "
                "ideally with --tls-cert/--tls-key, or pass --insecure on a trusted network."
            )
        if self.token and not self.tls:
            log.warning(
                "listening on %s with a token but without TLS: the token crosses the network "
                "in plaintext; use --tls-cert/--tls-key on untrusted networks",
                host,
            )
