"""The server's own metrics, in the Prometheus text format (`--metrics-port`).

Request counts and latencies use the names of go-grpc-prometheus
(`grpc_server_handled_total`, `grpc_server_handling_seconds`) so existing gRPC
dashboards read them. The study gauges are computed at scrape time from the
service, so they can never drift from what GetStudy would say. The journal's
metrics (`rung_journal_*`) are kept by the commit thread (group_commit.py).
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
        for collector in service.commit_metrics.collectors():
            self.registry.register(collector)
        self._http: WSGIServer | None = None
        # method -> (the handler it had, that handler timed): a method's handler is the same
        # object call after call, so each is wrapped once, not on every call.
        self._timed_handlers: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None:
            return None
        known = self._timed_handlers.get(details.method)
        if known is not None and known[0] is handler:
            return known[1]
        service, method = method_parts(details.method)
        if service not in self._services:
            service = method = UNKNOWN
        timed = rewrap(
            handler, lambda behavior, streaming: self._timed(behavior, streaming, service, method)
        )
        if service != UNKNOWN:  # a stranger's made-up names must not grow the cache
            self._timed_handlers[details.method] = (handler, timed)
        return timed

    def _timed(self, behavior: Behavior, streaming: bool, service: str, method: str) -> Behavior:
        latency = self.latency.labels(service, method)
        handled: dict[grpc.StatusCode, Any] = {}  # the counter of each status code seen

        def observe(context: grpc.aio.ServicerContext, start: float, failed: bool) -> None:
            code = context.code() or (grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK)
            counter = handled.get(code)
            if counter is None:
                counter = handled[code] = self.handled.labels(service, method, code.name)
            counter.inc()
            latency.observe(time.perf_counter() - start)

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
