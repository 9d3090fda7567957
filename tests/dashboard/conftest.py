"""Fixtures of the dashboard tests: an in-process dashboard and Debian's chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from dashboard_support import CHROMIUM, CHROMIUM_ARGS, TOKEN, Dash

from rung.server.http import start_dashboard
from rung.server.security import ServerSecurity
from rung.server.service import StudyService
from rung.server.sql_journal import SqliteJournal


def _dash(tmp_path: Path, security: ServerSecurity) -> Iterator[Dash]:
    service = StudyService(SqliteJournal(tmp_path / "rung.db"))
    server = start_dashboard(service, "127.0.0.1", 0, security)
    yield Dash(service, server)
    server.stop()
    service.journal.close()


@pytest.fixture
def dash(tmp_path: Path) -> Iterator[Dash]:
    """A dashboard without a token over a real SQLite-journaled service, on 127.0.0.1:0."""
    yield from _dash(tmp_path, ServerSecurity())


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Dash]:
    """The same with the server's token set."""
    yield from _dash(tmp_path, ServerSecurity(token=TOKEN))


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's chromium driven by Playwright; each test opens its own context (own cookies)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium "
                    "(apt-get install chromium, as root); without it the browser tests cannot run")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is missing: pip install -e '.[dev]'")
    with sync_api.sync_playwright() as p:
        # launch() gives the browser a fresh temporary user-data-dir of its own.
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                    headless=True)
        yield browser
        browser.close()
