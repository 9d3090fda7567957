"""Fixtures shared by the service tests: a fake clock, every journal, a service with a study."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from rung.server.service import StudyService
from rung.server.sql_journal import SqliteJournal
from rung.server.storage import Journal, MemoryJournal
from server_support import LEASE, FakeClock, make_spec


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def open_journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Journal]]:
    """Opens the study journal; a second call reopens the same storage, as a restart does."""
    memory = MemoryJournal()
    opened: list[Journal] = []
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else ""

    def _open() -> Journal:
        journal: Journal
        if request.param == "memory":
            journal = memory
        elif request.param == "sqlite":
            journal = SqliteJournal(tmp_path / "j.db")
        else:
            from rung.server.storage_pg import PostgresJournal

            journal = PostgresJournal(url)
        opened.append(journal)
        return journal

    yield _open
    for journal in opened:
        journal.close()


@pytest.fixture
def make_service(
    open_journal: Callable[[], Journal], clock: FakeClock
) -> Callable[..., StudyService]:
    """make_service(max_lost=3) -> a StudyService on the journal; call again to 'restart'."""

    def _make(max_lost: int = 3, journal: Journal | None = None) -> StudyService:
        return StudyService(
            journal or open_journal(), clock=clock, lease_seconds=LEASE, max_lost=max_lost
        )

    return _make


@pytest.fixture
def service(make_service: Callable[..., StudyService]) -> StudyService:
    """A service with study 's' (ASHA, levels 1, 3, 9, eta 3) created."""
    svc = make_service()
    svc.create_study(make_spec())
    return svc
