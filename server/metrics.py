"""The server's own metrics, in the Prometheus text format (`--metrics-port`).

Request counts and latencies use the names of go-grpc-prometheus
(`grpc_server_handled_total`, `grpc_server_handling_seconds`) so existing gRPC
dashboards read them. The study gauges are computed at scrape time from the
service, so they can never drift from what GetStudy would say.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any
from wsgiref.simple_server import WSGIServer

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .interceptors import Behavior, method_parts, rewrap
from .service import StudyService

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
UNKNOWN = "unknown"  # label for methods no registered service has: keeps label sets bounded


class _StudyCollector(Collector):
    def __init__(self, service: StudyService):
        self._service = service

    def collect(self) -> Iterable[Metric]:
        views = self._service.list_studies()
        leases = GaugeMetricFamily(
            "rung_active_leases",
            "Jobs holding a lease (trials running on a worker)",
            labels=["study"],
        )
        states = GaugeMetricFamily("rung_studies", "Studies by state", labels=["state"])
        by_state = {"running": 0, "done": 0, "stopped": 0}
        for view in views:
            leases.add_metric([view.spec.name], view.trials_running)
            by_state[view.state] += 1
        for state, n in by_state.items():
            states.add_metric([state], n)
        return [leases, states]


class ServerMetrics(grpc.aio.ServerInterceptor):
    """Counts and times every RPC; put it first so refused calls are counted too."""

    def __init__(self, service: StudyService, services: Sequence[str]):
        self.registry = CollectorRegistry()
        self._services = frozenset(services)
        labels = ["grpc_service", "grpc_method"]
        self.handled = Counter(
            "grpc_server_handled",
            "RPCs completed, by status code",
            [*labels, "grpc_code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "grpc_server_handling_seconds",
            "Time from receiving an RPC to answering it",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_StudyCollector(service))
        self._http: WSGIServer | None = None

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None:
            return None
        service, method = method_parts(details.method)
        if service not in self._services:
            service = method = UNKNOWN
        return rewrap(
            handler, lambda behavior, streaming: self._timed(behavior, streaming, service, method)
        )

    def _timed(self, behavior: Behavior, streaming: bool, service: str, method: str) -> Behavior:
        def observe(context: grpc.aio.ServicerContext, start: float, failed: bool) -> None:
            code = context.code() or (grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK)
            self.handled.labels(service, method, code.name).inc()
            self.latency.labels(service, method).observe(time.perf_counter() - start)

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            start = time.perf_counter()
            try:
                async for response in behavior(request, context):
                    yield response
            except BaseException:
                observe(context, start, failed=True)
                raise
            observe(context, start, failed=False)

        async def timed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            try:
                result = await behavior(request, context)
            except BaseException:
                observe(context, start, failed=True)
                raise
            observe(context, start, failed=False)
            return result

        # A streaming handler is an async generator, or a coroutine that writes its answers
        # with context.write (gRPC's health Watch): the latter is timed as a unary one.
        return stream if streaming and inspect.isasyncgenfunction(behavior) else timed

    def serve_http(self, host: str, port: int) -> int:
        """Starts the scrape endpoint (GET /metrics) in a thread; returns its port."""
        self._http, _ = start_http_server(port, addr=host, registry=self.registry)
        return int(self._http.server_address[1])

    def close(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
