"""What a standby `rung serve` answers while another server is active.

Health checks say NOT_SERVING; every rung.v1.Rung call is refused with
UNAVAILABLE and the active server's address, which clients given several
addresses (`--server a:50051,b:50051`) take as the cue to try the next one.
"""

from __future__ import annotations

from concurrent import futures
from dataclasses import dataclass
from typing import Any, Callable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from rung.v1 import rung_pb2

from .security import ServerSecurity

_RUNG = rung_pb2.DESCRIPTOR.services_by_name["Rung"]


class _Refuse(grpc.GenericRpcHandler):
    """Refuses every Rung method, whatever its streaming shape, with UNAVAILABLE."""

    def __init__(self, hint: Callable[[], str]):
        self._hint = hint
        self.taking_over = False  # this server holds the lead and is restoring its studies

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        prefix = f"/{_RUNG.full_name}/"
        if not details.method.startswith(prefix):
            return None
        method = _RUNG.methods_by_name.get(details.method[len(prefix):])
        if method is None:
            return None

        def refuse(request: Any, context: grpc.ServicerContext) -> Any:
            if self.taking_over:
                context.abort(
                    grpc.StatusCode.UNAVAILABLE,
                    "this rung server is taking over: it is restoring its studies; retry",
                )
            active = self._hint()
            where = f"the active one is {active}" if active else "no server is active yet"
            context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"this rung server is a standby; {where} (give clients every address: "
                "--server host1:port,host2:port)",
            )

        make = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }[(method.client_streaming, method.server_streaming)]
        return make(refuse)


STOP_GRACE_SECONDS = 1.0
# gRPC's default where the platform has it, stated: the active server binds the port its
# standby still listens on (StandbyServer.take_over).
REUSE_PORT = ("grpc.so_reuseport", 1)


@dataclass
class StandbyServer:
    server: grpc.Server
    port: int
    refuse: _Refuse

    def take_over(self) -> None:
        """Keeps refusing calls, saying the server is restoring its studies: until the active
        server listens on the same port (gRPC binds with SO_REUSEPORT), clients get quick
        answers to retry on, not refused connections, which gRPC retries only after a
        back-off of a second or more (measured: restarts at a million trials took 0.8 s
        longer with the port closed while the studies were restored)."""
        self.refuse.taking_over = True

    def stop(self) -> None:
        # A grace lets calls in flight (health checks, refusals: all instant) be answered
        # rather than cancelled while the port passes to the active server.
        self.server.stop(STOP_GRACE_SECONDS).wait()


def start_standby(
    host: str, port: int, security: ServerSecurity, hint: Callable[[], str]
) -> StandbyServer:
    refuse = _Refuse(hint)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="rung-standby"),
        handlers=[refuse],
        options=[REUSE_PORT],
        interceptors=security.threaded_interceptors(),
    )
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", _RUNG.full_name):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    bound = security.add_port(server, f"{host}:{port}")
    if bound == 0:
        raise OSError(f"could not bind {host}:{port}")
    server.start()
    return StandbyServer(server, bound, refuse)
