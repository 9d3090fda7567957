"""TLS end to end: a real `rung serve` with a certificate the test made, and a token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from clean_cli import run_rung
from pki import Pki
from rung.client import Client
from rung.client.channel import open_channel
from rung.v1 import rung_pb2 as pb
from rung.v1 import rung_pb2_grpc
from support import ServerProcess

TOKEN = "test-token-0123456789abcdef"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("tls")
    token_file = folder / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    proc = ServerProcess(
        folder / "rung.db",
        extra_args=[
            "--tls-cert",
            str(pki.cert_file),
            "--tls-key",
            str(pki.key_file),
            "--token-file",
            str(token_file),
        ],
    ).start()
    yield proc
    assert proc.terminate() == 0


def list_studies(channel: grpc.Channel) -> pb.ListStudiesResponse:
    """One call, no waiting for the channel: a refused handshake fails at once."""
    return rung_pb2_grpc.RungStub(channel).ListStudies(pb.ListStudiesRequest(), timeout=10)


def test_a_client_that_trusts_the_ca_works(tls_server: ServerProcess, pki: Pki) -> None:
    with Client(tls_server.address, retry_seconds=0, token=TOKEN, ca_file=str(pki.ca_file)) as c:
        c.create_study("tls", {"x": [1, 2, 3]}, max_trials=3)
        job = c.study("tls").suggest("w1")
        assert job.kind == pb.START
        assert "tls" in [s.spec.name for s in c.list_studies()]
    with open_channel(tls_server.address, TOKEN, str(pki.ca_file)) as channel:
        assert "tls" in [s.spec.name for s in list_studies(channel).studies]


def test_a_client_that_trusts_another_ca_is_refused(tls_server: ServerProcess, pki: Pki) -> None:
    with (
        open_channel(tls_server.address, TOKEN, str(pki.other_ca_file)) as channel,
        pytest.raises(grpc.RpcError) as refused,
    ):
        list_studies(channel)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_plaintext_client_is_refused(tls_server: ServerProcess) -> None:
    with (
        open_channel(tls_server.address, TOKEN) as channel,
        pytest.raises(grpc.RpcError) as refused,
    ):
        list_studies(channel)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_tls_without_the_token_is_unauthenticated(tls_server: ServerProcess, pki: Pki) -> None:
    with (
        open_channel(tls_server.address, None, str(pki.ca_file)) as channel,
        pytest.raises(grpc.RpcError) as refused,
    ):
        list_studies(channel)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_cli_client_flags(tls_server: ServerProcess, pki: Pki, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    base = ["--server", tls_server.address, "--ca-file", str(pki.ca_file)]
    ok = run_rung("studies", *base, "--token-file", str(token_file))
    assert ok.returncode == 0, ok.stderr
    refused = run_rung("studies", *base)
    assert refused.returncode == 1
    assert "UNAUTHENTICATED" in refused.stderr
