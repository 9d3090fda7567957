"""A throw-away PostgreSQL server for the tests: Debian's binaries, a temp folder, 127.0.0.1.

`PostgresServer.start()` runs `initdb` and `pg_ctl start` in a fresh folder
on a free loopback port (found by binding port 0). PostgreSQL refuses to run
as root, so as root the folder is given to the `postgres` user and the
binaries run through `runuser`. `unavailable()` says why no server can be
started here, so the tests that need one skip with that reason.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
USER = "rung"


def _bin_dir() -> Path | None:
    for folder in PG_BIN_DIRS:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def unavailable() -> str:
    """Why no PostgreSQL server can be started here ('' when one can)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed: pip install 'psycopg[binary]' (make test does)"
    if _bin_dir() is None:
        return "PostgreSQL server binaries not found: apt-get install postgresql (make test does)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a 'postgres' user to run PostgreSQL as"
    return ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    def __init__(self) -> None:
        # Not under pytest's tmp folders: those are private to root, and the server runs as postgres.
        self.folder = Path(tempfile.mkdtemp(prefix="rung-pg-"))
        self.data = self.folder / "data"
        self.port = 0
        self.bin = _bin_dir()
        self._as_postgres = os.geteuid() == 0

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> "PostgresServer":
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "--no-sync")
        self.port = _free_port()
        self._start_postmaster()
        return self

    def _start_postmaster(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c max_connections=300 -c fsync=on"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "pg.log"), "-w",
                  "-o", options, "start")

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stops the server as an administrator's restart does (every session is ended,
        what was committed stays), waits, and starts it again on the same port."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        time.sleep(down_seconds)
        self._start_postmaster()

    def stop(self) -> None:
        """Stops the server and removes its folder."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
