"""Benchmark results as markdown fragments the documentation includes.

A benchmark prints its table as before and, given `--write-docs`, also writes it to
`docs/generated/<name>.md` under a provenance line: when it ran, on which machine
(host name, CPU count and model, and its load average, since other jobs may share
it), at which commit (and whether the working tree had
uncommitted changes) and the exact command. The pages include a fragment with
`--8<-- "docs/generated/<name>.md"` (pymdownx.snippets, `check_paths: true`), so a
table in the docs is always the one a run printed, and a missing fragment fails
`mkdocs build --strict`.

    from _report import Fragment, add_write_docs_flag   # benchmarks/ is on sys.path
    fragment = Fragment("simulator_speed")
    fragment.print("| a | b |")          # printed at once, and kept for the file
    fragment.write_if(args.write_docs)

GitHub shows no snippets, so a table the README shows is written into it too, between
`<!-- <name>: begin ... -->` and `<!-- <name>: end -->` (`write_readme_block`).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GENERATED = REPO / "docs" / "generated"


def add_write_docs_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--write-docs", action="store_true",
                        help=f"also write the table to {GENERATED.relative_to(REPO)}/<benchmark>.md "
                             "with a provenance line, for the documentation")


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def command_line(argv: list[str] | None = None) -> str:
    """The command as it can be typed again from the repository root."""
    argv = list(sys.argv if argv is None else argv)
    script = Path(argv[0]).resolve() if argv else Path("?")
    try:
        argv[0] = str(script.relative_to(REPO))
    except ValueError:
        argv[0] = str(script)
    return ".venv/bin/python " + shlex.join(argv)


def provenance(command: str | None = None, now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    commit = _git("rev-parse", "--short", "HEAD") or "unknown commit"
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    tree = "with uncommitted changes in the working tree" if dirty else "clean working tree"
    try:
        load = "load average {:.1f} / {:.1f} / {:.1f} over 1 / 5 / 15 min at the end".format(
            *os.getloadavg())
    except OSError:
        load = "load average unknown"
    return (f"Generated {now:%Y-%m-%d %H:%M} UTC on `{platform.node()}` "
            f"({os.cpu_count()} CPUs, {cpu_model()}, Python {platform.python_version()}; {load}), "
            f"commit `{commit}` ({tree}), by `{command or command_line()}`.")


class Fragment:
    """Lines printed to stdout and kept for docs/generated/<name>.md."""

    def __init__(self, name: str):
        self.name = name
        self.lines: list[str] = []

    def print(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def text(self, command: str | None = None) -> str:
        body = "\n".join(self.lines).strip("\n")
        return f"{provenance(command)}\n\n{body}\n"

    def write(self, directory: Path = GENERATED, command: str | None = None) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.md"
        tmp = path.with_suffix(".md.tmp")
        tmp.write_text(self.text(command))
        tmp.replace(path)
        print(f"wrote {path}", file=sys.stderr)
        return path

    def write_if(self, enabled: bool, directory: Path = GENERATED) -> Path | None:
        return self.write(directory) if enabled else None


def readme_markers(name: str) -> tuple[str, str]:
    """The comments around the README's block written by the benchmark `name`."""
    return (f"<!-- {name}: begin (benchmarks/{name}.py --write-docs writes this) -->",
            f"<!-- {name}: end -->")


def write_readme_block(name: str, text: str, readme: Path = REPO / "README.md") -> None:
    """Replaces the README's block of benchmark `name` with `text`, keeping the rest."""
    begin, end = readme_markers(name)
    content = readme.read_text()
    if begin not in content or end not in content:
        raise ValueError(f"{readme} has no block {begin} ... {end}")
    head, rest = content.split(begin, 1)
    tail = rest.split(end, 1)[1]
    readme.write_text(f"{head}{begin}\n{text.strip()}\n{end}{tail}")
