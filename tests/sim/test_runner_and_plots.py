"""`rung bench` end to end at a tiny size, the analysis helpers and the plots."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from rung.core.types import Mode
from rung.sim.analysis import on_grid, quantiles, time_to_reach
from rung.sim.cli import add_bench_parser, add_plot_parser
from rung.sim.live import incumbent_trajectory, observations
from rung.sim.plots import plot_trajectory

PNG = b"\x89PNG\r\n\x1a\n"


def rung(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="rung")
    sub = parser.add_subparsers(required=True)
    add_bench_parser(sub)
    add_plot_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_bench_writes_results_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    argv = ["bench", "--methods", "fifo,asha,sh", "--benchmarks", "branin,cnn", "--seeds", "2",
            "--budget", "8", "--processes", "2", "--out", str(out)]
    assert rung(*argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert len(results["runs"]) == 3 * 2 * 2
    assert {(r["method"], r["benchmark"], r["seed"]) for r in results["runs"]} == {
        (m, b, s) for m in ("fifo", "asha", "sh") for b in ("branin", "cnn") for s in (0, 1)
    }
    rows = list(csv.DictReader((out / "trajectories.csv").open()))
    assert len(rows) == sum(len(r["times"]) for r in results["runs"]) > 0
    for name in ("anytime_branin.png", "anytime_cnn.png", "rungs_cnn_asha.png"):
        assert (out / name).read_bytes().startswith(PNG)
    again = tmp_path / "again"
    assert rung("plot", "--results", str(out / "results.json"), "--out", str(again)) == 0
    assert (again / "anytime_cnn.png").stat().st_size > 1000


def test_step_functions_on_a_grid() -> None:
    grid = np.array([0.5, 1.0, 2.5, 4.0])
    assert on_grid([1.0, 3.0], [5.0, 2.0], grid).tolist() == [np.inf, 5.0, 5.0, 2.0]
    rows = np.array([[np.inf, 4.0, 3.0], [5.0, 2.0, 1.0], [np.inf, np.inf, 2.0]])
    assert quantiles(rows, (0.5,))[0].tolist() == [np.inf, 4.0, 2.0]
    assert time_to_reach(grid, np.array([9.0, 5.0, 3.0, 1.0]), 3.0) == 2.5
    assert time_to_reach(grid, np.array([9.0, 5.0, 3.0, 1.0]), 0.5) is None


def test_live_study_incumbent_prefers_the_highest_resource(tmp_path: Path) -> None:
    def trial(tid: int, obs: list[tuple[int, int, float]]) -> SimpleNamespace:
        return SimpleNamespace(
            id=tid, bracket=0,
            segments=[SimpleNamespace(milestone=m) for m in (1, 3)],
            observations=[
                SimpleNamespace(seq=s, at=100.0 + 10 * s, resource=r, value=v) for s, r, v in obs
            ],
        )

    rows = observations([trial(0, [(1, 1, 0.5), (4, 3, 0.6), (5, 2, 0.1)]),
                         trial(1, [(2, 1, 0.4), (3, 1, 0.9)])])  # resource 2: progress only
    assert [r[0] for r in rows] == [1, 2, 3, 4]
    assert incumbent_trajectory(rows, Mode.MIN, 100.0) == ([10.0, 20.0, 40.0], [0.5, 0.4, 0.6])
    assert incumbent_trajectory(rows, Mode.MAX, 100.0) == ([10.0, 30.0, 40.0], [0.5, 0.9, 0.6])
    path = plot_trajectory([1.0, 2.0], [0.5, 0.4], tmp_path / "a.png", "t", "x", "y")
    assert path.read_bytes().startswith(PNG)
