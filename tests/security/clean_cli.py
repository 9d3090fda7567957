"""Runs the `rung` command in a clean environment: no RUNG_TOKEN or RUNG_CA_FILE leaks in."""

from __future__ import annotations

import subprocess

from support import REPO, rung_command


def run_rung(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        rung_command(*args),
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
