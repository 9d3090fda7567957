"""rung.integrations.lightning against a real `rung serve`: the example's study with
promotions, a resumed trial equal to one trained straight, and DDP with one reporter."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

L = pytest.importorskip("lightning")
pytest.importorskip("sklearn")

import torch
from prometheus_client.parser import text_string_to_metric_families
from torch.utils.data import DataLoader, TensorDataset

from rung.client import Client, Study
from rung.integrations.lightning import RungCallback, resume_path, trials
from rung.v1 import rung_pb2 as pb
from support import REPO, ServerProcess, subprocess_env

EXAMPLE = REPO / "examples" / "lightning_digits.py"


def run_example(address: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), "--server", address, *args],
        cwd=cwd, env=subprocess_env(), capture_output=True, text=True, timeout=300, check=False,
    )
    assert out.returncode == 0, out.stderr[-5000:]
    return out


def resumed_segments(trials: list[pb.Trial]) -> list[tuple[int, int]]:
    """(trial id, resume_from) of every job that resumed a trial."""
    return [(t.id, s.resume_from) for t in trials for s in t.segments if s.resume_from > 0]


def check_history(t: pb.Trial) -> None:
    """Contiguous segments from 0, one report per epoch, the checkpoint of the last milestone."""
    assert [s.resume_from for s in t.segments] == [0] + [s.milestone for s in t.segments[:-1]]
    last = t.segments[-1].milestone
    assert [o.resource for o in t.observations] == list(range(1, last + 1))
    assert t.checkpoint_resource == last


def test_example_promotes_and_resumes_from_server_checkpoints(server: ServerProcess, tmp_path):
    out = run_example(server.address, tmp_path, "--checkpoints", "server")
    assert [line for line in out.stdout.splitlines() if line.startswith("best: Incumbent(")]
    with Client(server.address) as client:
        study = client.get_study("lightning-digits")
        trials = client.list_trials("lightning-digits")
    assert study.state == pb.STUDY_DONE and study.trials_started == 9 and study.promotions >= 2
    for t in trials:
        check_history(t)
        assert t.checkpoint.startswith("server:lightning-digits/")
    resumed = resumed_segments(trials)
    assert any(r == 3 for _, r in resumed)  # promoted twice: 1 -> 3 -> 9
    for trial_id, r in resumed:  # each resumed job restored Lightning's checkpoint it downloaded
        local = rf"scratch/lightning-digits/trial-{trial_id}/resume-r{r}-[0-9a-f]{{16}}\.ckpt"
        assert re.search(f"Restored all states from the checkpoint at {local}\n", out.stderr)
    # Uploaded checkpoints leave the scratch folder; the downloaded copies stay.
    assert not list((tmp_path / "scratch").rglob("r[0-9]*.pt"))


# ------------------------------------------------------------ resumed == straight

R_MAX = 4
SPACE = {"lr": [0.002, 0.05], "hidden": [8, 24]}
GOOD, BAD = {"lr": 0.05, "hidden": 24}, {"lr": 0.002, "hidden": 8}


class Net(L.LightningModule):
    """Dropout, shuffled batches, momentum and an LR schedule: everything a resume must restore."""

    def __init__(self, lr: float, hidden: int):
        super().__init__()
        self.lr = lr
        self.net = torch.nn.Sequential(
            torch.nn.Linear(8, hidden), torch.nn.ReLU(), torch.nn.Dropout(0.3),
            torch.nn.Linear(hidden, 2),
        )

    def training_step(self, batch: Any, _: int) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(self.net(batch[0]), batch[1])

    def validation_step(self, batch: Any, _: int) -> None:
        self.log("val_loss", torch.nn.functional.cross_entropy(self.net(batch[0]), batch[1]))

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)]


def loaders() -> tuple[DataLoader, DataLoader]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(320, 8, generator=g)
    y = (x[:, :3].sum(1) > 0).long()
    return (DataLoader(TensorDataset(x[:256], y[:256]), batch_size=32, shuffle=True),
            DataLoader(TensorDataset(x[256:], y[256:]), batch_size=64))


def train_study(study: Study, checkpoint_dir: Path, *extra: L.Callback) -> None:
    """The user's loop, in this process."""
    train, val = loaders()
    for trial in trials(study, checkpoint_dir=checkpoint_dir):
        with trial:
            L.seed_everything(0, verbose=False)
            trainer = L.Trainer(
                max_epochs=trial.milestone, accelerator="cpu", logger=False,
                enable_progress_bar=False, enable_model_summary=False,
                callbacks=[RungCallback(trial), *extra],
            )
            trainer.fit(Net(**trial.config), train, val, ckpt_path=resume_path(trial))


