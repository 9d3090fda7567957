"""The standby's port while its server takes over: answered throughout, then handed on."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from rung.client import Client
from rung.server.app import start_server
from rung.server.security import ServerSecurity
from rung.server.service import StudyService
from rung.server.sql_journal import SqliteJournal
from rung.server.standby import start_standby
from rung.v1 import rung_pb2 as pb
from rung.v1 import rung_pb2_grpc


def refusal(address: str) -> grpc.RpcError:
    with grpc.insecure_channel(address) as channel:
        with pytest.raises(grpc.RpcError) as info:
            rung_pb2_grpc.RungStub(channel).ListStudies(pb.ListStudiesRequest(), timeout=10)
    return info.value


def test_a_standby_taking_over_answers_until_the_active_server_listens_on_its_port(
    tmp_path: Path,
) -> None:
    """While the studies are restored clients get quick UNAVAILABLE answers, not refused
    connections (which gRPC retries only after a back-off); the active server binds the
    port beside the standby, which then stops."""
    standby = start_standby("127.0.0.1", 0, ServerSecurity(), lambda: "127.0.0.1:1")
    address = f"127.0.0.1:{standby.port}"
    try:
        assert "the active one is 127.0.0.1:1" in refusal(address).details()
        standby.take_over()
        refused = refusal(address)
        assert refused.code() == grpc.StatusCode.UNAVAILABLE
        assert "restoring its studies" in refused.details()
        running = start_server(StudyService(SqliteJournal(tmp_path / "j.db")), port=standby.port)
    finally:
        standby.stop()
    try:
        assert running.port == standby.port
        with Client(address, retry_seconds=30) as client:
            assert client.list_studies() == []
    finally:
        running.stop()
