"""Starting `rung serve` as a child process and learning its address.

Shared by `rung demo`, the benchmarks and the tests: the server prints
`rung serving on HOST:PORT` once it listens (port 0 picks a free one).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

READY = "rung serving on "


def spawn_server(
    serve_args: Sequence[str], log: Path, prefix: Sequence[str] = (), **popen: Any
) -> tuple[subprocess.Popen[str], str]:
    """Runs `rung serve *serve_args` (after `prefix`, e.g. `ip netns exec NAME`).

    Its log is appended to `log` (a file, not a pipe nobody reads, which would
    block a chatty server). Returns the process and the address it printed.
    """
    with open(log, "a") as err:
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "rung.cli", "serve", *serve_args],
            stdout=subprocess.PIPE, stderr=err, text=True, **popen,
        )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith(READY):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"rung serve did not start: {line!r}\n{Path(log).read_text()[-3000:]}")
    return proc, line[len(READY):]


def resident_mib(pid: int) -> float:
    """A process's resident memory (VmRSS) in MiB, from /proc (Linux); NaN if not reported."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
