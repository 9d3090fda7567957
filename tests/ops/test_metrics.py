"""The Prometheus endpoint: scraped over HTTP on 127.0.0.1 after some RPCs."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families
from rung.server.app import RunningServer, start_server
from rung.server.security import ServerSecurity
from rung.server.service import StudyService
from rung.server.storage import MemoryJournal
from rung.v1 import rung_pb2 as pb
from rung.v1 import rung_pb2_grpc
from support import ServerProcess

TOKEN = "metrics-token"
SPEC = pb.StudySpec(
    name="m",
    space=[pb.Parameter(name="x", int_domain=pb.IntDomain(low=1, high=9))],
    budget=pb.Budget(max_trials=5),
)


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample as {(name, labels): value}."""
    with urllib.request.urlopen(url, timeout=10) as reply:
        text = reply.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def rung_call(method: str, code: str) -> tuple[str, frozenset[tuple[str, str]]]:
    labels = {"grpc_service": "rung.v1.Rung", "grpc_method": method, "grpc_code": code}
    return "grpc_server_handled_total", frozenset(labels.items())


@pytest.fixture
def running() -> Iterator[RunningServer]:
    server = start_server(
        StudyService(MemoryJournal()), security=ServerSecurity(token=TOKEN), metrics_port=0
    )
    yield server
    server.stop(grace=0)


def test_scrape_shows_requests_latencies_and_leases(running: RunningServer) -> None:
    auth = [("authorization", f"Bearer {TOKEN}")]
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = rung_pb2_grpc.RungStub(channel)
        stub.CreateStudy(pb.CreateStudyRequest(spec=SPEC), metadata=auth, timeout=10)
        for i in range(2):
            stub.Suggest(
                pb.SuggestRequest(study="m", worker_id="w", request_id=f"r{i}"),
                metadata=auth,
                timeout=10,
            )
        with pytest.raises(grpc.RpcError):
            stub.GetStudy(pb.GetStudyRequest(study="absent"), metadata=auth, timeout=10)
        with pytest.raises(grpc.RpcError):
            stub.ListStudies(pb.ListStudiesRequest(), timeout=10)  # no token
        # Handlers are wrapped once a method: a refused call's handler must not stick.
        for _ in range(2):
            stub.ListStudies(pb.ListStudiesRequest(), metadata=auth, timeout=10)
        with pytest.raises(grpc.RpcError):
            channel.unary_unary("/made.up.Service/Probe")(b"", metadata=auth, timeout=10)

    samples = scrape(f"http://127.0.0.1:{running.metrics_port}/metrics")
    assert samples[rung_call("CreateStudy", "OK")] == 1
    assert samples[rung_call("Suggest", "OK")] == 2
    assert samples[rung_call("GetStudy", "NOT_FOUND")] == 1
    assert samples[rung_call("ListStudies", "UNAUTHENTICATED")] == 1
    assert samples[rung_call("ListStudies", "OK")] == 2
    suggest = frozenset({"grpc_service": "rung.v1.Rung", "grpc_method": "Suggest"}.items())
    assert samples[("grpc_server_handling_seconds_count", suggest)] == 2
    assert samples[("rung_active_leases", frozenset({("study", "m")}))] == 2
    assert samples[("rung_studies", frozenset({("state", "running")}))] == 1
    # The two Suggests' events went through group commit (the study's creation does not).
    journal = {name: value for (name, labels), value in samples.items() if not labels}
    assert journal["rung_journal_events_total"] == 2
    assert 1 <= journal["rung_journal_commit_seconds_count"] <= 2
    assert journal["rung_journal_wait_seconds_count"] == 2
    assert journal["rung_journal_failed_commits_total"] == 0
    # A made-up method is not a label value of its own: label sets stay bounded.
    assert not any("made.up.Service" in str(labels) for _, labels in samples)


def test_metrics_are_off_unless_asked_for() -> None:
    server = start_server(StudyService(MemoryJournal()))
    try:
        assert server.metrics is None and server.metrics_port == 0
    finally:
        server.stop(grace=0)


def test_rung_serve_metrics_port(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "rung.db", extra_args=["--metrics-port", "0"]).start()
    try:
        assert server.proc is not None and server.proc.stdout is not None
        line = server.proc.stdout.readline().split()
        assert line[:3] == ["rung", "metrics", "on"]
        with grpc.insecure_channel(server.address) as channel:
            rung_pb2_grpc.RungStub(channel).ListStudies(pb.ListStudiesRequest(), timeout=10)
        samples = scrape(line[3])
        assert samples[rung_call("ListStudies", "OK")] == 1
    finally:
        assert server.terminate() == 0
