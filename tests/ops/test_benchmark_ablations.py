"""The server variants of `server_throughput.py --variants` patch out what they say they do."""

from __future__ import annotations

import importlib.util
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from rung.client import Client
from rung.server.launch import spawn_server

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "server_throughput.py"
_spec = importlib.util.spec_from_file_location("server_throughput", BENCHMARK)
assert _spec is not None and _spec.loader is not None
server_throughput = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(server_throughput)
server_env = server_throughput.server_env


def served(tmp_path: Path, variant: str) -> tuple[list[int], Path]:
    """Two Suggests against a `variant` server; their trial ids and its journal file."""
    db = tmp_path / f"{variant}.db"
    proc, address = spawn_server(["--port", "0", "--db", str(db)], tmp_path / "log",
                                 env=server_env(variant))
    try:
        with Client(address) as client:
            study = client.create_study("s", space={"x": [1, 2, 3]}, max_trials=10)
            ids = [study.suggest("w").trial_id for _ in range(2)]
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0
    return ids, db


def suggest_events(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT count(*) FROM events WHERE kind = 'suggest'").fetchone()[0]


def test_cached_answers_repeat_the_first_answer(tmp_path: Path) -> None:
    ids, db = served(tmp_path, "cached_answers")
    assert ids == [0, 0] and suggest_events(db) == 1


def test_no_durability_decides_but_writes_nothing(tmp_path: Path) -> None:
    ids, db = served(tmp_path, "no_durability")
    assert ids == [0, 1] and suggest_events(db) == 0


# A process started as `rung serve` is, with the variant's environment: the journal's
# writer connection reports its synchronous setting (2 = FULL, 1 = NORMAL).
SYNC_SETTING = (
    "import sys; from rung.server.sql_journal import SqliteJournal; "
    "print(SqliteJournal(sys.argv[1])._writer.execute('PRAGMA synchronous').fetchone()[0])"
)


@pytest.mark.parametrize("variant, setting", [("rung", "2"), ("no_fsync", "1")])
def test_no_fsync_commits_without_syncing(tmp_path: Path, variant: str, setting: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SYNC_SETTING, str(tmp_path / "j.db")],
        env=server_env(variant), capture_output=True, text=True, timeout=60, check=True,
    )
    assert done.stdout.strip() == setting
    ids, db = served(tmp_path, variant)
    assert ids == [0, 1] and suggest_events(db) == 2
