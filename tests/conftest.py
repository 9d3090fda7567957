"""Fixtures shared by every test folder."""

from __future__ import annotations

import os

# numpy's BLAS threads only contend on this 2-core machine (torch keeps its own threads).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from pathlib import Path
from typing import Iterator

import pytest

from pg_support import PostgresServer, unavailable
from rung.workers.data import DEBIAN_FASHION_MNIST, prepare_fashion_mnist
from support import ServerProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A real `rung serve` subprocess with a SQLite journal in tmp_path."""
    proc = ServerProcess(tmp_path / "rung.db").start()
    yield proc
    proc.terminate()


@pytest.fixture(scope="session")
def fmnist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Debian's Fashion-MNIST, unpacked once per session where torchvision looks for it."""
    if not DEBIAN_FASHION_MNIST.exists():
        pytest.skip(
            f"Fashion-MNIST not found in {DEBIAN_FASHION_MNIST}: "
            "apt-get install dataset-fashion-mnist (make test does)"
        )
    data = tmp_path_factory.mktemp("fmnist")
    prepare_fashion_mnist(data)
    return data


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session (skips, saying why, where none can start)."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """A fresh, empty database on the session's server."""
    return postgres.new_database()
