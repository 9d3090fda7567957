"""The data path: every option yields the same batches and results; the choices are recorded."""

from __future__ import annotations

import io
import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from rung.workers.checkpoint import read_checkpoint
from rung.workers.datapath import DataPathOptions, TensorBatches, random_crop_flip
from rung.workers.mlp import DEFAULT_CONFIG, make_objective as make_mlp
from rung.workers.objective import load_objective_factory
from rung.workers.progress import Bars, JsonLines, make_progress
from rung.workers.segment import train_segment
from rung.workers.training import ImageClassification, TrainingSettings
from support import REPO, rung_command, subprocess_env

CPU = torch.device("cpu")
CONFIG = {"learning_rate": 0.05, "batch_size": 64}


def _dataset(n: int = 100) -> TensorDataset:
    return TensorDataset(torch.arange(n * 3 * 8 * 8, dtype=torch.float32).view(n, 3, 8, 8), torch.arange(n) % 10)


def test_random_crop_flip_matches_a_per_image_reference() -> None:
    x = torch.randn(6, 3, 8, 8)
    out = random_crop_flip(x, torch.Generator().manual_seed(3), padding=2)
    g = torch.Generator().manual_seed(3)
    offsets = torch.randint(0, 5, (2, 6), generator=g)
    flips = torch.rand(6, generator=g) < 0.5
    padded = F.pad(x, (2, 2, 2, 2))
    for i in range(6):
        dy, dx = offsets[:, i].tolist()
        crop = padded[i, :, dy:dy + 8, dx:dx + 8]
        assert torch.equal(out[i], crop.flip(2) if flips[i] else crop)


def _epochs(options: DataPathOptions, epochs: int = 2) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
    batches = TensorBatches(_dataset(), options, CPU)
    return [list(batches.epoch(32, torch.Generator().manual_seed(e))) for e in range(epochs)]


@pytest.mark.parametrize(
    "options",
    [
        DataPathOptions(on_device=True, augment=True, channels_last=True),
        DataPathOptions(loader_workers=2, persistent_workers=True, prefetch_factor=3, augment=True, channels_last=True),
    ],
    ids=["on_device", "persistent_loader_processes"],
)
def test_every_data_path_yields_the_same_batches(options: DataPathOptions) -> None:
    reference = _epochs(DataPathOptions(augment=True, channels_last=True))
    assert [len(epoch) for epoch in reference] == [3, 3]  # 100 // 32 full batches, the short one dropped
    for epoch, expected in zip(_epochs(options), reference, strict=True):
        for (x, y), (ex, ey) in zip(epoch, expected, strict=True):
            assert torch.equal(x, ex) and torch.equal(y, ey)
            assert x.is_contiguous(memory_format=torch.channels_last)


def test_inconsistent_options_are_refused() -> None:
    with pytest.raises(ValueError, match="need loader_workers"):
        DataPathOptions(persistent_workers=True)
    with pytest.raises(ValueError, match="takes no loader_workers"):
        DataPathOptions(on_device=True, loader_workers=2)


def test_options_change_speed_not_results_and_are_recorded(fake_fmnist_dir: Path, tmp_path: Path) -> None:
    base = TrainingSettings(data_dir=fake_fmnist_dir, max_epochs=2, n_train=256, n_val=64, device="cpu",
                            data_path=DataPathOptions(augment=True, channels_last=True))
    loader = ImageClassification(base)
    on_device = ImageClassification(replace(base, data_path=replace(base.data_path, on_device=True)))
    errors = {}
    for name, objective in (("loader", loader), ("on_device", on_device)):
        calls: list[float] = []
        objective.train(CONFIG, 0, 2, None, tmp_path / f"{name}.pt", lambda e, v: calls.append(v) or True)
        errors[name] = calls
    assert errors["loader"] == errors["on_device"]
    recorded = read_checkpoint(tmp_path / "on_device.pt")["extra"]["recorded"]
    assert recorded["model"] == "lenet" and recorded["device"] == "cpu" and recorded["amp"] is None
    assert recorded["data_path"] == {
        "loader_workers": 0, "pin_memory": False, "persistent_workers": False, "prefetch_factor": None,
        "gpu_prefetch": False, "on_device": True, "augment": True, "channels_last": True, "compile": False,
    }


