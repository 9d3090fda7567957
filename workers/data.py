"""Datasets for the workers, read through torchvision's own dataset classes.

Images are converted to normalized float tensors once and kept in memory as
``TensorDataset``s: per-item PIL transforms cost more than LeNet's forward pass
on a CPU, and every trial of a worker reuses the same tensors.

The validation set is a held-out part of the *training* split (the test split
is never touched during tuning), chosen by a permutation seeded only by
``seed``, so every worker and every trial of a study sees the same split.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import tempfile
from pathlib import Path

import torch
from torch.utils.data import TensorDataset
from torchvision.datasets import CIFAR10, FashionMNIST

log = logging.getLogger(__name__)

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's package ``dataset-fashion-mnist`` installs the original idx ``.gz`` files."""

# Published per-channel statistics of the full training splits. Fixed constants
# (rather than statistics of the sampled subset) keep the inputs identical for
# every n_train, so results of different study sizes stay comparable.
FASHION_MNIST_MEAN, FASHION_MNIST_STD = (0.2860,), (0.3530,)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


class DatasetUnavailableError(RuntimeError):
    """The data set is neither on disk nor obtainable (no Debian files, no download)."""


def _raw_names() -> list[str]:
    """File names torchvision's FashionMNIST expects in ``FashionMNIST/raw/``."""
    return [name.removesuffix(".gz") for name, _md5 in FashionMNIST.resources]


def prepare_fashion_mnist(data_dir: Path, source_dir: Path = DEBIAN_FASHION_MNIST) -> None:
    """Make ``data_dir/FashionMNIST/raw/`` hold the four unpacked idx files.

    torchvision cannot read the ``.gz`` files itself, so Debian's copies are
    gunzipped into place. Each file is written to a temporary name and renamed,
    so several workers starting at once never see (or leave) a half-written file.
    Without Debian's files, torchvision downloads the data set.
    """
    raw = Path(data_dir) / "FashionMNIST" / "raw"
    missing = [name for name in _raw_names() if not (raw / name).is_file()]
    if not missing:
        return
    if all((source_dir / f"{name}.gz").is_file() for name in missing):
        raw.mkdir(parents=True, exist_ok=True)
        for name in missing:
            _gunzip_atomically(source_dir / f"{name}.gz", raw / name)
        log.info("unpacked Fashion-MNIST from %s into %s", source_dir, raw)
        return
    try:
        FashionMNIST(str(data_dir), download=True)  # fetches both splits
    except Exception as exc:  # torchvision raises several kinds on a failed download
        raise DatasetUnavailableError(
            f"Fashion-MNIST is not in {raw} ({', '.join(missing)} missing), {source_dir} lacks "
            "the .gz files (Debian package 'dataset-fashion-mnist' installs them), and the "
            f"download failed: {exc}"
        ) from exc


def _gunzip_atomically(source: Path, target: Path) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out, gzip.open(source, "rb") as src:
            shutil.copyfileobj(src, out, length=1 << 20)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def load_fashion_mnist(
    data_dir: Path, n_train: int | None, n_val: int | None, seed: int
) -> tuple[TensorDataset, TensorDataset]:
    """Return (train, val) subsets of Fashion-MNIST's training split as 1x28x28 tensors."""
    prepare_fashion_mnist(Path(data_dir))
    dataset = FashionMNIST(str(data_dir), train=True, download=False)
    images = dataset.data.unsqueeze(1)  # uint8, N x 1 x 28 x 28
    return _split(images, dataset.targets, n_train, n_val, seed, FASHION_MNIST_MEAN, FASHION_MNIST_STD)


def load_cifar10(
    data_dir: Path, n_train: int | None, n_val: int | None, seed: int, download: bool
) -> tuple[TensorDataset, TensorDataset]:
    """Return (train, val) subsets of CIFAR-10's training split as 3x32x32 tensors."""
    try:
        dataset = CIFAR10(str(data_dir), train=True, download=download)
    except RuntimeError as exc:
        raise DatasetUnavailableError(
            f"CIFAR-10 is not in {Path(data_dir) / CIFAR10.base_folder} (or fails its checksums); "
            f"download={download}: {exc}"
        ) from exc
    images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2)  # uint8, N x 3 x 32 x 32
    targets = torch.tensor(dataset.targets, dtype=torch.int64)
    return _split(images, targets, n_train, n_val, seed, CIFAR10_MEAN, CIFAR10_STD)


def split_indices(n_total: int, n_train: int | None, n_val: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Disjoint (train, val) index sets drawn by one seeded permutation.

    Validation takes the first ``n_val`` positions, so the validation set does not
    change with ``n_train``. ``n_val=None`` means a tenth of the split;
    ``n_train=None`` means all the rest.
    """
    n_val = n_total // 10 if n_val is None else n_val
    n_train = n_total - n_val if n_train is None else n_train
    if n_val < 1 or n_train < 1 or n_train + n_val > n_total:
        raise ValueError(f"need n_train >= 1, n_val >= 1, n_train + n_val <= {n_total}; got {n_train}, {n_val}")
    perm = torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))
    return perm[n_val : n_val + n_train], perm[:n_val]


def _split(
    images: torch.Tensor,
    targets: torch.Tensor,
    n_train: int | None,
    n_val: int | None,
    seed: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
) -> tuple[TensorDataset, TensorDataset]:
    train_idx, val_idx = split_indices(len(images), n_train, n_val, seed)
    mean_t = torch.tensor(mean).view(1, -1, 1, 1)
    std_t = torch.tensor(std).view(1, -1, 1, 1)

    def subset(idx: torch.Tensor) -> TensorDataset:
        x = (images[idx].float().div_(255.0) - mean_t).div_(std_t)
        return TensorDataset(x.contiguous(), targets[idx].long())

    return subset(train_idx), subset(val_idx)
