"""What `make demo` prints today, for the README and the getting-started page.

    .venv/bin/python benchmarks/demo.py [--write-docs] [demo flags ...]

Runs `rung demo` (the command `make demo` runs) in a fresh working folder, so nothing
is resumed from an earlier run, and keeps the summary it ends with: the best
configuration and its validation error, trials and promotions, epochs trained, and
how long the whole command took on this machine. With `--write-docs` the summary is
docs/generated/demo.md and the README's demo block, so the output the docs show is
the output the demo printed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_report.py
from _report import Fragment, add_write_docs_flag, write_readme_block  # noqa: E402

SUMMARY_START = "rung demo finished in"


def summary_lines(output: str) -> list[str]:
    """The summary the demo ends with, from its "finished" line on."""
    lines = output.rstrip("\n").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(SUMMARY_START)]
    if not starts:
        raise ValueError(f"rung demo printed no summary (no line starting {SUMMARY_START!r})")
    return lines[starts[-1]:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_write_docs_flag(parser)
    args, demo_flags = parser.parse_known_args()
    rung = Path(sys.executable).with_name("rung")
    with tempfile.TemporaryDirectory(prefix="rung-demo-") as workdir:
        started = time.monotonic()
        done = subprocess.run([str(rung), "demo", "--workdir", workdir, *demo_flags],
                              capture_output=True, text=True, check=False)
        seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-2000:] + done.stderr[-4000:])
        print(f"rung demo exited with status {done.returncode}", file=sys.stderr)
        return 1
    out = Fragment("demo")
    flags = " ".join(demo_flags)
    out.print(f"`rung demo{' ' + flags if flags else ''}` in a fresh working folder: "
              f"{seconds:.0f} s for the whole command, start-up included.")
    out.print()
    out.print("```")
    out.print("$ make demo")
    out.print("...")
    for line in summary_lines(done.stdout):
        out.print(line)
    out.print("```")
    if args.write_docs:
        out.write()
        write_readme_block("demo", out.text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
