from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from rung.workers.checkpoint import CheckpointError, read_checkpoint
from rung.workers.training import ImageClassification, TrainingSettings

CONFIG = {"learning_rate": 0.05, "batch_size": 64, "momentum": 0.9, "weight_decay": 1e-4}


@pytest.fixture(scope="module")
def objective(fake_fmnist_dir: Path) -> ImageClassification:
    return ImageClassification(TrainingSettings(data_dir=fake_fmnist_dir, max_epochs=4, n_train=512, n_val=128, device="cpu"))


class Recorder:
    """An on_epoch callback that records its calls and stops after ``stop_after``."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.calls: list[tuple[int, float]] = []
        self.stop_after = stop_after

    def __call__(self, epoch: int, val_error: float) -> bool:
        self.calls.append((epoch, val_error))
        return epoch != self.stop_after


def _assert_same_checkpoint(a: Path, b: Path) -> None:
    pa, pb = read_checkpoint(a), read_checkpoint(b)
    assert pa["epoch"] == pb["epoch"]
    sa, sb = pa["state"], pb["state"]
    for key, value in sa["model"].items():
        torch.testing.assert_close(sb["model"][key], value, rtol=1e-6, atol=1e-7)
    for index, state in sa["optimizer"]["state"].items():
        torch.testing.assert_close(sb["optimizer"]["state"][index]["momentum_buffer"], state["momentum_buffer"])
    assert sa["lr_scheduler"] == sb["lr_scheduler"]
    assert torch.equal(pa["rng"]["torch"], pb["rng"]["torch"])


def test_resumed_training_equals_straight_training(objective: ImageClassification, tmp_path: Path) -> None:
    straight = Recorder()
    objective.train(CONFIG, 0, 3, None, tmp_path / "straight.pt", straight)

    first, second = Recorder(), Recorder()
    objective.train(CONFIG, 0, 1, None, tmp_path / "e1.pt", first)
    last = objective.train(CONFIG, 1, 3, tmp_path / "e1.pt", tmp_path / "e3.pt", second)

    assert [e for e, _ in straight.calls] == [1, 2, 3]
    assert first.calls + second.calls == straight.calls
    assert last == straight.calls[-1][1]
    _assert_same_checkpoint(tmp_path / "straight.pt", tmp_path / "e3.pt")


def test_learning_rate_schedule_spans_max_epochs(objective: ImageClassification, tmp_path: Path) -> None:
    objective.train(CONFIG, 0, 2, None, tmp_path / "c.pt", Recorder())
    scheduler = read_checkpoint(tmp_path / "c.pt")["state"]["lr_scheduler"]
    assert scheduler["T_max"] == 4 and scheduler["last_epoch"] == 2
    assert scheduler["_last_lr"][0] == pytest.approx(CONFIG["learning_rate"] / 2)  # cos(pi/2): half way


def test_trial_seed_and_config_derived_seed(objective: ImageClassification, tmp_path: Path) -> None:
    runs = {}
    for name, config, seed in [
        ("a", CONFIG, 1),
        ("b", CONFIG, 2),
        ("c", CONFIG, None),
        ("d", {**CONFIG, "batch_size": 64.0}, None),  # as it arrives through a protobuf Struct
    ]:
        objective.train(config, 0, 1, None, tmp_path / f"{name}.pt", Recorder(), trial_seed=seed)
        runs[name] = read_checkpoint(tmp_path / f"{name}.pt")["state"]["model"]["0.weight"]
    assert not torch.equal(runs["a"], runs["b"])
    assert torch.equal(runs["c"], runs["d"])


def test_stopping_early_checkpoints_the_last_epoch(objective: ImageClassification, tmp_path: Path) -> None:
    out = tmp_path / "c.pt"
    recorder = Recorder(stop_after=2)
    result = objective.train(CONFIG, 0, 4, None, out, recorder)
    assert [e for e, _ in recorder.calls] == [1, 2]
    assert result == recorder.calls[-1][1]
    payload = read_checkpoint(out)
    assert payload["epoch"] == 2 and payload["extra"]["value"] == result


def test_checkpoint_exists_before_the_final_report(objective: ImageClassification, tmp_path: Path) -> None:
    out = tmp_path / "c.pt"
    seen: list[int] = []

    def on_epoch(epoch: int, val_error: float) -> bool:
        if epoch == 2:
            seen.append(read_checkpoint(out)["epoch"])
        return True

    objective.train(CONFIG, 0, 2, None, out, on_epoch)
    assert seen == [2]


def test_training_learns(objective: ImageClassification, tmp_path: Path) -> None:
    recorder = Recorder()
    objective.train({"learning_rate": 0.05, "batch_size": 32}, 0, 4, None, tmp_path / "c.pt", recorder)
    errors = [err for _, err in recorder.calls]
    assert all(0.0 <= err <= 1.0 for err in errors)
    assert errors[-1] < 0.2  # the fake images encode their labels: easy to learn


def test_resume_checks_the_checkpoint(objective: ImageClassification, tmp_path: Path) -> None:
    objective.train(CONFIG, 0, 1, None, tmp_path / "e1.pt", Recorder())
    with pytest.raises(CheckpointError, match="epoch 1, expected 2"):
        objective.train(CONFIG, 2, 3, tmp_path / "e1.pt", tmp_path / "out.pt", Recorder())
    with pytest.raises(CheckpointError, match="needs checkpoint_in"):
        objective.train(CONFIG, 1, 2, None, tmp_path / "out.pt", Recorder())
    with pytest.raises(CheckpointError, match="not found"):
        objective.train(CONFIG, 1, 2, tmp_path / "missing.pt", tmp_path / "out.pt", Recorder())
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        objective.train(CONFIG, 1, 2, tmp_path / "bad.pt", tmp_path / "out.pt", Recorder())
    assert not (tmp_path / "out.pt").exists()


@pytest.mark.parametrize(
    ("config", "start", "end"),
    [
        (CONFIG, 0, 5),  # beyond max_epochs
        (CONFIG, 2, 2),
        ({**CONFIG, "learning_rte": 0.1}, 0, 1),
        ({"learning_rate": 0.1}, 0, 1),
        ({**CONFIG, "batch_size": 32.5}, 0, 1),
        ({**CONFIG, "learning_rate": -1.0}, 0, 1),
    ],
)
def test_invalid_requests(objective: ImageClassification, tmp_path: Path, config: dict, start: int, end: int) -> None:
    with pytest.raises(ValueError):
        objective.train(config, start, end, None, tmp_path / "c.pt", Recorder())


def test_cifar10_with_lenet(fake_cifar_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = TrainingSettings(
        data_dir=fake_cifar_dir, dataset="cifar10", max_epochs=2, n_train=150, n_val=50, device="cpu", amp=True
    )
    with caplog.at_level(logging.INFO, logger="rung.workers.classification"):
        objective = ImageClassification(settings)
    assert "amp=True ignored" in caplog.text
    recorder = Recorder()
    objective.train(CONFIG, 0, 2, None, tmp_path / "c.pt", recorder)
    assert [e for e, _ in recorder.calls] == [1, 2]


def test_real_fashion_mnist_learns(real_fmnist_dir: Path, tmp_path: Path) -> None:
    objective = ImageClassification(TrainingSettings(data_dir=real_fmnist_dir, max_epochs=3, n_train=2048, n_val=512))
    error = objective.train({"learning_rate": 0.05, "batch_size": 32}, 0, 3, None, tmp_path / "c.pt", Recorder())
    assert error < 0.4  # chance is 0.9


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("amp", [False, True])
def test_cuda_training_and_resume(fake_fmnist_dir: Path, tmp_path: Path, amp: bool) -> None:
    objective = ImageClassification(
        TrainingSettings(data_dir=fake_fmnist_dir, max_epochs=2, n_train=512, n_val=128, device="cuda", amp=amp)
    )
    assert objective.device.type == "cuda" and torch.backends.cudnn.benchmark
    assert (objective.amp_dtype is not None) == amp
    objective.train(CONFIG, 0, 1, None, tmp_path / "e1.pt", Recorder())
    recorder = Recorder()
    error = objective.train(CONFIG, 1, 2, tmp_path / "e1.pt", tmp_path / "e2.pt", recorder)
    assert recorder.calls == [(2, error)] and 0.0 <= error <= 1.0
    assert read_checkpoint(tmp_path / "e2.pt")["rng"]["cuda"] is not None
