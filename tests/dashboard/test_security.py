"""The dashboard follows the gRPC server's rules: exposure check, token, TLS certificate."""

from __future__ import annotations

import http.client
import importlib.util
import json
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dashboard_support import TOKEN

from rung.server.http import start_dashboard
from rung.server.security import ServerSecurity
from rung.server.service import StudyService
from rung.server.storage import MemoryJournal
from support import REPO, rung_command


def _write_pki(folder: Path) -> Any:
    """The security tests' throwaway PKI (tests/security/pki.py), loaded by path."""
    spec = importlib.util.spec_from_file_location("dashboard_pki", REPO / "tests/security/pki.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module.write_pki(folder)


def test_a_public_dashboard_address_needs_a_token(tmp_path: Path) -> None:
    done = subprocess.run(
        rung_command("serve", "--port", "0", "--db", str(tmp_path / "rung.db"),
                     "--http-port", "0", "--http-host", "0.0.0.0"),
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0 without authentication" in done.stderr
    assert "rung serving" not in done.stdout


def test_dashboard_serves_https_with_the_grpc_certificate(tmp_path: Path) -> None:
    pki = _write_pki(tmp_path)
    security = ServerSecurity.from_files(None, pki.cert_file, pki.key_file,
                                         env={"RUNG_TOKEN": TOKEN})
    service = StudyService(MemoryJournal())
    server = start_dashboard(service, "127.0.0.1", 0, security)
    try:
        trusted = ssl.create_default_context(cafile=str(pki.ca_file))
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=trusted, timeout=30)
        conn.request("POST", "/api/login", json.dumps({"token": TOKEN}),
                     {"Content-Type": "application/json"})
        answer = conn.getresponse()
        assert answer.status == 200
        assert "Secure" in answer.headers["Set-Cookie"]  # the cookie never travels in plaintext
        answer.read()
        conn.close()

        stranger = ssl.create_default_context(cafile=str(pki.other_ca_file))
        with pytest.raises(ssl.SSLError):
            conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=stranger, timeout=30)
            conn.request("GET", "/api/session")
        plain = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            plain.request("GET", "/api/session")
            plain.getresponse()
    finally:
        server.stop()
