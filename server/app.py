"""Assembles and runs the gRPC server: servicer, health checking, reflection."""

from __future__ import annotations

import asyncio
import errno
import faulthandler
import gc
import logging
import os
import signal
import socket
import sys
import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection
from threadpoolctl import threadpool_limits

from rung.core.errors import StorageUnavailable

from .blobs import BlobStore, CheckpointSettings
from .http import start_dashboard
from .memory import release_freed_memory
from .metrics import ServerMetrics
from .retention import Sweeper
from .rpc import SERVICE, RungServicer, add_to_server
from .security import ServerSecurity
from .service import StudyService
from .snapshots import DEFAULT_EVERY, Snapshotter
from .standby import REUSE_PORT, StandbyServer
from .tracking import start_mirrors
from .storage import Journal
from .database import DEFAULT_DB_WAIT, DatabaseUnreachable, canonical, is_postgres, redact
from .journals import hold_sqlite_file, open_journal
from .launch import READY

if TYPE_CHECKING:
    from .leadership import Leadership

log = logging.getLogger("rung.server")

SERVICE_NAME = SERVICE.full_name
SERVICES = (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME)
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
LOST_THE_LEAD = 3  # exit status of an active server that another one replaced
STOP_GRACE_SECONDS = 5.0  # how long calls in flight may finish once a stop begins
# A stop not over by then ends the process (status 1): before the 60 s after which the
# deploy/ units' supervisors (systemd, Kubernetes) kill it, so its stacks are on record.
DEFAULT_STOP_TIMEOUT = 45.0
SWITCH_INTERVAL_SECONDS = 0.001


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    service: StudyService
    health: health_aio.HealthServicer
    executor: futures.ThreadPoolExecutor
    loop: asyncio.AbstractEventLoop
    loop_thread: threading.Thread
    metrics: ServerMetrics | None = None
    metrics_port: int = 0

    def stop(
        self, grace: float = STOP_GRACE_SECONDS, before_close: Callable[[], None] | None = None
    ) -> None:
        """Refuses new calls (UNAVAILABLE), lets in-flight ones finish, then closes the journal.

        Handlers still running after `grace` are cancelled for their clients; those in
        the pool run to the end here and every queued event is written, so no journal
        write is cut off by the close. `before_close` runs once no call is left (a last
        snapshot).
        """
        asyncio.run_coroutine_threadsafe(self._stop_serving(grace), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.loop_thread.join()
        self.loop.close()
        self.executor.shutdown(wait=True)
        if before_close is not None:
            before_close()
        self.service.close()
        if self.metrics is not None:
            self.metrics.close()
        self.service.journal.close()

    async def _stop_serving(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


def start_server(
    service: StudyService,
    host: str = "127.0.0.1",
    port: int = 0,
    max_workers: int = 16,
    security: ServerSecurity = ServerSecurity(),
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    blobs: BlobStore | None = None,
) -> RunningServer:
    """Starts serving on an event loop in a thread of its own; `max_workers` threads run
    the calls that may block (rpc.py says which); `metrics_port` (0 picks one) turns on
    the Prometheus endpoint."""
    metrics = ServerMetrics(service, SERVICES) if metrics_port is not None else None
    executor = futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="rung-rpc")
    servicer = RungServicer(service, executor, blobs, max_watches=max(1, max_workers // 4))
    # Metrics first, so calls refused by authentication are counted too.
    interceptors = [*([metrics] if metrics else []), *security.interceptors()]
    loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=loop.run_forever, name="rung-grpc", daemon=True)
    loop_thread.start()
    try:
        server, bound, health_servicer = asyncio.run_coroutine_threadsafe(
            _serve(servicer, host, port, security, interceptors), loop
        ).result()
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        loop_thread.join()
        loop.close()
        executor.shutdown(wait=False)
        raise
    running = RunningServer(
        server, bound, service, health_servicer, executor, loop, loop_thread, metrics
    )
    if metrics is not None and metrics_port is not None:
        running.metrics_port = metrics.serve_http(metrics_host, metrics_port)
    return running


async def _serve(
    servicer: RungServicer,
    host: str,
    port: int,
    security: ServerSecurity,
    interceptors: list[grpc.aio.ServerInterceptor],
) -> tuple[grpc.aio.Server, int, health_aio.HealthServicer]:
    """Binds and starts the gRPC server on the running loop: rung, health, reflection."""
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            REUSE_PORT,
        ],
    )
    add_to_server(servicer, server)
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(SERVICES, server)
    bound = security.add_port(server, f"{host}:{port}")
    if bound == 0:
        raise OSError(f"could not bind {host}:{port}")
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, bound, health_servicer


