"""A connection to one or more rung servers: which one is asked, and every call retried.

Several servers sharing one database ("host1:50051,host2:50051") are one
connection: a call goes to one and moves on to the next whenever it is
unavailable or a standby, so the caller follows whichever server is active.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, TypeVar

import grpc

from rung.credentials import check_token, resolve_ca_file, resolve_token
from rung.v1 import rung_pb2_grpc

from .channel import open_channel

log = logging.getLogger("rung.client")

T = TypeVar("T")
_Self = TypeVar("_Self", bound="Connection")

# CANCELLED: a call queued in a server that is shutting down is dropped unrun.
# Retrying is safe: every write RPC is idempotent (request id, (trial, resource, lease)).
RETRYABLE = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
)
# gRPC's default reconnect backoff grows to 120 s, so after a server outage a client
# could come back later than its leases last and lose trials through no fault of its
# own. A restarted server is found again within about a second instead.
RECONNECT_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)
FIRST_RETRY_DELAY, MAX_RETRY_DELAY = 0.05, 2.0  # seconds between attempts of a call


class Connection:
    """Channels to the servers at `address` and the retry loop every call goes through
    (rung.client.Client builds on it; see there for the arguments)."""

    def __init__(
        self,
        address: str,
        retry_seconds: float = 120.0,
        call_timeout: float = 30.0,
        channel: grpc.Channel | None = None,
        *,
        token: str | None = None,
        ca_file: str | None = None,
        wait_for_ready: bool | None = None,
    ):
        self.address = address
        self.retry_seconds = retry_seconds
        self.call_timeout = call_timeout
        token = resolve_token(None) if token is None else check_token(token, "the token argument")
        addresses = [a.strip() for a in address.split(",") if a.strip()] or [address]
        self._channels = [channel] if channel is not None else [
            open_channel(a, token, resolve_ca_file(ca_file), options=RECONNECT_OPTIONS)
            for a in addresses
        ]
        self._stubs = [rung_pb2_grpc.RungStub(c) for c in self._channels]
        self._current = 0
        self._switch_lock = threading.Lock()
        # One server: a call waits for it to come back (a worker riding out a restart).
        # Several: a call to one that is down fails at once, so the retry loop can try the
        # next. `wait_for_ready=False` fails at once with one server too, for a command
        # whose user should hear within seconds that nothing answers there.
        self.wait_for_ready = len(self._stubs) == 1 if wait_for_ready is None else wait_for_ready

    @property
    def _stub(self) -> rung_pb2_grpc.RungStub:
        return self._stubs[self._current]

    def _next_server(self, failed: int) -> None:
        """After a failure on server `failed`, the next one (unless another thread moved on)."""
        with self._switch_lock:
            if self._current == failed:
                self._current = (failed + 1) % len(self._stubs)

    def close(self) -> None:
        for channel in self._channels:
            channel.close()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, request: Any) -> Any:
        """Calls an RPC, retrying with backoff while the server is unavailable. A request
        that says it is a `first_attempt` says so on its first attempt only."""

        def attempt() -> Any:
            try:
                return getattr(self._stub, method)(
                    request, timeout=self.call_timeout, wait_for_ready=self.wait_for_ready
                )
            finally:
                if getattr(request, "first_attempt", False):
                    request.first_attempt = False

        return self.retrying(method, attempt)

    def retrying(self, method: str, attempt: Callable[[], T]) -> T:
        """Runs `attempt` (one whole RPC, streams included) until the server answers.

        The delay between attempts doubles once per round over the servers, not per
        attempt: with two, one dead and one taking over, doubling per attempt left the
        one taking over asked only at 0.05, 0.35 and 1.55 s, so a failover that took
        0.4 s was seen after 1.6 s."""
        give_up = time.monotonic() + self.retry_seconds
        failures = 0
        while True:
            server = self._current
            try:
                return attempt()
            except grpc.RpcError as exc:
                rounds = min(failures // len(self._stubs), 16)
                delay = min(MAX_RETRY_DELAY, FIRST_RETRY_DELAY * 2**rounds)
                if exc.code() not in RETRYABLE or time.monotonic() + delay > give_up:
                    raise
                failures += 1
                if len(self._stubs) > 1:
                    self._next_server(server)
                log.info("%s: server unavailable, retrying in %.2fs", method, delay)
                time.sleep(delay)
