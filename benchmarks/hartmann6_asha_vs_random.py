"""Does ASHA reach random search's final median regret within a quarter of the budget?

    .venv/bin/python benchmarks/hartmann6_asha_vs_random.py [--seeds 20] [--plots docs]

Multi-fidelity Hartmann 6 (mfpbench's bias 0.5 and noise 0.1, r = 1..81,
cost 0.05 + 0.95 (r/81)^2), 4 simulated workers, a budget of 60 full-fidelity
evaluations of worker time (15 units of wall-clock time), ASHA with eta = 3
against random search (FIFO), each over the same seeds. The target is random
search's median simple regret at the end of the budget; the fraction is the
first time ASHA's median regret is at or below it, divided by the budget.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from rung.sim.analysis import curves, quantiles, time_to_reach
from rung.sim.plots import plot_anytime, plot_rungs
from rung.sim.runner import LABELS, BenchSettings, run_bench

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_report.py, also when imported
from _report import Fragment, add_write_docs_flag  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--processes", type=int, default=0)
    parser.add_argument("--plots", type=Path, help="folder for the any-time and rung plots")
    add_write_docs_flag(parser)
    args = parser.parse_args()

    settings = BenchSettings(methods=("fifo", "asha"), benchmarks=("hartmann6",), seeds=args.seeds)
    runs = run_bench(settings, args.processes or None)["runs"]
    by_method = {m: [r for r in runs if r["method"] == m] for m in settings.methods}
    end = runs[0]["horizon"]
    grid = np.linspace(0.0, end, 15001)[1:]
    medians = {m: quantiles(curves(rs, grid), (0.5,))[0] for m, rs in by_method.items()}
    target = float(medians["fifo"][-1])
    reached = time_to_reach(grid, medians["asha"], target)

    out = Fragment("hartmann6_asha_vs_random")
    out.print(f"Budget: {settings.budget:g} full-fidelity evaluations of worker time, "
              f"{settings.workers} workers = {end:g} units of simulated wall-clock time; "
              f"{args.seeds} seeds.")
    out.print()
    out.print("| | median simple regret |")
    out.print("| --- | ---: |")
    out.print(f"| random search, at the end of the budget | {target:.4f} |")
    out.print(f"| ASHA, at the end of the budget | {medians['asha'][-1]:.4f} |")
    out.print()
    if reached is None:
        out.print("ASHA never reached random search's final median: fraction > 1 (target MISSED).")
    else:
        fraction = reached / end
        verdict = "met" if fraction <= 0.25 else "MISSED"
        out.print(f"ASHA's median reached random search's final median at t = {reached:.3f}: "
                  f"a fraction of **{fraction:.3f}** of the budget (target <= 0.25: {verdict}).")
    out.write_if(args.write_docs)

    if args.plots:
        labelled = {LABELS[m]: rs for m, rs in by_method.items()}
        title = f"Hartmann 6, {settings.workers} workers, {args.seeds} seeds"
        print("wrote", plot_anytime(labelled, end, args.plots / "anytime_hartmann6.png", title,
                                    target=target))
        first = by_method["asha"][0]
        points = [(bracket, r, v) for _, bracket, r, v in first["rungs"]]
        print("wrote", plot_rungs(points, args.plots / "rungs_hartmann6_asha.png",
                                  "ASHA on Hartmann 6, seed 0: results by rung", "f(x, r)"))


if __name__ == "__main__":
    main()
