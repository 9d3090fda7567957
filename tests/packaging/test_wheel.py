"""The built wheel installs one namespace, rung, and no bare server/client/proto modules."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_holds_only_the_rung_namespace(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(REPO)],
        check=True,
    )
    (wheel,) = tmp_path.glob("rung-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"rung"}
    for module in ["rung/cli.py", "rung/core/schedulers/asha.py", "rung/server/service.py",
                   "rung/client/sdk.py", "rung/workers/loop.py", "rung/v1/rung_pb2.py",
                   "rung/v1/rung_pb2_grpc.py", "rung/v1/rung.proto", "rung/server/http.py",
                   "rung/server/dashboard/model.py", "rung/server/dashboard/static/index.html",
                   "rung/server/dashboard/static/app.js", "rung/server/dashboard/static/charts.js",
                   "rung/server/dashboard/static/style.css",
                   "rung/sim/data/lenet_fmnist_curves.json.gz"]:
        assert module in names, module


def test_installed_wheel_imports_in_a_clean_target(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q",
         "--target", str(tmp_path / "site"), str(REPO)],
        check=True,
    )
    code = ("import rung.server.service, rung.client, rung.v1.rung_pb2_grpc, rung.workers.loop, "
            "rung.cli; from rung.sim.benchmarks import make_benchmark; make_benchmark('lenet', r_max=27); "
            "import rung; print(rung.__file__)")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site")},
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(str(tmp_path / "site"))
