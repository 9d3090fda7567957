"""Tiny data sets in the exact on-disk formats torchvision reads.

Every image encodes its own label, so tests can check that images and labels
stay aligned through loading, splitting and normalization: a Fashion-MNIST
image has background 20 * label and a white bar at rows 4 + 2 * label and the
next; a CIFAR-10 image has the value 20 * label + c in channel c. The bar also
makes the fake Fashion-MNIST quick to learn.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from torchvision.datasets import CIFAR10

from rung.workers.data import DEBIAN_FASHION_MNIST, prepare_fashion_mnist

FAKE_TRAIN, FAKE_TEST = 700, 20
CIFAR_BATCH = 40  # images per data batch; five batches make the training split


def _labels(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 10, size=n, dtype=np.uint8)


def _write_idx_gz(path: Path, array: np.ndarray) -> None:
    """idx format: two zero bytes, type code 0x08 (ubyte), ndim, big-endian int32 dims, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="session")
def fake_fmnist_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory laid out like Debian's /usr/share/datasets/fashion-mnist/."""
    source = tmp_path_factory.mktemp("debian-fmnist")
    for prefix, n, seed in (("train", FAKE_TRAIN, 1), ("t10k", FAKE_TEST, 2)):
        labels = _labels(n, seed)
        images = np.repeat((labels * 20)[:, None, None], 28, axis=1).repeat(28, axis=2)
        for row in (0, 1):
            images[np.arange(n), 4 + 2 * labels + row, :] = 255
        _write_idx_gz(source / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx_gz(source / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return source


@pytest.fixture(scope="session")
def fake_fmnist_dir(tmp_path_factory: pytest.TempPathFactory, fake_fmnist_source: Path) -> Path:
    """A data directory holding the fake Fashion-MNIST, unpacked where torchvision looks."""
    data_dir = tmp_path_factory.mktemp("fmnist-data")
    prepare_fashion_mnist(data_dir, source_dir=fake_fmnist_source)
    return data_dir


def _write_cifar_batch(path: Path, labels: np.ndarray) -> str:
    """One batch as CIFAR-10's python version stores it; returns the file's md5."""
    n = len(labels)
    # Rows are 3072 bytes: the 1024 red values, then green, then blue (row-major 32x32).
    planes = (labels * 20)[:, None, None] + np.arange(3, dtype=np.uint8)[None, :, None]
    data = np.broadcast_to(planes, (n, 3, 1024)).reshape(n, 3072).astype(np.uint8)
    entry = {
        "batch_label": path.name,
        "labels": [int(v) for v in labels],
        "data": data,
        "filenames": [f"img_{i}.png" for i in range(n)],
    }
    path.write_bytes(pickle.dumps(entry, protocol=2))
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def fake_cifar_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(data_dir, {file name: md5}) for a 200-image CIFAR-10 in the real pickle-batch layout."""
    data_dir = tmp_path_factory.mktemp("cifar-data")
    folder = data_dir / CIFAR10.base_folder
    folder.mkdir()
    md5s = {
        f"data_batch_{i}": _write_cifar_batch(folder / f"data_batch_{i}", _labels(CIFAR_BATCH, 10 + i))
        for i in range(1, 6)
    }
    md5s["test_batch"] = _write_cifar_batch(folder / "test_batch", _labels(CIFAR_BATCH, 20))
    meta = folder / "batches.meta"
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    meta.write_bytes(
        pickle.dumps({"label_names": names, "num_cases_per_batch": CIFAR_BATCH, "num_vis": 3072}, protocol=2)
    )
    md5s["batches.meta"] = hashlib.md5(meta.read_bytes()).hexdigest()
    return data_dir, md5s


@pytest.fixture
def fake_cifar_dir(fake_cifar_files: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake CIFAR-10 with torchvision's checksum lists pointed at its files.

    torchvision's CIFAR10 refuses batch files whose md5 differs from the real
    data set's, and no fake can match those. Rather than switch verification
    off, we swap the class's expected md5s for those of the files written above,
    so the check still runs (and a corrupted fake would still be rejected).
    """
    data_dir, md5s = fake_cifar_files
    monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", md5s[f"data_batch_{i}"]] for i in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5s["test_batch"]]])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5s["batches.meta"]})
    return data_dir


@pytest.fixture(scope="session")
def real_fmnist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real Fashion-MNIST (from the repository's data/ or Debian's package), else skip."""
    repo_data = Path(__file__).resolve().parents[2] / "data"
    raw = repo_data / "FashionMNIST" / "raw"
    names = [
        f"{split}-{kind}-idx{dims}-ubyte"
        for split in ("train", "t10k")
        for kind, dims in (("images", 3), ("labels", 1))
    ]
    if all((raw / name).is_file() for name in names):
        return repo_data
    if not (DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(
            f"real Fashion-MNIST absent: neither {raw} nor {DEBIAN_FASHION_MNIST} "
            "(apt-get install dataset-fashion-mnist)"
        )
    data_dir = tmp_path_factory.mktemp("real-fmnist")
    prepare_fashion_mnist(data_dir)
    return data_dir