def serve(
    db: str,
    host: str,
    port: int,
    lease_seconds: float,
    security: ServerSecurity = ServerSecurity(),
    insecure: bool = False,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    checkpoints: CheckpointSettings = CheckpointSettings(),
    http_port: int | None = None,
    http_host: str = "127.0.0.1",
    snapshot_every: int = DEFAULT_EVERY,
    max_workers: int = 16,
    stop_timeout: float = DEFAULT_STOP_TIMEOUT,
    db_wait: float = DEFAULT_DB_WAIT,
    tensorboard_dir: str | None = None,
    mlflow_uri: str | None = None,
    mlflow_experiment: str | None = None,
) -> int:
    """Runs until SIGTERM or SIGINT; prints the bound address first, for scripts.

    With PostgreSQL, `db_wait` bounds how long a starting server waits for the
    database (raising DatabaseUnreachable); once it has reached it, outages are
    waited out while it stands by, and end its lead if it is active.

    `max_workers`: threads for the calls that may block (rpc.py says which); workers'
    Suggest, Report and Heartbeat calls are answered on the event loop instead.

    A stop still not over after `stop_timeout` seconds, or a second signal during
    it, ends the process at once with every thread's stack on stderr: a hung stop
    (a bug) must not leave a server that ignores SIGTERM. Nothing acknowledged is
    lost that way; the journal is written as if the process had been killed.

    `http_port` (0 picks one) turns on the web dashboard (server/http.py).
    `tensorboard_dir`, `mlflow_uri` turn on the tracking mirrors (server/tracking/).
    """
    db = canonical(db)
    security.check_exposure(host, insecure)
    if http_port is not None:
        security.check_exposure(http_host, insecure)
    for where, at in ((host, port), (http_host, http_port), (metrics_host, metrics_port)):
        if at is not None:  # before anything starts: a taken port is said in one line
            check_port_free(where, at)
    # Model-based searchers do small linear algebra per Suggest: BLAS threads would only
    # fight the RPC threads for cores (measured: GP suggest 50 ms single-threaded, 360 ms not).
    threadpool_limits(1)
    # A thread that wants the interpreter waits up to this long for the one holding it:
    # the event loop, gRPC's poller, the commit thread and a snapshot being saved take
    # turns, and a call waits for each hand-over. 1 ms instead of CPython's 5: with a
    # thread per call, a 5,000-worker fleet's p99 49 ms instead of 68-84 ms; on the event
    # loop, 16 tight loops of Suggest + Report run at the same rate either way.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    # Before anything is announced: a signal sent as soon as the address is printed stops gracefully.
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _: _second_signal_exits(stop, signum))
    sole_server = None if is_postgres(db) else hold_sqlite_file(db)  # raises DatabaseInUse
    journal, port, leadership, standby = _take_the_lead(db, host, port, security, stop, db_wait)
    if journal is None:
        return 0  # stopped while standing by
    lost = threading.Event()
    try:
        try:
            service = _restored_service(journal, lease_seconds)
        except StorageUnavailable as exc:  # the database went away during the restore
            if leadership is not None:
                leadership.close()
            raise DatabaseUnreachable(
                f"cannot restore the studies from the journal: {exc}"
            ) from None
        blobs = BlobStore(checkpoints.folder(_checkpoint_base(db)), checkpoints.max_bytes)
        running = start_server(
            service, host, port, max_workers=max_workers, security=security,
            metrics_port=metrics_port, metrics_host=metrics_host, blobs=blobs,
        )
        release_freed_memory()  # what the restore read and let go of (serving meanwhile)
    finally:
        if standby is not None:  # only now: it answered on the port while studies were restored
            standby.stop()
    sweeper = Sweeper(service, blobs, checkpoints.sweep_seconds).start()
    dashboard = (
        start_dashboard(service, http_host, http_port, security) if http_port is not None else None
    )
    snapshotter = Snapshotter(service, snapshot_every).start()
    mirrors = start_mirrors(service, tensorboard_dir, mlflow_uri, mlflow_experiment)
    if running.metrics is not None:
        running.metrics.registry.register(mirrors.collector())
    if leadership is None:
        print(f"{READY}{host}:{running.port}", flush=True)
    else:
        leadership.watch(lost, stop)
    if running.metrics is not None:
        print(f"rung metrics on http://{metrics_host}:{running.metrics_port}/metrics", flush=True)
    if dashboard is not None:
        scheme = "https" if security.tls else "http"
        print(f"rung dashboard on {scheme}://{http_host}:{dashboard.port}/", flush=True)
    log.info(
        "serving",
        extra={
            "host": host,
            "port": running.port,
            "db": redact(db),
            "tls": security.tls,
            "auth": bool(security.token),
            "metrics_port": running.metrics_port or None,
            "http_port": dashboard.port if dashboard else None,
        },
    )
    stop.wait()
    log.info(
        "shutting down: refusing new calls, finishing in-flight ones",
        extra={"stop_timeout": stop_timeout},
    )
    # A C thread of faulthandler's: it fires even while a stuck thread holds the interpreter.
    faulthandler.dump_traceback_later(stop_timeout, exit=True)
    if dashboard is not None:
        dashboard.stop()
    sweeper.stop()
    running.stop(before_close=lambda: (mirrors.stop(), snapshotter.stop()))  # mirrors: last writes
    if leadership is not None:
        leadership.close()
    faulthandler.cancel_dump_traceback_later()
    if sole_server is not None:
        sole_server.close()  # after the journal closed: the next server may open it now
    log.info("stopped; journal closed")
    return LOST_THE_LEAD if lost.is_set() else 0


