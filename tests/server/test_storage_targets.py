"""`rung serve --db`: a path is SQLite, postgresql:// is PostgreSQL, anything else is refused."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from rung.server.journals import (
    UnsupportedDatabase,
    canonical,
    check_target,
    is_postgres,
    redact,
)
from pg_support import PostgresServer
from support import ServerProcess, rung_command


def refused_start(*serve_args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Runs a `rung serve` that must refuse to start: status 1, no traceback."""
    done = subprocess.run(
        rung_command("serve", *serve_args), cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    return done


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
    assert redact("postgresql://rung:p@ss@h/db") == "postgresql://rung:***@h/db"
    assert redact("postgresql://h/db?user=u&password=s3cret&sslmode=require") == (
        "postgresql://h/db?user=u&password=***&sslmode=require"
    )
    assert redact("postgresql://rung:s3cret@[::1/db") == "postgresql://rung:***@[::1/db"


def test_the_scheme_is_given_to_libpq_in_lower_case() -> None:
    assert canonical("POSTGRES://h/db") == "postgres://h/db"
    assert canonical("runs/X.db") == "runs/X.db"


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("postgresql://rung@h:notaport/db", "port must be a number"),
        ("postgresql://h/db?bogus=1", "not a valid URL"),
        ("postgresql://rung:s3cret@[::1/db", "not a valid URL"),
    ],
)
def test_a_url_libpq_would_refuse_is_refused_at_once_without_its_password(
    target: str, reason: str
) -> None:
    with pytest.raises(UnsupportedDatabase, match=reason) as info:
        check_target(target)
    assert "s3cret" not in str(info.value)


def test_rung_serve_gives_up_on_a_database_it_cannot_reach_and_says_why(tmp_path: Path) -> None:
    done = refused_start(
        "--port", "0", "--db", "postgresql://rung:s3cret@127.0.0.1:1/rung", "--db-wait", "1",
        cwd=tmp_path,
    )
    assert "cannot reach PostgreSQL (attempt 1; retrying every" in done.stderr  # as it waited
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("rung serve: cannot reach PostgreSQL at postgresql://rung:***@")
    assert "after 1 s" in last
    assert "s3cret" not in done.stderr + done.stdout


def test_rung_serve_refuses_an_unknown_scheme_and_creates_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        rung_command("serve", "--port", "0", "--db", "mysql://u@h/db"),
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0
    assert "unsupported URL scheme 'mysql://'" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_second_rung_serve_on_one_sqlite_file_is_refused_until_the_first_is_gone(
    tmp_path: Path,
) -> None:
    db = tmp_path / "rung.db"
    first = ServerProcess(db).start()
    try:
        stderr = refused_start("--port", "0", "--db", str(db)).stderr
        assert first.proc is not None
        assert f"is in use by another rung serve (pid {first.proc.pid})" in stderr
        first.restart()  # SIGKILL ends the lock with the process: the next server starts
    finally:
        first.terminate()


def test_a_server_that_takes_the_lead_but_cannot_open_the_journal_gives_it_up_and_says_why(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    """A role allowed one connection (managed databases set such limits): the lock session
    takes it, the journal's connection is refused."""
    import psycopg

    role = f"r_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.url(), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1")
        admin.execute(f"CREATE DATABASE {role} OWNER {role}")
    stderr = refused_start(
        "--port", "0", "--db", f"postgresql://{role}@127.0.0.1:{postgres.port}/{role}",
        "--db-wait", "5", cwd=tmp_path,
    ).stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("rung serve: took the lead but cannot open the journal:")
    assert "too many connections" in last


@pytest.mark.parametrize("where", ["a-folder.db", "not-a-database.db", "no-such-dir"])
def test_rung_serve_says_why_it_cannot_open_a_sqlite_journal(tmp_path: Path, where: str) -> None:
    (tmp_path / "a-folder.db").mkdir()
    (tmp_path / "not-a-database.db").write_text("these are not the bytes of a database\n" * 100)
    target = {"no-such-dir": "/proc/rung.db"}.get(where, str(tmp_path / where))
    stderr = refused_start("--port", "0", "--db", target, cwd=tmp_path).stderr
    assert stderr.strip().splitlines()[-1].startswith("rung serve: cannot open")


def test_rung_serve_refuses_ports_in_use_and_an_address_it_cannot_bind(tmp_path: Path) -> None:
    """gRPC's SO_REUSEPORT would otherwise let a second server share the port silently."""
    first = ServerProcess(tmp_path / "first.db").start()
    try:
        taken = str(first.port)
        for flags, reason in [
            (["--port", taken], "it is in use (another rung serve?)"),
            (["--port", "0", "--http-port", taken], f"127.0.0.1:{taken}: it is in use"),
            (["--port", "0", "--metrics-port", taken], f"127.0.0.1:{taken}: it is in use"),
            (["--host", "no-such-host.invalid", "--port", "0", "--insecure"],
             "cannot listen on no-such-host.invalid:0"),
        ]:
            assert reason in refused_start(*flags, "--db", str(tmp_path / "second.db")).stderr
        first.restart()  # SIGKILL, then the same port again: the dead server's port is free
        assert first.proc is not None and first.proc.poll() is None
    finally:
        first.terminate()
