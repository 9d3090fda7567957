"""Trial checkpoints: everything needed to resume training bit-for-bit.

A checkpoint holds the model, optimizer, LR scheduler (and AMP grad scaler)
states, the RNG states of torch, CUDA, numpy and ``random``, the epoch count and
a small ``extra`` dict for the caller. It is loaded with
``torch.load(weights_only=True)``, which refuses arbitrary pickled objects, so a
checkpoint fetched from another worker cannot run code here; that is why RNG
states are stored as tensors, ints and floats rather than as the tuples the RNG
modules return.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rung.durable import fsync_dir

FORMAT_VERSION = 1
_KEYS = ("format", "epoch", "model", "optimizer", "lr_scheduler", "grad_scaler", "rng", "extra")


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable, or does not fit the trial being resumed."""


def save_checkpoint(
    path: Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    lr_scheduler: torch.optim.lr_scheduler.LRScheduler,
    epoch: int,
    extra: dict[str, Any],
    grad_scaler: torch.amp.GradScaler | None = None,
) -> None:
    """Write a checkpoint atomically: a reader sees the old file or the complete new one.

    ``extra`` may hold only str-keyed dicts, lists, str, int, float, bool and
    None (what a weights-only load accepts); anything else raises TypeError
    here rather than making the checkpoint unloadable later.
    """
    _check_plain(extra, "extra")
    payload = {
        "format": FORMAT_VERSION,
        "epoch": int(epoch),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "lr_scheduler": lr_scheduler.state_dict(),
        "grad_scaler": grad_scaler.state_dict() if grad_scaler is not None and grad_scaler.is_enabled() else None,
        "rng": _rng_state(_device_of(model)),
        "extra": extra,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load and validate a checkpoint's contents (tensors on the CPU) without applying them."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle, disallowed global, ...
        raise CheckpointError(f"checkpoint {path} is corrupt or not a rung checkpoint: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION or set(payload) != set(_KEYS):
        raise CheckpointError(f"checkpoint {path} is not a rung checkpoint of format {FORMAT_VERSION}")
    return payload


def load_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    lr_scheduler: torch.optim.lr_scheduler.LRScheduler,
    grad_scaler: torch.amp.GradScaler | None = None,
) -> int:
    """Restore model, optimizer, scheduler, scaler and RNG states in place; return the epoch."""
    payload = read_checkpoint(path)
    try:
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        lr_scheduler.load_state_dict(payload["lr_scheduler"])
        if grad_scaler is not None and payload["grad_scaler"] is not None:
            grad_scaler.load_state_dict(payload["grad_scaler"])
        _set_rng_state(payload["rng"], _device_of(model))
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {path} does not fit this model/optimizer: {exc}") from exc
    return int(payload["epoch"])


def _device_of(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _rng_state(device: torch.device) -> dict[str, Any]:
    """RNG states as weights-only-loadable values.

    Only the CUDA generator of the model's own device is kept: a trial paused on
    cuda:1 of one machine may resume on cuda:0 of another.
    """
    np_state = np.random.get_state(legacy=False)
    py_version, py_state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "numpy": {
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "python": {"version": py_version, "state": torch.tensor(py_state, dtype=torch.int64), "gauss_next": py_gauss},
    }


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)
    np_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": np_state["pos"]},
            "has_gauss": np_state["has_gauss"],
            "gauss": np_state["gauss"],
        }
    )
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss_next"]))


def _check_plain(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: keys must be str, got {key!r}")
            _check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise TypeError(f"{where}: {type(value).__name__} cannot be stored in a checkpoint")
