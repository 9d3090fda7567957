"""Training code that fails fails its trial, and the worker goes on.

A real `rung worker` runs a user objective (written here into the worker's
folder and given by import path) whose configuration says how to fail: raise
an exception, report a NaN loss, run out of (CUDA) memory, or train normally.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from rung.client import Client
from rung.v1 import rung_pb2 as pb
from support import REPO, rung_command, subprocess_env

FAILING_OBJECTIVE = textwrap.dedent('''
    import math

    import torch

    from rung.workers.objective import EpochStats, Objective, Trainer


    class Failing(Trainer):
        def __init__(self, mode):
            self.mode = mode
            self.weight = torch.zeros(1)

        def train_epoch(self, epoch, advance):
            if self.mode == "raise":
                raise RuntimeError("boom in user code")
            if self.mode == "oom":
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
            self.weight += 1
            return EpochStats(loss=math.nan if self.mode == "nan" else 1 / epoch, examples=10)

        def evaluate(self):
            return 1 / (1 + float(self.weight))

        def state_dict(self):
            return {"weight": self.weight}

        def load_state_dict(self, state):
            self.weight = state["weight"]


    class FailingObjective(Objective):
        def build(self, config, context):
            return Failing(config["mode"])


    def make(settings):
        return FailingObjective(settings)
''')


def run_worker(address: str, study: str, cwd: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        rung_command(
            "worker", "--server", address, "--study", study, "--max-epochs", "2", "--progress", "off",
            "--checkpoints", str(cwd / "ckpt"), "--threads", "1", *flags,
        ),
        cwd=cwd, env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )


def test_failing_trials_fail_with_their_reason_and_the_worker_carries_on(server, tmp_path):
    (tmp_path / "failing_objective.py").write_text(FAILING_OBJECTIVE)
    modes = ["raise", "nan", "oom", "raise", "ok"]
    with Client(server.address) as client:
        client.create_study(
            "failing", space={"mode": ["raise", "nan", "oom", "ok"]}, scheduler="fifo", r_max=2,
            initial_configs=[{"mode": m} for m in modes], max_trials=len(modes),
        )
        out = run_worker(server.address, "failing", tmp_path, "--objective", "failing_objective:make")
        assert out.returncode == 0, out.stderr
        assert "worker done: 1 jobs" in out.stdout and "4 trials failed" in out.stdout
        assert client.get_study("failing").state == pb.STUDY_DONE
        trials = sorted(client.list_trials("failing"), key=lambda t: t.id)
    assert [t.status for t in trials] == [pb.FAILED] * 4 + [pb.COMPLETED]
    reasons = [" ".join(t.failures) for t in trials[:4]]
    assert "RuntimeError: boom in user code" in reasons[0]
    assert "TrialDiverged: training loss is nan at epoch 1" in reasons[1]
    assert "OutOfMemoryError: CUDA out of memory" in reasons[2]
    assert "RuntimeError: boom in user code" in reasons[3]
    assert [o.resource for o in trials[4].observations] == [1, 2]


def test_a_broken_worker_stops_after_max_failures_in_a_row(server, tmp_path):
    (tmp_path / "failing_objective.py").write_text(FAILING_OBJECTIVE)
    with Client(server.address) as client:
        client.create_study(
            "broken", space={"mode": ["raise"]}, scheduler="fifo", r_max=2, max_trials=5,
        )
        out = run_worker(
            server.address, "broken", tmp_path, "--objective", "failing_objective:make", "--max-failures", "2"
        )
        trials = client.list_trials("broken")
    assert out.returncode != 0 and "boom in user code" in out.stderr
    assert len(trials) == 2 and all(t.status == pb.FAILED for t in trials)


def test_unknown_objective_is_a_clear_error(tmp_path):
    out = run_worker("127.0.0.1:1", "any", tmp_path, "--objective", "no_such_module:make")
    assert out.returncode == 2
    assert "--objective 'no_such_module:make': cannot import no_such_module" in out.stderr


def test_gpus_all_without_a_gpu_runs_one_cpu_worker(server, tmp_path):
    with Client(server.address) as client:
        client.create_study("cpu-only", space={"lr": [0.01], "hidden": [8], "batch_size": [64]},
                            scheduler="fifo", r_max=2, max_trials=2)
        out = subprocess.run(
            rung_command(
                "worker", "--gpus", "all", "--server", server.address, "--study", "cpu-only",
                "--worker-id", "box", "--max-epochs", "2", "--objective", "spiral_objective.train:make_objective",
                "--objective-option", "points=300", "--checkpoints", str(tmp_path / "ckpt"), "--threads", "1",
                "--progress", "off",
            ),
            cwd=REPO / "examples", env={**subprocess_env(), "CUDA_VISIBLE_DEVICES": ""},
            capture_output=True, text=True, timeout=300,
        )
        assert out.returncode == 0, out.stderr
        assert "no CUDA device; running one worker on the CPU instead" in out.stderr
        assert out.stdout.count("worker done: 2 jobs") == 1
        workers = {s.worker_id for t in client.list_trials("cpu-only") for s in t.segments}
    assert workers == {"box"}