def test_a_resumed_trial_reports_what_a_trial_trained_straight_reports(server, tmp_path):
    with Client(server.address) as client:
        # ASHA with eta=2 over two configurations: GOOD trains to 2, pauses, resumes to 4.
        paused = client.create_study(
            "paused", SPACE, scheduler="asha", r_min=2, r_max=R_MAX, eta=2,
            initial_configs=[GOOD, BAD], max_trials=2, metric="val_loss")
        straight = client.create_study(  # FIFO: one job from 0 to r_max
            "straight", SPACE, scheduler="fifo", r_min=1, r_max=R_MAX, eta=2,
            initial_configs=[GOOD], max_trials=1, metric="val_loss")
        train_study(paused, tmp_path / "ckpt")
        train_study(straight, tmp_path / "ckpt")
        (resumed,) = [t for t in client.list_trials("paused") if len(t.segments) > 1]
        (whole,) = client.list_trials("straight")
    assert [(s.resume_from, s.milestone) for s in resumed.segments] == [(0, 2), (2, R_MAX)]
    assert [(s.resume_from, s.milestone) for s in whole.segments] == [(0, R_MAX)]
    assert resumed.checkpoint == str(tmp_path / "ckpt" / "paused" / f"trial-{resumed.id}" / "r4.pt")
    a = [(o.resource, o.value) for o in resumed.observations]
    b = [(o.resource, o.value) for o in whole.observations]
    assert [r for r, _ in a] == [r for r, _ in b] == [1, 2, 3, 4]
    differences = [abs(u - v) for (_, u), (_, v) in zip(a, b, strict=True)]
    print("resumed - straight, per epoch:", differences)
    assert max(differences) <= 1e-6, (a, b)


# ------------------------------------------------------------------------ SIGTERM


class SigtermAt(L.Callback):
    """Sends this process SIGTERM after optimizer step `step`, as a scheduler would."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_hands_the_job_back_and_the_trial_resumes_from_its_checkpoint(server, tmp_path):
    with Client(server.address) as client:
        # Two trials to epoch 1 (8 steps each), the better promoted to 2: SIGTERM comes at
        # step 10, in the promoted job. Lightning raises SIGTERMException after that batch.
        study = client.create_study("handed-back", SPACE, scheduler="asha", r_min=1, r_max=2,
                                    eta=2, initial_configs=[GOOD, BAD], max_trials=2)
        with pytest.raises(SystemExit):
            train_study(study, tmp_path, SigtermAt(10))
        (t,) = [t for t in client.list_trials("handed-back") if len(t.segments) > 1]
        assert t.lease_deadline == 0 and t.failures[-1].startswith("released by its worker")
        assert [o.resource for o in t.observations] == [1] and t.checkpoint_resource == 1
        train_study(study, tmp_path)  # the next worker resumes it at epoch 1
        (t,) = [t for t in client.list_trials("handed-back") if len(t.segments) > 1]
    assert [(s.resume_from, s.milestone) for s in t.segments] == [(0, 1), (1, 2), (1, 2)]
    assert [o.resource for o in t.observations] == [1, 2] and t.status == pb.COMPLETED


# --------------------------------------------------------------------------- DDP


def scrape(url: str) -> dict[str, float]:
    """The server's RPC counts that ended OK, by method."""
    with urllib.request.urlopen(url, timeout=10) as reply:
        text = reply.read().decode()
    return {
        s.labels["grpc_method"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "grpc_server_handled_total" and s.labels.get("grpc_code") == "OK"
    }


@pytest.fixture
def metered_server(tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    """`rung serve` with its Prometheus endpoint, whose address it prints after its own."""
    proc = ServerProcess(tmp_path / "rung.db", extra_args=["--metrics-port", "0"]).start()
    assert proc.proc is not None and proc.proc.stdout is not None
    words = proc.proc.stdout.readline().split()
    assert words[:3] == ["rung", "metrics", "on"]
    yield proc, words[3]
    proc.terminate()


def test_ddp_trial_is_promoted_and_resumed_with_rank_zero_alone_talking_to_rung(
    metered_server: tuple[ServerProcess, str], tmp_path: Path
):
    server, metrics_url = metered_server
    out = run_example(server.address, tmp_path, "--devices", "2", "--checkpoints", "server",
                      "--max-trials", "3", "--study", "ddp")
    assert "Starting with 2 processes" in out.stderr and "GLOBAL_RANK: 1" in out.stderr
    with Client(server.address) as client:
        study = client.get_study("ddp")
        trials = client.list_trials("ddp")
    assert study.state == pb.STUDY_DONE and study.trials_started == 3 and study.promotions == 1
    for t in trials:
        check_history(t)
    ((trial_id, r),) = resumed_segments(trials)
    local = rf"scratch/ddp/trial-{trial_id}/resume-r{r}-[0-9a-f]{{16}}\.ckpt"
    assert re.search(f"Restored all states from the checkpoint at {local}\n", out.stderr)
    calls = scrape(metrics_url)
    # Report is idempotent by (trial, resource): a second rank's duplicate would leave the
    # observations alone, but not the count of Report calls.
    assert calls["Report"] == sum(len(t.observations) for t in trials) == 5
    assert calls["UploadCheckpoint"] == 4  # three trials at 1, one at 3
    assert calls["DownloadCheckpoint"] == 1  # rank 1 reads rank 0's copy
    assert calls["CreateStudy"] == 2  # each rank's script opens the study; nothing else from rank 1
