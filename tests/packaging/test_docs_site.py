"""The documentation site builds with `mkdocs build --strict`: no broken link, reference or fragment.

mkdocs.yml makes a link to a missing page or anchor, an API reference that griffe
cannot collect and a `--8<--` include of a missing file (docs/generated/*.md
included with `check_paths: true`) fail the build. Skipped where mkdocs and its
plugins are not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("material")
pytest.importorskip("mkdocstrings_handlers.python")

REPO = Path(__file__).resolve().parents[2]


def build(root: Path, site: Path) -> subprocess.CompletedProcess:
    # not --quiet: mkdocs then drops the warnings that --strict counts, and passes
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict",
         "-f", str(root / "mkdocs.yml"), "-d", str(site)],
        cwd=root, capture_output=True, text=True, timeout=240,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def test_the_site_builds_strictly(tmp_path):
    site = tmp_path / "site"
    result = build(REPO, site)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (site / "index.html").exists()
    reference = (site / "reference" / "client" / "index.html").read_text()
    assert "A connection to a rung server" in reference  # Client's docstring, from client/
    benchmarks = (site / "benchmarks" / "index.html").read_text()
    assert "--8&lt;--" not in benchmarks and "--8<--" not in benchmarks  # fragments were included
    assert "Generated 20" in benchmarks  # a provenance line from docs/generated/


def copy_site_sources(dest: Path) -> Path:
    for name in ("mkdocs.yml", "pyproject.toml", "CONTRIBUTING.md"):
        shutil.copy2(REPO / name, dest / name)
    shutil.copytree(REPO / "docs", dest / "docs")
    for folder in ("src", "client", "examples"):
        (dest / folder).symlink_to(REPO / folder)
    return dest


@pytest.mark.parametrize("breakage", ["link", "fragment"])
def test_a_broken_link_or_missing_fragment_fails_the_build(tmp_path, breakage):
    root = copy_site_sources(tmp_path)
    page = root / "docs" / "getting-started.md"
    if breakage == "link":
        page.write_text(page.read_text() + "\n[gone](no-such-page.md)\n")
    else:
        page.write_text(page.read_text() + '\n--8<-- "docs/generated/no_such_benchmark.md"\n')
    result = build(root, tmp_path / "site")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert ("no-such-page.md" if breakage == "link" else "no_such_benchmark.md") in output
