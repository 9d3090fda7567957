"""`rung worker --gpus`: argument handling, and a real run of two children.

Without GPUs here, the children are told `--device cpu`; what is checked is the
launcher itself: one child per listed GPU, each with its own worker id, both
working on the same study to the end, and SIGTERM passed on to them.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rung.client import Client
from rung.v1 import rung_pb2 as pb
from rung.workers.launcher import child_command, parse_gpus, visible_device
from support import REPO, rung_command, subprocess_env


def test_parse_gpus():
    assert parse_gpus("all", lambda: 3) == ["0", "1", "2"]
    assert parse_gpus("0,2", lambda: 0) == ["0", "2"]
    for bad in ["", "a", "0,0", "-1", "0,,1"]:
        with pytest.raises(ValueError):
            parse_gpus(bad, lambda: 2)
    assert parse_gpus("all", lambda: 0) == []  # the worker then runs once, on the CPU


def test_gpu_numbers_count_the_visible_devices():
    assert visible_device("1", None) == "1"
    assert visible_device("1", "") == "1"
    assert visible_device("1", "2,3") == "3"  # e.g. Slurm gave this job GPUs 2 and 3
    assert visible_device("0", "GPU-5f1c,GPU-9a2b") == "GPU-5f1c"
    with pytest.raises(ValueError, match="only 2 GPU"):
        visible_device("2", "2,3")


def test_child_command_drops_the_launcher_flags():
    argv = ["worker", "--gpus", "0,1", "--study", "s", "--worker-id", "box", "--gpus=all", "--amp"]
    assert child_command(argv, "1", "box") == [
        sys.executable, "-m", "rung.cli", "worker", "--study", "s", "--amp", "--worker-id", "box-gpu1",
    ]


def launcher(server, fmnist_dir: Path, tmp_path: Path, study: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        rung_command(
            "worker", "--gpus", "0,1", "--device", "cpu", "--server", server.address,
            "--study", study, "--worker-id", "box", "--max-epochs", "9", "--threads", "1",
            "--checkpoints", str(tmp_path / "ckpt"), "--data-dir", str(fmnist_dir),
            "--n-train", "256", "--n-val", "64",
        ),
        cwd=REPO, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def create(client: Client, study: str, trials: int) -> None:
    client.create_study(study, space={"learning_rate": [0.1, 0.05, 0.02], "batch_size": [32, 64]},
                        r_max=9, eta=3, max_trials=trials)


def test_one_child_per_gpu_works_the_study_to_the_end(server, fmnist_dir, tmp_path):
    # Enough work that one child cannot finish it all while the other is still starting
    # (importing torch takes seconds on a loaded 2-core machine; 6 trials once did not).
    with Client(server.address) as client:
        create(client, "gpus", 16)
        proc = launcher(server, fmnist_dir, tmp_path, "gpus")
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
        assert out.count("worker done") == 2
        assert client.get_study("gpus").state == pb.STUDY_DONE
        workers = {s.worker_id for t in client.list_trials("gpus") for s in t.segments}
    assert workers == {"box-gpu0", "box-gpu1"}


def test_sigterm_reaches_every_child(server, fmnist_dir, tmp_path):
    with Client(server.address) as client:
        create(client, "stop", 200)
        proc = launcher(server, fmnist_dir, tmp_path, "stop")
        deadline = time.monotonic() + 120
        while client.get_study("stop").trials_running < 2:  # both children at work
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
        assert out.count("worker done") == 2
        assert client.get_study("stop").state == pb.STUDY_RUNNING  # stopped early, not done
        trials = client.list_trials("stop")
    # A job cut short was handed back (Release), never left to a lease to expire.
    for t in trials:
        for seg in t.segments:
            if seg.lost:
                assert any(f.startswith("released by its worker") for f in t.failures)
