"""examples/spiral_objective: a user's objective, given by import path, in a real study.

`rung worker --objective spiral_objective.train:make_objective` (started in
examples/, as the example says) trains, checkpoints at each rung, is promoted
and resumes; every resumed trial must report exactly what the same trial
reports when trained straight through, and end with the same weights.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from rung import wire
from rung.client import Client
from rung.v1 import rung_pb2 as pb
from rung.workers.checkpoint import read_checkpoint
from rung.workers.objective import TrainingSettings
from rung.workers.segment import train_segment
from support import REPO, rung_command, subprocess_env

EXAMPLES = REPO / "examples"
R_MAX = 4
POINTS = "600"


@pytest.fixture
def spiral_module(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    from spiral_objective import train

    return train


@pytest.fixture
def one_thread():
    """The worker runs with one torch thread: so must the straight run, to add up in the same order."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_worker(address: str, study: str, checkpoints: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        rung_command(
            "worker", "--server", address, "--study", study, "--max-epochs", str(R_MAX),
            "--objective", "spiral_objective.train:make_objective", "--objective-option", f"points={POINTS}",
            "--checkpoints", str(checkpoints), "--device", "cpu", "--threads", "1", "--progress", "json",
            *extra,
        ),
        cwd=EXAMPLES, env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )


def test_user_objective_is_promoted_and_resumes_as_if_trained_straight(
    server, tmp_path, spiral_module, one_thread
) -> None:
    with Client(server.address) as client:
        client.create_study(
            "spirals",
            space={"lr": [0.003, 0.01, 0.03], "hidden": [16, 32], "batch_size": [64]},
            scheduler="asha", r_min=1, r_max=R_MAX, eta=2, max_trials=4, seed=1,
        )
        out = run_worker(server.address, "spirals", tmp_path / "ckpt")
        assert out.returncode == 0, out.stderr
        assert client.get_study("spirals").state == pb.STUDY_DONE
        trials = client.list_trials("spirals")

    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    epochs = [line for line in lines if line["event"] == "epoch"]
    assert epochs and all(
        {"trial", "epoch", "loss", "value", "images_per_s", "decision", "time"} <= set(e) for e in epochs
    )
    jobs = [line for line in lines if line["event"] == "job"]
    assert jobs[0]["recorded"] == {"objective": "spirals", "points": 600, "classes": 3}

    promoted = [t for t in trials if any(seg.resume_from > 0 for seg in t.segments)]
    assert promoted, "ASHA with eta=2 promotes at least one of four trials"
    settings = TrainingSettings(data_dir=tmp_path, max_epochs=R_MAX, device="cpu", options={"points": POINTS})
    objective = spiral_module.make_objective(settings)
    for trial in promoted:
        reported = {o.resource: o.value for o in trial.observations}
        reached = max(reported)
        straight: dict[int, float] = {}

        def record(epoch: int, value: float) -> bool:
            straight[epoch] = value
            return True

        out_file = tmp_path / f"straight-{trial.id}.pt"
        config = wire.config_from_pb(trial.config)
        train_segment(objective, config, 0, reached, None, out_file, record, trial_seed=trial.id)
        assert straight == reported
        resumed = read_checkpoint(tmp_path / "ckpt" / "spirals" / f"trial-{trial.id}" / f"r{reached}.pt")
        direct = read_checkpoint(out_file)
        assert resumed["epoch"] == direct["epoch"] == reached
        for name, weights in direct["state"]["model"].items():
            assert torch.equal(resumed["state"]["model"][name], weights), name

