"""Multi-objective ASHA vs random search vs ASHA on a fixed scalarization, through rung's simulator.

Benchmark `cnn_size` (src/rung/sim/multiobjective.py): validation error and
parameter count of a CNN, both minimized. Every method gets the same worker
time (`--budget` 30 full trainings of the most accurate network, spread over
`--workers` 4 workers), rungs r = 9, 27, 81 (`--r-min`), eta = 3, 20 seeds. Score: the hypervolume of
the noiseless full-fidelity (r = 81) results reported so far, as a share of
the box between (0, 0) and the reference point (chance error 0.9, the largest
network, 33 M parameters), against the fraction of the budget spent.

Methods (all with the random searcher, so only the scheduler differs):
- random: FIFO, every trial trained to r = 81;
- ASHA (scalarized): ASHA on 0.5 error / 0.9 + 0.5 params / 33 M, fixed in advance;
- MO-ASHA: ASHA ranking rungs by non-dominated sorting and epsilon-net;
- MO-ASHA + BOHB: the same with the BOHB searcher on ParEGO scalarizations;
- MO-ASHA (stopping): stopping-type ASHA with the same ranking, the peer of
  Syne Tune's MOASHA (benchmarks/peers/syne_tune_moasha.py, `--extra-runs`).

    .venv/bin/python benchmarks/multiobjective.py     # table to stdout, JSON and plot to docs/multiobjective/
    .venv/bin/python benchmarks/multiobjective.py --extra-runs docs/multiobjective/syne_tune_moasha.json \
        --write-docs                                  # and the table to docs/generated/multiobjective.md
    (with --r-min other than 9 the fragment is docs/generated/multiobjective_r<r-min>.md)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget
from rung.sim.analysis import on_grid
from rung.sim.multiobjective import GOALS, CNNSizeSurrogate, HypervolumeTracker, ScalarizedBenchmark
from rung.sim.simulator import Simulator

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_report.py
from _report import Fragment, add_write_docs_flag  # noqa: E402

METHODS = {  # name -> (scheduler, searcher, several objectives?)
    "random": ("fifo", "random", True),
    "ASHA (scalarized)": ("asha", "random", False),
    "MO-ASHA": ("asha", "random", True),
    "MO-ASHA + BOHB": ("asha", "bohb", True),
    "MO-ASHA (stopping)": ("asha_stopping", "random", True),
}
FRACTIONS = (0.25, 0.5, 1.0)


def run(method: str, seed: int, budget: float, workers: int, r_min: int = 1) -> dict[str, Any]:
    scheduler, searcher, several = METHODS[method]
    bench = CNNSizeSurrogate(r_max=81, seed=seed)
    horizon = budget * bench.full_cost / workers
    goals = {"objectives": GOALS.objectives} if several else {}
    spec = StudySpec(
        name=f"mo-{seed}", space=bench.space, scheduler=SchedulerSettings(scheduler, r_min, 81, 3),
        searcher=searcher, budget=Budget(max_wall_seconds=horizon), seed=seed, **goals,
    )
    s = spec.build_scheduler()
    tracker = HypervolumeTracker(bench, s)
    simulated = bench if several else ScalarizedBenchmark(bench)
    Simulator(s, simulated, workers, horizon, record_rungs=False, on_report=tracker).run()
    return {"method": method, "seed": seed, "horizon": horizon,
            "times": tracker.times, "values": tracker.values, "trials": len(s.trials)}


def hypervolume_curve(run: dict[str, Any], grid: np.ndarray) -> np.ndarray:
    """A run's hypervolume at each budget fraction of `grid`; 0 before its first full result."""
    curve = on_grid([t / run["horizon"] for t in run["times"]], run["values"], grid)
    return np.where(np.isinf(curve), 0.0, curve)


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    grid = np.linspace(0.0, 1.0, 101)
    table: dict[str, Any] = {}
    finals: dict[str, np.ndarray] = {}
    curves: dict[str, np.ndarray] = {}
    for method in dict.fromkeys(r["method"] for r in runs):
        mine = [r for r in runs if r["method"] == method]
        if not mine:
            continue
        rows = np.array([hypervolume_curve(r, grid) for r in mine])
        curves[method] = rows
        finals[method] = rows[:, -1]
        table[method] = {
            **{f"median@{f}": float(np.median(rows[:, round(f * 100)])) for f in FRACTIONS},
            "q25@1.0": float(np.quantile(rows[:, -1], 0.25)),
            "q75@1.0": float(np.quantile(rows[:, -1], 0.75)),
            "mean_area": float(rows.mean(axis=1).mean()),
            "median_trials": float(np.median([r["trials"] for r in mine])),
        }
    for method in table:
        table[method]["wins_vs"] = {
            other: int((finals[method] > finals[other]).sum())
            for other in finals if other != method
        }
    return {"grid": grid.tolist(), "table": table,
            "medians": {m: np.median(c, axis=0).tolist() for m, c in curves.items()}}


