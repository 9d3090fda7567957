"""The `build` fixture for the scheduler tests."""

from __future__ import annotations

import pytest
from scheduler_builders import Build, make_spec

from rung.core.schedulers import Scheduler


@pytest.fixture
def build() -> Build:
    """build(kind, r_min=1, r_max=9, eta=3, brackets=0, seed=0, **budget) -> a fresh scheduler."""

    def _build(kind: str, **kwargs: float) -> Scheduler:
        return make_spec(kind, **kwargs).build_scheduler()  # type: ignore[arg-type]

    return _build
