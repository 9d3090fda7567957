from __future__ import annotations

import gzip
import threading
from pathlib import Path

import pytest
import torch
from torchvision.datasets import FashionMNIST

from rung.workers.data import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    DatasetUnavailableError,
    load_cifar10,
    load_fashion_mnist,
    prepare_fashion_mnist,
    split_indices,
)

RAW_NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def _pixel_values(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """Undo the normalization: back to 0..255 per channel."""
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    return ((x * s + m) * 255).round()


def test_prepare_unpacks_debian_files(tmp_path: Path, fake_fmnist_source: Path) -> None:
    prepare_fashion_mnist(tmp_path, source_dir=fake_fmnist_source)
    raw = tmp_path / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(RAW_NAMES)  # no temp files left behind
    for name in RAW_NAMES:
        assert (raw / name).read_bytes() == gzip.decompress((fake_fmnist_source / f"{name}.gz").read_bytes())


def test_concurrent_prepares_leave_complete_files(tmp_path: Path, fake_fmnist_source: Path) -> None:
    threads = [threading.Thread(target=prepare_fashion_mnist, args=(tmp_path, fake_fmnist_source)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    raw = tmp_path / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(RAW_NAMES)
    assert len(FashionMNIST(str(tmp_path), train=True)) == 700


def test_prepare_without_source_or_download_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A mirror that fails at once exercises torchvision's real download fallback without a network.
    monkeypatch.setattr(FashionMNIST, "mirrors", [(tmp_path / "no-mirror").as_uri() + "/"])
    with pytest.raises(DatasetUnavailableError, match="dataset-fashion-mnist"):
        prepare_fashion_mnist(tmp_path / "data", source_dir=tmp_path / "empty")


def test_split_is_deterministic_and_disjoint() -> None:
    train, val = split_indices(1000, 300, 100, seed=7)
    train2, val2 = split_indices(1000, 300, 100, seed=7)
    assert torch.equal(train, train2) and torch.equal(val, val2)
    assert len(train) == 300 and len(val) == 100
    assert not set(train.tolist()) & set(val.tolist())
    # The validation set does not depend on how much training data a study uses.
    assert torch.equal(split_indices(1000, 800, 100, seed=7)[1], val)
    assert not torch.equal(split_indices(1000, 300, 100, seed=8)[1], val)


def test_split_defaults_and_limits() -> None:
    train, val = split_indices(1000, None, None, seed=0)
    assert (len(train), len(val)) == (900, 100)
    with pytest.raises(ValueError):
        split_indices(1000, 950, 100, seed=0)
    with pytest.raises(ValueError):
        split_indices(1000, 10, 0, seed=0)


def test_load_fashion_mnist_keeps_images_and_labels_aligned(fake_fmnist_dir: Path) -> None:
    train, val = load_fashion_mnist(fake_fmnist_dir, n_train=512, n_val=128, seed=0)
    for ds, n in ((train, 512), (val, 128)):
        x, y = ds.tensors
        assert x.shape == (n, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
        pixels = _pixel_values(x, FASHION_MNIST_MEAN, FASHION_MNIST_STD)[:, 0]
        assert torch.equal(pixels[:, 0, 0], (y * 20).float())  # background
        bar_rows = pixels[torch.arange(n), 4 + 2 * y]
        assert bool((bar_rows == 255).all()) and int((pixels == 255).sum()) == n * 2 * 28
    train2, val2 = load_fashion_mnist(fake_fmnist_dir, n_train=512, n_val=128, seed=0)
    assert torch.equal(val.tensors[0], val2.tensors[0]) and torch.equal(train.tensors[1], train2.tensors[1])


def test_load_cifar10_from_files_in_the_real_format(fake_cifar_dir: Path) -> None:
    train, val = load_cifar10(fake_cifar_dir, n_train=150, n_val=50, seed=0, download=False)
    x, y = train.tensors
    assert x.shape == (150, 3, 32, 32) and x.dtype == torch.float32 and len(val) == 50
    pixels = _pixel_values(x, CIFAR10_MEAN, CIFAR10_STD)
    expected = (y * 20).view(-1, 1, 1, 1) + torch.arange(3).view(1, 3, 1, 1)  # channel c holds 20*label + c
    assert torch.equal(pixels, expected.float().expand_as(pixels))


def test_load_cifar10_rejects_files_failing_the_checksums(fake_cifar_files: tuple[Path, dict[str, str]]) -> None:
    data_dir, _ = fake_cifar_files  # torchvision's real md5 list is in force here
    with pytest.raises(DatasetUnavailableError, match="checksums"):
        load_cifar10(data_dir, n_train=10, n_val=10, seed=0, download=False)


def test_real_fashion_mnist_subset(real_fmnist_dir: Path) -> None:
    train, val = load_fashion_mnist(real_fmnist_dir, n_train=2048, n_val=512, seed=0)
    x, y = train.tensors
    assert x.shape == (2048, 1, 28, 28) and len(val) == 512
    assert abs(x.mean().item()) < 0.1 and abs(x.std().item() - 1) < 0.1
    assert set(y.tolist()) == set(range(10))
