from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from rung.workers.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint

CPU = torch.device("cpu")


def _trained_state(seed: int) -> tuple[nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    torch.manual_seed(seed)
    model = nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)
    for _ in range(2):
        optimizer.zero_grad()
        model(torch.randn(8, 4)).pow(2).mean().backward()
        optimizer.step()
        scheduler.step()
    return model, optimizer, scheduler


def _state(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any) -> dict[str, Any]:
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "lr_scheduler": scheduler.state_dict()}


def _loader(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any) -> Any:
    def load(state: dict[str, Any]) -> None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["lr_scheduler"])

    return load


def _save(path: Path, epoch: int = 2, extra: dict[str, Any] | None = None) -> nn.Module:
    model, optimizer, scheduler = _trained_state(0)
    save_checkpoint(path, state=_state(model, optimizer, scheduler), epoch=epoch, extra=extra or {}, device=CPU)
    return model


def test_round_trip_restores_everything(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.pt"
    model, optimizer, scheduler = _trained_state(0)
    torch.manual_seed(123), np.random.seed(5), random.seed(9)
    random.gauss(0, 1)  # leaves a cached gaussian in the state
    save_checkpoint(
        path,
        state=_state(model, optimizer, scheduler),
        epoch=2,
        extra={"val_error": 0.25, "ids": [1, "a"]},
        device=CPU,
    )
    expected = (torch.rand(3), np.random.rand(3), random.gauss(0, 1), random.random())

    fresh, fresh_opt, fresh_sched = _trained_state(1)
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    assert load_checkpoint(path, _loader(fresh, fresh_opt, fresh_sched), CPU) == 2
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1])
    assert (random.gauss(0, 1), random.random()) == expected[2:]
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    momentum = [optimizer.state[p]["momentum_buffer"] for p in model.parameters()]
    assert all(
        torch.equal(m, fresh_opt.state[p]["momentum_buffer"]) for m, p in zip(momentum, fresh.parameters(), strict=True)
    )
    assert fresh_sched.state_dict() == scheduler.state_dict()
    assert fresh_opt.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    assert read_checkpoint(path)["extra"] == {"val_error": 0.25, "ids": [1, "a"]}


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ckpt.pt"
    _save(path, epoch=1)
    renames: list[tuple[str, str]] = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (renames.append((src, dst)), real_replace(src, dst)))
    _save(path, epoch=2)
    ((src, dst),) = renames
    assert Path(src).parent == tmp_path and Path(dst) == path  # renamed from a temp file beside it
    assert read_checkpoint(path)["epoch"] == 2

    def crash_midway(obj: object, f: Any) -> None:
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        _save(path, epoch=3)
    assert read_checkpoint(path)["epoch"] == 2  # the previous checkpoint survives intact
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # and the temp file is gone


def test_missing_checkpoint(tmp_path: Path) -> None:
    model, optimizer, scheduler = _trained_state(0)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt", _loader(model, optimizer, scheduler), CPU)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "foreign", "pickled_object"])
def test_corrupt_checkpoint(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "ckpt.pt"
    _save(path)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "garbage":
        path.write_bytes(os.urandom(4096))
    elif damage == "foreign":
        torch.save({"state_dict": {}}, path)
    else:  # an arbitrary object that a weights-only load must refuse to unpickle
        torch.save({"format": 1, "payload": Path("/etc/passwd")}, path)
    model, optimizer, scheduler = _trained_state(0)
    with pytest.raises(CheckpointError):
        load_checkpoint(path, _loader(model, optimizer, scheduler), CPU)


def test_checkpoint_of_another_model(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.pt"
    _save(path)
    other = nn.Linear(5, 3)
    optimizer = torch.optim.SGD(other.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_checkpoint(path, _loader(other, optimizer, scheduler), CPU)


def test_extra_must_be_plain_data(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="Path"):
        _save(tmp_path / "ckpt.pt", extra={"where": Path("/tmp")})
    assert not list(tmp_path.iterdir())


def test_state_must_be_weights_only_loadable(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"state\['model'\]: Linear"):
        save_checkpoint(tmp_path / "c.pt", state={"model": nn.Linear(2, 2)}, epoch=1, extra={}, device=CPU)
    assert not list(tmp_path.iterdir())


def test_format_1_checkpoints_are_still_read(tmp_path: Path) -> None:
    """Checkpoints written before objectives were plugins kept the four states at the top level."""
    path = tmp_path / "old.pt"
    _save(path, epoch=3, extra={"val_error": 0.5})
    new = read_checkpoint(path)
    torch.save({"format": 1, "epoch": 3, "rng": new["rng"], "extra": new["extra"],
                "grad_scaler": None, **new["state"]}, path)
    old = read_checkpoint(path)
    assert old["epoch"] == 3 and old["extra"] == {"val_error": 0.5}
    assert old["state"]["grad_scaler"] is None
    assert torch.equal(old["state"]["model"]["weight"], new["state"]["model"]["weight"])
