"""The framework tests train in this process too: one torch thread, as in the subprocesses
(`support.subprocess_env`), so a busy 2-core machine is not oversubscribed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
