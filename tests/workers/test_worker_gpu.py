"""The GPU data path and ResNet-18 with mixed precision (`pytest -m gpu`; skipped without CUDA)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from rung.workers.checkpoint import read_checkpoint
from rung.workers.datapath import DataPathOptions, TensorBatches
from rung.workers.training import ImageClassification, TrainingSettings

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
CONFIG = {"learning_rate": 0.05, "batch_size": 32}


def test_gpu_data_paths_yield_the_same_batches() -> None:
    cuda = torch.device("cuda")
    data = TensorDataset(torch.randn(200, 3, 32, 32), torch.arange(200) % 10)
    paths = {
        "on_device": DataPathOptions(on_device=True, augment=True, channels_last=True),
        "pinned_prefetch": DataPathOptions(augment=True, channels_last=True),
        "loader_processes": DataPathOptions(loader_workers=2, persistent_workers=True, augment=True,
                                            channels_last=True, gpu_prefetch=False),
    }
    epochs = {
        name: [list(TensorBatches(data, options, cuda).epoch(64, torch.Generator().manual_seed(1)))]
        for name, options in paths.items()
    }
    reference = epochs.pop("on_device")[0]
    for name, (batches,) in epochs.items():
        for (x, y), (rx, ry) in zip(batches, reference, strict=True):
            assert x.device.type == "cuda" and x.is_contiguous(memory_format=torch.channels_last), name
            assert torch.equal(x, rx) and torch.equal(y, ry), name


@pytest.mark.parametrize("compile_model", [False, True], ids=["eager", "compiled"])
def test_resnet18_with_amp_on_the_gpu_data_path_resumes(fake_cifar_dir: Path, tmp_path: Path, compile_model: bool) -> None:
    options = DataPathOptions(on_device=True, augment=True, channels_last=True, compile=compile_model)
    objective = ImageClassification(TrainingSettings(
        data_dir=fake_cifar_dir, dataset="cifar10", model="resnet18", max_epochs=2, n_train=150, n_val=50,
        device="cuda", amp=True, data_path=options,
    ))
    values: list[float] = []
    objective.train(CONFIG, 0, 1, None, tmp_path / "e1.pt", lambda e, v: values.append(v) or True, trial_seed=1)
    objective.train(CONFIG, 1, 2, tmp_path / "e1.pt", tmp_path / "e2.pt", lambda e, v: values.append(v) or True,
                    trial_seed=1)
    assert len(values) == 2 and all(0.0 <= v <= 1.0 for v in values)
    payload = read_checkpoint(tmp_path / "e2.pt")
    assert payload["rng"]["cuda"] is not None
    recorded = payload["extra"]["recorded"]
    assert recorded["amp"] in ("bfloat16", "float16") and recorded["data_path"]["compile"] is compile_model
    assert not any(k.startswith("_orig_mod") for k in payload["state"]["model"])  # the plain model's weights


def test_pinned_loader_path_trains_like_the_on_device_path(fake_cifar_dir: Path, tmp_path: Path) -> None:
    base = TrainingSettings(data_dir=fake_cifar_dir, dataset="cifar10", max_epochs=1, n_train=150, n_val=50,
                            device="cuda", data_path=DataPathOptions(on_device=True))
    on_device = ImageClassification(base)
    pinned = ImageClassification(replace(base, data_path=DataPathOptions(loader_workers=1)))
    assert pinned.describe()["data_path"]["pin_memory"] is True
    for objective in (on_device, pinned):
        objective.train(CONFIG, 0, 1, None, tmp_path / f"{id(objective)}.pt", lambda e, v: True, trial_seed=3)
    a, b = (read_checkpoint(tmp_path / f"{id(o)}.pt")["state"]["model"] for o in (on_device, pinned))
    for name, weights in a.items():
        torch.testing.assert_close(b[name], weights)  # cuDNN may pick other kernels: close, not equal