class CannotListen(Exception):
    """The server's address cannot be bound: taken, or not an address of this machine."""


def check_port_free(host: str, port: int) -> None:
    """Raises CannotListen unless `host:port` can be bound.

    gRPC binds with SO_REUSEPORT (a standby hands its port over to the active
    server that way), and the kernel lets a second process bind a port so held
    and spreads new connections over both: a second `rung serve` on a port in
    use would silently take half the workers. A plain bind finds out first
    (SO_REUSEADDR only lets it past connections of a server that has stopped)."""
    try:
        addresses = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                taken = exc.errno == errno.EADDRINUSE
                reason = "it is in use (another rung serve?)" if taken else exc.strerror
                raise CannotListen(f"cannot listen on {host}:{port}: {reason}") from None


def _second_signal_exits(stop: threading.Event, signum: int) -> None:
    """The first SIGTERM or SIGINT starts a graceful stop; a second one ends the process
    now (status 128 + the signal's number, as a shell reports a killed process)."""
    if not stop.is_set():
        stop.set()
        return
    log.error("second %s during the stop: exiting now", signal.Signals(signum).name)
    faulthandler.dump_traceback(all_threads=True)
    os._exit(128 + signum)


def _restored_service(journal: Journal, lease_seconds: float) -> StudyService:
    """The service, its studies restored. What it restores lives as long as the server, so
    it is frozen (`gc.freeze`): left out of later collections, the first of which would
    otherwise walk it all right after the restore (0.1 s at a million trials)."""
    gc.disable()
    try:
        return StudyService(journal, lease_seconds=lease_seconds)
    finally:
        gc.freeze()
        gc.enable()


def _take_the_lead(
    db: str, host: str, port: int, security: ServerSecurity, stop: threading.Event,
    db_wait: float,
) -> tuple[Journal | None, int, Leadership | None, StandbyServer | None]:
    """The journal to serve from, the port, the leadership held and the standby server
    still answering on the port (both None for SQLite).

    With PostgreSQL several servers may share the database: this one binds its
    port as a standby (health NOT_SERVING, calls UNAVAILABLE), announces it,
    and waits for the lead; then it serves on the same port with a journal
    fenced by its token, the standby answering there until then
    (StandbyServer.take_over). Returns no journal if `stop` is set while waiting;
    raises DatabaseUnreachable if PostgreSQL never answered within `db_wait` seconds.
    """
    if not is_postgres(db):
        return open_journal(db), port, None, None
    # Imported here: psycopg adds 0.06 s to every start, and SQLite servers never use it.
    from .leadership import Leadership
    from .standby import start_standby
    from .storage_pg import PostgresJournal

    leadership = Leadership(db, "", first_connect_wait=db_wait)
    standby = start_standby(host, port, security, leadership.holder)
    leadership.address = f"{host}:{standby.port}"
    try:
        leadership.try_connect()
        # Announced even if the database did not answer: while PostgreSQL is unreachable (the
        # campaign waits for it) clients get quick UNAVAILABLE answers, not refused connections.
        print(f"{READY}{host}:{standby.port}", flush=True)
        token = leadership.campaign(stop)
    except BaseException:  # DatabaseUnreachable, DatabaseRefused: said by the caller
        standby.stop()
        raise
    if token is None:
        standby.stop()
        leadership.close()
        return None, standby.port, None, None
    standby.take_over()
    try:
        journal = PostgresJournal(db, fence=token)
    except StorageUnavailable as exc:  # the lead goes back at once, to a standby if any
        standby.stop()
        leadership.close()
        raise DatabaseUnreachable(f"took the lead but cannot open the journal: {exc}") from None
    return journal, standby.port, leadership, standby


def _checkpoint_base(db: str) -> Path:
    """Uploaded checkpoints sit beside a SQLite file; with PostgreSQL, in ./rung.db.checkpoints."""
    return Path("rung.db") if is_postgres(db) else Path(db)
