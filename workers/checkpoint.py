"""Trial checkpoints: everything needed to resume training bit-for-bit.

A checkpoint holds the objective's training state (`Trainer.state_dict()`: for
the built-in objectives the model, optimizer, LR scheduler and AMP grad scaler
states), the RNG states of torch, CUDA, numpy and ``random``, the epoch count
and a small ``extra`` dict for the caller. It is loaded with
``torch.load(weights_only=True)``, which refuses arbitrary pickled objects, so a
checkpoint fetched from another worker cannot run code here; that is why RNG
states are stored as tensors, ints and floats rather than as the tuples the RNG
modules return, and why a state that holds anything else is refused when saved.

Format 1 (before objectives were plugins) kept the built-in objective's four
states at the top level; it is still read, as the state of format 2.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rung.durable import fsync_dir

FORMAT_VERSION = 2
_KEYS = ("format", "epoch", "state", "rng", "extra")
_FORMAT_1_STATE = ("model", "optimizer", "lr_scheduler", "grad_scaler")


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable, or does not fit the trial being resumed."""


def save_checkpoint(
    path: Path,
    *,
    state: dict[str, Any],
    epoch: int,
    extra: dict[str, Any],
    device: torch.device,
) -> None:
    """Write a checkpoint atomically: a reader sees the old file or the complete new one.

    ``state`` may hold tensors, str-keyed dicts, lists, tuples, str, int,
    float, bool and None; ``extra`` the same without tensors. Anything else
    raises TypeError here rather than making the checkpoint unloadable later.
    ``device`` is where training runs: its CUDA RNG state is saved.
    """
    _check_plain(state, "state", tensors=True)
    _check_plain(extra, "extra", tensors=False)
    payload = {
        "format": FORMAT_VERSION,
        "epoch": int(epoch),
        "state": state,
        "rng": _rng_state(device),
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
    if isinstance(payload, dict) and payload.get("format") == 1 and set(payload) == {
        "format", "epoch", "rng", "extra", *_FORMAT_1_STATE
    }:
        payload = {
            "format": FORMAT_VERSION,
            "epoch": payload["epoch"],
            "state": {key: payload[key] for key in _FORMAT_1_STATE},
            "rng": payload["rng"],
            "extra": payload["extra"],
        }
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION or set(payload) != set(_KEYS):
        raise CheckpointError(f"checkpoint {path} is not a rung checkpoint of format {FORMAT_VERSION}")
    return payload


def load_checkpoint(path: Path, load_state: Callable[[dict[str, Any]], None], device: torch.device) -> int:
    """Hand the saved state to `load_state`, restore the RNG states; return the epoch."""
    payload = read_checkpoint(path)
    try:
        load_state(payload["state"])
        _set_rng_state(payload["rng"], device)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {path} does not fit this trial's model/optimizer: {exc}") from exc
    return int(payload["epoch"])


def _rng_state(device: torch.device) -> dict[str, Any]:
    """RNG states as weights-only-loadable values.

    Only the CUDA generator of the training device is kept: a trial paused on
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


def _check_plain(value: Any, where: str, tensors: bool) -> None:
    """Refuse what a weights-only load would refuse; states may hold tensors and int keys (optimizers')."""
    if isinstance(value, dict):
        keys = (str, int) if tensors else (str,)
        for key, item in value.items():
            if not isinstance(key, keys) or isinstance(key, bool):
                raise TypeError(f"{where}: keys must be {' or '.join(k.__name__ for k in keys)}, got {key!r}")
            _check_plain(item, f"{where}[{key!r}]", tensors)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]", tensors)
    elif tensors and isinstance(value, (torch.Tensor, torch.dtype, torch.device)):
        return
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise TypeError(f"{where}: {type(value).__name__} cannot be stored in a checkpoint")
