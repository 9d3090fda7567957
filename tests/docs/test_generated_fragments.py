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


def load_script(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_readme_block_is_its_fragment_as_the_benchmark_wrote_it() -> None:
    """GitHub shows no snippets: the README holds copies, which must not drift."""
    report = load_script("_report")
    readme = (REPO / "README.md").read_text()
    names = re.findall(r"<!-- (\w+): begin \(benchmarks/\1\.py --write-docs writes this\) -->", readme)
    assert "compare" in names and "demo" in names
    for name in names:
        begin, end = report.readme_markers(name)
        block = readme.split(begin, 1)[1].split(end, 1)[0].strip()
        assert block == (GENERATED / f"{name}.md").read_text().strip(), name


def test_a_readme_block_is_replaced_and_the_rest_kept(tmp_path: Path) -> None:
    report = load_script("_report")
    begin, end = report.readme_markers("compare")
    readme = tmp_path / "README.md"
    readme.write_text(f"# rung\n\nbefore\n{begin}\nold table\n{end}\n\nafter\n")
    report.write_readme_block("compare", "Generated ...\n\n| a |\n", readme)
    assert readme.read_text() == f"# rung\n\nbefore\n{begin}\nGenerated ...\n\n| a |\n{end}\n\nafter\n"
    with pytest.raises(ValueError, match="no block"):
        report.write_readme_block("demo", "x", readme)


def test_the_demo_summary_is_what_follows_its_last_finished_line() -> None:
    demo = load_script("demo")
    output = ("rung demo: server ...\n[    5s] trials 3/32\n\nrung demo finished in 140s\n"
              "  best config: lr=0.1 (trial 7)\n  validation error: 0.1080 after 27 epochs\n")
    assert demo.summary_lines(output) == [
        "rung demo finished in 140s", "  best config: lr=0.1 (trial 7)",
        "  validation error: 0.1080 after 27 epochs"]
    with pytest.raises(ValueError, match="no summary"):
        demo.summary_lines("rung demo: server ...\n")