def test_dropout_mlp_resumes_as_if_trained_straight(fake_fmnist_dir: Path, tmp_path: Path) -> None:
    objective = make_mlp(TrainingSettings(data_dir=fake_fmnist_dir, max_epochs=3, n_train=256, n_val=64, device="cpu"))
    config = {**DEFAULT_CONFIG, "num_hiddens_1": 32.0, "num_hiddens_2": 16, "batch_size": 32}
    straight: list[float] = []
    train_segment(objective, config, 0, 3, None, tmp_path / "s.pt", lambda e, v: straight.append(v) or True, trial_seed=7)
    resumed: list[float] = []
    train_segment(objective, config, 0, 1, None, tmp_path / "a.pt", lambda e, v: resumed.append(v) or True, trial_seed=7)
    train_segment(objective, config, 1, 3, tmp_path / "a.pt", tmp_path / "b.pt",
                  lambda e, v: resumed.append(v) or True, trial_seed=7)
    assert resumed == straight and straight[-1] < 0.5  # dropout draws are restored from the checkpoint too
    s, b = read_checkpoint(tmp_path / "s.pt")["state"], read_checkpoint(tmp_path / "b.pt")["state"]
    assert all(torch.equal(b["model"][k], v) for k, v in s["model"].items())
    with pytest.raises(ValueError, match="exactly"):
        train_segment(objective, {"lr": 0.1}, 0, 1, None, tmp_path / "c.pt", lambda e, v: True, trial_seed=1)


def test_builtin_objectives_by_name_and_path() -> None:
    assert load_objective_factory("cnn") is load_objective_factory("rung.workers.training:make_objective")
    assert load_objective_factory("dropout_mlp") is make_mlp
    for bad, message in [("nocolon", "expected module.path:factory"), ("rung.workers.mlp:nope", "no attribute"),
                         ("rung.workers.mlp:DEFAULT_CONFIG", "not callable")]:
        with pytest.raises(ValueError, match=message):
            load_objective_factory(bad)


def test_progress_modes() -> None:
    terminal = io.StringIO()
    terminal.isatty = lambda: True  # type: ignore[method-assign]
    assert isinstance(make_progress("auto", io.StringIO(), terminal), Bars)
    assert isinstance(make_progress("auto", io.StringIO(), io.StringIO()), JsonLines)
    bars = Bars(terminal)
    trial = bars.job(3, 0, 2, {"lr": 0.1}, {})
    with trial.epoch(1, 100) as advance:
        advance(60)
        advance(40)
    trial.epoch_done(1, 0.5, 0.25, 1234.5)
    assert "trial 3 epoch 1/2: loss 0.5000, metric 0.2500, 1,234 images/s" in terminal.getvalue()


def test_worker_flags_are_recorded_with_the_trial(server, fake_fmnist_dir: Path, tmp_path: Path) -> None:
    """`rung worker`'s data-path flags reach the objective and are recorded in its job line and checkpoints."""
    from rung.client import Client

    with Client(server.address) as client:
        client.create_study("flags", space={"learning_rate": [0.05], "batch_size": [32]}, scheduler="fifo",
                            r_max=1, max_trials=1)
    out = subprocess.run(
        rung_command(
            "worker", "--server", server.address, "--study", "flags", "--max-epochs", "1", "--device", "cpu",
            "--data-dir", str(fake_fmnist_dir), "--n-train", "128", "--n-val", "32", "--threads", "1",
            "--checkpoints", str(tmp_path / "ckpt"), "--progress", "json", "--loader-workers", "1",
            "--persistent-workers", "--prefetch-factor", "2", "--augment", "--channels-last",
        ),
        cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    (job,) = [json.loads(line) for line in out.stdout.splitlines() if '"event": "job"' in line]
    expected = {"loader_workers": 1, "pin_memory": False, "persistent_workers": True, "prefetch_factor": 2,
                "gpu_prefetch": False, "on_device": False, "augment": True, "channels_last": True, "compile": False}
    assert job["recorded"]["data_path"] == expected
    (checkpoint,) = (tmp_path / "ckpt").rglob("r1.pt")
    assert read_checkpoint(checkpoint)["extra"]["recorded"] == job["recorded"]
