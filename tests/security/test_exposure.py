"""Who may listen where, and how credentials are read."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from clean_cli import run_rung
from rung.credentials import CredentialsError, read_token_file, resolve_ca_file, resolve_token
from rung.server.security import ServerSecurity, is_loopback


@pytest.mark.parametrize(
    "host,loopback",
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("myhost.example", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_exposing_a_server_without_a_token_needs_insecure() -> None:
    with pytest.raises(CredentialsError, match="--insecure"):
        ServerSecurity().check_exposure("0.0.0.0", insecure=False)
    ServerSecurity().check_exposure("0.0.0.0", insecure=True)
    ServerSecurity().check_exposure("127.0.0.1", insecure=False)
    ServerSecurity(token="t0ken").check_exposure("0.0.0.0", insecure=False)


def test_a_token_without_tls_on_the_network_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, "rung.server.security"):
        ServerSecurity(token="t0ken").check_exposure("0.0.0.0", insecure=False)
    assert "plaintext" in caplog.text


def run_serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_rung("serve", "--port", "0", "--db", str(tmp_path / "rung.db"), *args)


def test_serve_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    done = run_serve(tmp_path, "--host", "0.0.0.0")
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0 without authentication" in done.stderr
    assert "rung serving" not in done.stdout


def test_serve_refuses_half_a_tls_configuration(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    done = run_serve(tmp_path, "--tls-cert", str(cert))
    assert done.returncode == 2
    assert "--tls-cert and --tls-key must be given together" in done.stderr


def test_token_files(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.write_text("  abc-123_XYZ\n")
    assert read_token_file(good) == "abc-123_XYZ"
    with pytest.raises(CredentialsError, match="cannot read token file"):
        read_token_file(tmp_path / "missing")
    for name, text in [("empty", "\n"), ("space", "two words"), ("unicode", "tökén")]:
        (tmp_path / name).write_text(text, encoding="utf-8")
        with pytest.raises(CredentialsError):
            read_token_file(tmp_path / name)


def test_world_readable_token_files_are_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "token"
    path.write_text("t0ken")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, "rung.credentials"):
        read_token_file(path)
    assert "chmod 600" in caplog.text


def test_token_file_wins_over_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("from-file")
    path.chmod(0o600)
    assert resolve_token(path, {"RUNG_TOKEN": "from-env"}) == "from-file"
    assert resolve_token(None, {"RUNG_TOKEN": "from-env"}) == "from-env"
    assert resolve_token(None, {}) is None
    assert resolve_ca_file(None, {"RUNG_CA_FILE": "/ca.pem"}) == "/ca.pem"
    assert resolve_ca_file("mine.pem", {"RUNG_CA_FILE": "/ca.pem"}) == "mine.pem"


def test_tls_files_must_be_pem(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_text("not a certificate")
    with pytest.raises(CredentialsError, match="not a PEM file"):
        ServerSecurity.from_files(None, junk, junk, env={})
