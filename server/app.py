"""Assembles and runs the gRPC server: servicer, health checking, reflection."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from rung.v1 import rung_pb2, rung_pb2_grpc

from .rpc import RungServicer
from .service import StudyService
from .storage import SqliteJournal

log = logging.getLogger("rung.server")

SERVICE_NAME = rung_pb2.DESCRIPTOR.services_by_name["Rung"].full_name
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    service: StudyService
    health: health.HealthServicer

    def stop(self, grace: float = 5.0) -> None:
        """Refuses new calls, lets in-flight ones finish, then closes the journal."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        self.service.journal.close()


def start_server(
    service: StudyService, host: str = "127.0.0.1", port: int = 0, max_workers: int = 16
) -> RunningServer:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="rung-rpc"),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    rung_pb2_grpc.add_RungServicer_to_server(RungServicer(service), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"could not bind {host}:{port}")
    server.start()
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, bound, service, health_servicer)


def serve(db: Path, host: str, port: int, lease_seconds: float) -> int:
    """Runs until SIGTERM or SIGINT; prints the bound address first, for scripts."""
    service = StudyService(SqliteJournal(db), lease_seconds=lease_seconds)
    running = start_server(service, host, port)
    print(f"rung serving on {host}:{running.port}", flush=True)
    log.info("serving", extra={"host": host, "port": running.port, "db": str(db)})
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    log.info("shutting down")
    running.stop()
    return 0
