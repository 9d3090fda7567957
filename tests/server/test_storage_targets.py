"""`rung serve --db`: a path is SQLite, postgresql:// is PostgreSQL, anything else is refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rung.server.journals import UnsupportedDatabase, check_target, is_postgres, redact
from support import rung_command


@pytest.mark.parametrize("target", ["postgresql://u@h:5432/db", "POSTGRES://h/db"])
def test_postgres_urls_are_recognised(target: str) -> None:
    check_target(target)
    assert is_postgres(target)


@pytest.mark.parametrize("target", ["rung.db", "/var/lib/rung/rung.db", "runs/x:y.db", "C:\\r.db"])
def test_paths_are_sqlite_files(target: str) -> None:
    check_target(target)
    assert not is_postgres(target)


@pytest.mark.parametrize("target", ["mysql://u@h/db", "sqlite:///x.db", "http://h/x", ""])
def test_other_targets_are_refused_with_the_choices(target: str) -> None:
    with pytest.raises(UnsupportedDatabase, match="postgresql://|empty"):
        check_target(target)


def test_a_password_never_reaches_the_log() -> None:
    assert redact("postgresql://rung:s3cret@h:5432/db") == "postgresql://rung:***@h:5432/db"
    assert redact("postgresql://rung@h/db") == "postgresql://rung@h/db"


def test_rung_serve_refuses_an_unknown_scheme_and_creates_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        rung_command("serve", "--port", "0", "--db", "mysql://u@h/db"),
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0
    assert "unsupported URL scheme 'mysql://'" in done.stderr
    assert list(tmp_path.iterdir()) == []
