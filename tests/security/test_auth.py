"""Token authentication: every rung.v1 RPC and reflection refuse a missing or wrong token."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from rung.client import Client
from rung.server.app import RunningServer, start_server
from rung.server.security import ServerSecurity
from rung.server.service import StudyService
from rung.server.storage import MemoryJournal
from rung.v1 import rung_pb2

TOKEN = "test-token-0123456789abcdef"
RUNG_METHODS = list(rung_pb2.DESCRIPTOR.services_by_name["Rung"].methods)
LIST_STUDIES = rung_pb2.DESCRIPTOR.services_by_name["Rung"].methods_by_name["ListStudies"]
REFLECTION = reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"].methods[0]


@pytest.fixture
def secured() -> Iterator[RunningServer]:
    running = start_server(StudyService(MemoryJournal()), security=ServerSecurity(token=TOKEN))
    yield running
    running.stop(grace=0)


def call_raw(
    channel: grpc.Channel, method: MethodDescriptor, metadata: Sequence[tuple[str, str]]
) -> grpc.StatusCode:
    """Calls any method with empty request bytes; returns the status code."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    kind = (method.client_streaming, method.server_streaming)
    try:
        if kind == (False, False):
            channel.unary_unary(path)(b"", metadata=metadata, timeout=10)
        elif kind == (False, True):
            list(channel.unary_stream(path)(b"", metadata=metadata, timeout=10))
        elif kind == (True, False):
            channel.stream_unary(path)(iter([b""]), metadata=metadata, timeout=10)
        else:
            list(channel.stream_stream(path)(iter([b""]), metadata=metadata, timeout=10))
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


BAD_CREDENTIALS = {
    "none": [],
    "wrong": [("authorization", "Bearer not-the-token")],
    "prefix": [("authorization", f"Bearer {TOKEN[:-1]}")],
    "no-scheme": [("authorization", TOKEN)],
    "other-header": [("x-token", TOKEN)],
}


@pytest.mark.parametrize("credentials", list(BAD_CREDENTIALS))
@pytest.mark.parametrize("method", [*RUNG_METHODS, REFLECTION], ids=lambda m: m.name)
def test_every_rpc_refuses_bad_credentials(
    secured: RunningServer, method: MethodDescriptor, credentials: str
) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{secured.port}") as channel:
        code = call_raw(channel, method, BAD_CREDENTIALS[credentials])
    assert code == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("method", [*RUNG_METHODS, REFLECTION], ids=lambda m: m.name)
def test_every_rpc_accepts_the_token(secured: RunningServer, method: MethodDescriptor) -> None:
    """Past authentication: an empty request may be invalid, but is not refused for auth."""
    with grpc.insecure_channel(f"127.0.0.1:{secured.port}") as channel:
        code = call_raw(channel, method, [("authorization", f"Bearer {TOKEN}")])
    assert code != grpc.StatusCode.UNAUTHENTICATED


def test_unknown_methods_are_refused_without_a_token(secured: RunningServer) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{secured.port}") as channel:
        with pytest.raises(grpc.RpcError) as stranger:
            channel.unary_unary("/rung.v1.Rung/NoSuchMethod")(b"", timeout=10)
        with pytest.raises(grpc.RpcError) as member:
            channel.unary_unary("/rung.v1.Rung/NoSuchMethod")(
                b"", metadata=[("authorization", f"Bearer {TOKEN}")], timeout=10
            )
    assert stranger.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert member.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_health_checking_stays_open(secured: RunningServer) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{secured.port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=10
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_sdk_client_sends_the_token(
    secured: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNG_TOKEN", raising=False)
    address = f"127.0.0.1:{secured.port}"
    with Client(address, retry_seconds=0, token=TOKEN) as client:
        client.create_study("auth", {"x": [1, 2]}, max_trials=2)
        assert [s.spec.name for s in client.list_studies()] == ["auth"]
    with Client(address, retry_seconds=0) as anonymous, pytest.raises(grpc.RpcError) as refused:
        anonymous.list_studies()
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_sdk_client_reads_the_token_from_the_environment(
    secured: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNG_TOKEN", TOKEN)
    with Client(f"127.0.0.1:{secured.port}", retry_seconds=0) as client:
        assert client.list_studies() == []


def test_server_without_a_token_needs_none() -> None:
    running = start_server(StudyService(MemoryJournal()))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            assert call_raw(channel, LIST_STUDIES, []) == grpc.StatusCode.OK
    finally:
        running.stop(grace=0)
