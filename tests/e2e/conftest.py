"""Data for end-to-end tests: Debian's Fashion-MNIST unpacked once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from rung.workers.data import DEBIAN_FASHION_MNIST, prepare_fashion_mnist


@pytest.fixture(scope="session")
def fmnist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not Path(DEBIAN_FASHION_MNIST).exists():
        pytest.skip("Fashion-MNIST not found: apt-get install dataset-fashion-mnist (make test does)")
    data = tmp_path_factory.mktemp("data")
    prepare_fashion_mnist(data)
    return data
