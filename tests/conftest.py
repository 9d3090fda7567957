"""Fixtures shared by every test folder."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from support import ServerProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A real `rung serve` subprocess with a SQLite journal in tmp_path."""
    proc = ServerProcess(tmp_path / "rung.db").start()
    yield proc
    proc.terminate()