def plot(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, median in summary["medians"].items():
        ax.plot(summary["grid"], median, label=method)
    at_fifth = min(m[20] for m in summary["medians"].values())
    ax.set_ylim(bottom=max(0.0, at_fifth - 0.02))  # the curves differ near the top
    ax.set_xlabel("fraction of the budget (simulated worker time)")
    ax.set_ylabel("hypervolume (share of the reference box)")
    ax.set_title("cnn_size: error vs parameters, median of seeds")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--budget", type=float, default=30.0, help="full trainings of worker time")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--r-min", type=int, default=9, help="first rung level (r_max is 81, eta 3)")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    p.add_argument("--out", default="docs/multiobjective", help="folder for the JSON and the plot")
    p.add_argument("--extra-runs", default=None, metavar="JSON",
                   help="runs of a peer made elsewhere (benchmarks/peers/syne_tune_moasha.py)")
    add_write_docs_flag(p)
    args = p.parse_args()
    methods = args.methods.split(",")
    tasks = [
        (m, seed, args.budget, args.workers, args.r_min) for m in methods for seed in range(args.seeds)
    ]
    with ProcessPoolExecutor(args.processes) as pool:
        runs = list(pool.map(run, *zip(*tasks)))
    if args.extra_runs:
        runs += json.loads(Path(args.extra_runs).read_text())
    summary = summarize(runs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = {"seeds": args.seeds, "budget": args.budget, "workers": args.workers,
                "r_min": args.r_min, "r_max": 81, "eta": 3}
    (out / "multiobjective.json").write_text(json.dumps({"settings": settings, **summary}, indent=1))
    plot(summary, out / "multiobjective_hv.png")
    out = Fragment("multiobjective" if args.r_min == 9 else f"multiobjective_r{args.r_min}")
    out.print(f"cnn_size, {args.seeds} seeds, {args.workers} workers, budget {args.budget:g} full "
              f"trainings, r = {args.r_min}..81, eta = 3; hypervolume as a share of the box:")
    out.print()
    out.print("| method | median HV at 25% | at 50% | at 100% (IQR) | mean over budget | trials |")
    out.print("| --- | --- | --- | --- | --- | --- |")
    for method, row in summary["table"].items():
        out.print(f"| {method} | {row['median@0.25']:.4f} | {row['median@0.5']:.4f} | "
                  f"{row['median@1.0']:.4f} ({row['q25@1.0']:.4f}-{row['q75@1.0']:.4f}) | "
                  f"{row['mean_area']:.4f} | {row['median_trials']:.0f} |")
    out.print()
    out.print("Final hypervolume higher than the other method's, seeds out of all:")
    out.print()
    for method, row in summary["table"].items():
        wins = ", ".join(f"{o}: {n}/{args.seeds}" for o, n in row["wins_vs"].items())
        out.print(f"- {method} ends higher than {wins}")
    out.write_if(args.write_docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
