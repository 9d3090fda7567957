"""The benchmark fragments in docs/generated/: each is included by a page and says where it came from.

A benchmark run with `--write-docs` writes its table to docs/generated/<name>.md
under a provenance line (benchmarks/_report.py); the pages include it with
`--8<-- "docs/generated/<name>.md"`. `mkdocs build --strict` already fails on an
include of a missing fragment (tests/packaging/test_docs_site.py); these tests
check the other direction (no fragment left out of every page), the provenance
line, and that the benchmarks which write fragments take `--write-docs`.
No timings are run or compared here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "docs" / "generated"
FRAGMENTS = sorted(GENERATED.glob("*.md"))
INCLUDE = re.compile(r'^--8<-- "docs/generated/([^"]+\.md)"\s*$', re.M)
PROVENANCE = re.compile(
    r"^Generated \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC on `[^`]+` \(.*\), "
    r"commit `(?:[0-9a-f]{7,40}|unknown commit)` \(.*\), by `.+`\.$"
)
# Benchmarks that write a fragment: their --help must offer --write-docs.
WRITERS = sorted(path.name for path in (REPO / "benchmarks").glob("*.py")
                 if "Fragment(" in path.read_text() and path.name != "_report.py")


def included() -> dict[str, list[str]]:
    pages: dict[str, list[str]] = {}
    for page in [*sorted((REPO / "docs").rglob("*.md")), REPO / "README.md"]:
        if GENERATED in page.parents or not page.exists():
            continue
        for name in INCLUDE.findall(page.read_text()):
            pages.setdefault(name, []).append(str(page.relative_to(REPO)))
    return pages


def test_there_are_fragments() -> None:
    assert FRAGMENTS, "docs/generated/ holds no fragment"


@pytest.mark.parametrize("fragment", FRAGMENTS, ids=lambda p: p.name)
def test_every_fragment_is_included_by_a_page(fragment: Path) -> None:
    assert fragment.name in included(), (
        f"docs/generated/{fragment.name} is included by no page: include it with "
        f'--8<-- "docs/generated/{fragment.name}" or delete it')


@pytest.mark.parametrize("fragment", FRAGMENTS, ids=lambda p: p.name)
def test_every_fragment_starts_with_its_provenance(fragment: Path) -> None:
    first, _, rest = fragment.read_text().partition("\n")
    assert PROVENANCE.match(first), f"{fragment.name}: first line is not a provenance line: {first!r}"
    assert rest.strip(), f"{fragment.name} holds nothing after its provenance line"


def test_every_included_fragment_exists() -> None:
    missing = {name: pages for name, pages in included().items() if not (GENERATED / name).exists()}
    assert not missing, f"included but not in docs/generated/: {missing}"


def test_the_fragment_writers_are_found() -> None:
    for name in ("dashboard_load.py", "group_commit.py", "lenet_curves_summary.py", "mlflow_mirror.py",
                 "multiobjective.py", "worker_throughput.py", "mlp_curves_summary.py", "failover.py"):
        assert name in WRITERS


@pytest.mark.parametrize("script", WRITERS)
def test_a_benchmark_that_writes_a_fragment_takes_write_docs(script: str) -> None:
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), "--help"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    if out.returncode != 0 and "ModuleNotFoundError" in out.stderr:
        pytest.skip(f"{script} needs a package that is not installed: {out.stderr.strip().splitlines()[-1]}")
    assert out.returncode == 0, out.stderr
    assert "--write-docs" in out.stdout
