"""benchmarks/priors.py at a tiny scale: the priors it defines from each optimum, one run, the table."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from rung.sim.benchmarks import make_benchmark

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "priors.py"


@pytest.fixture(scope="module")
def priors() -> ModuleType:
    spec = importlib.util.spec_from_file_location("priors_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["branin", "hartmann3", "lenet"])
def test_priors_are_defined_from_the_optimum(priors: ModuleType, name: str) -> None:
    bench = make_benchmark(name, r_max=27)
    good = priors.prior_space(bench.space, bench.optimum, "good")
    assert good.prior_config() == bench.optimum
    assert all(d.confidence == "high" for d in good.params.values())
    optimum = bench.space.to_unit(bench.optimum)
    for kind, low, high in [("medium", 0.0, 0.35), ("misleading", 0.35, 1.0)]:
        space = priors.prior_space(bench.space, bench.optimum, kind)
        gap = np.abs(space.to_unit(space.prior_config()) - optimum).max()
        assert low <= gap <= high, (kind, gap)
    assert priors.prior_space(bench.space, bench.optimum, "none") == bench.space


def test_one_run_gives_a_regret_per_budget_fraction_and_a_table_row(priors: ModuleType) -> None:
    benchmark, kind, method, at = priors.run_one(("branin", "good", 0, 2.0, "rung"))
    assert (benchmark, kind, method) == ("branin", "good", "rung")
    assert len(at) == len(priors.FRACTIONS)
    assert all(a >= 0 for a in at) and np.isfinite(at[-1])  # inf: no incumbent yet
    results = {(b, k, "rung"): [at] for b in priors.BENCHMARKS for k in priors.PRIORS}
    text = priors.table(results, seeds={"rung": 1, "neps:priorband": 0}, budget=2.0)
    assert text.count("\n| branin |") == len(priors.PRIORS)
    assert "| not run | not run | not run | not run |" in text  # no PriorBand results given


@pytest.mark.skipif(not (SCRIPT.parents[1] / ".venv-neps" / "bin" / "python").exists(),
                    reason="NePS's venv is missing (make peers-venv builds it)")
def test_priorband_runs_in_its_own_venv_with_the_same_prior(priors: ModuleType) -> None:
    rows = priors.run_priorband([("branin", "good", 0, 2.0, "neps:priorband")], processes=1)
    (benchmark, kind, method, at), = rows
    assert (benchmark, kind, method) == ("branin", "good", "neps:priorband")
    assert len(at) == len(priors.FRACTIONS) and np.isfinite(at[-1]) and at[-1] >= 0


def test_runs_are_cached_and_a_rerun_runs_nothing(tmp_path: Path) -> None:
    out = tmp_path / "priors.md"
    out.write_text("before\n<!-- priors table: begin -->\nold\n<!-- priors table: end -->\nafter\n")
    command = [sys.executable, str(SCRIPT), "--seeds", "1", "--peer-seeds", "0", "--budget", "2",
               "--processes", "1", "--cache", str(tmp_path / "cache"), "--out", str(out)]
    first = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    assert "0 runs cached, 12 to run" in first.stderr
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 12  # 3 benchmarks x 4 priors
    table = out.read_text()
    assert table.startswith("before\n") and table.endswith("after\n") and "old" not in table
    assert "Generated " in table and "| branin | good |" in table
    second = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    assert "12 runs cached, 0 to run" in second.stderr
    assert second.stdout.split("\n", 1)[1] == first.stdout.split("\n", 1)[1]  # all but the date
