"""User priors: rung's recommended method with a good, a medium and a misleading prior, vs none.

Usage: nice -n 10 python benchmarks/priors.py [--seeds 20] [--budget 30] [--processes 2]
                                              [--out docs/priors.md]

Each prior is defined from the benchmark's known optimum, in the unit (log-)range every
searcher works in (see rung.core.priors):

- good: at the optimum, confidence "high";
- medium: the optimum moved 0.2 of each range towards the middle (one step of a finite
  range or another choice of a categorical only where that is closer to the middle), "medium";
- misleading: far from the optimum (each coordinate at the far end: u -> 0.05 or 0.95; a
  categorical's other choice), confidence "high".

The table is the median simple regret of the incumbent at 10/25/50/100 % of the budget
(full-fidelity evaluations of worker time, as in benchmarks/compare.py) over the seeds.
It replaces the section between the markers in the output markdown file.
"""

from __future__ import annotations

import argparse
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rung.core.space import Categorical, SearchSpace
from rung.core.study import RECOMMENDED, SchedulerSettings, StudySpec
from rung.core.types import Budget
from rung.sim.benchmarks import make_benchmark
from rung.sim.simulator import Simulator

BENCHMARKS = {"branin": 27, "hartmann3": 27, "lenet": 27}  # name -> r_max
PRIORS = ("none", "good", "medium", "misleading")
FRACTIONS = (0.1, 0.25, 0.5, 1.0)
WORKERS = 4
BEGIN, END = "<!-- priors table: begin -->", "<!-- priors table: end -->"


def prior_space(space: SearchSpace, optimum: dict[str, Any], kind: str) -> SearchSpace:
    """The benchmark's space with the prior `kind` on every parameter (see the docstring)."""
    if kind == "none":
        return space
    params = {}
    for name, dom in space.params.items():
        best = optimum[name]
        if kind == "good":
            params[name] = replace(dom, prior=best, confidence="high")
            continue
        if isinstance(dom, Categorical):
            others = [c for c in dom.choices if c != best] or [best]
            value = best if kind == "medium" else others[0]
        else:
            u = dom.to_unit(best)
            if kind == "medium":
                target = u + 0.2 * np.sign(0.5 - u)
            else:
                target = 0.95 if u < 0.5 else 0.05
            value = dom.from_unit(float(target))
        confidence = "medium" if kind == "medium" else "high"
        params[name] = replace(dom, prior=value, confidence=confidence)
    return SearchSpace(params, {k: c.to_json() for k, c in space.conditions.items()})


def run_one(task: tuple[str, str, int, float]) -> tuple[str, str, list[float]]:
    """Median-ready regrets of one run at each fraction of the budget."""
    benchmark, kind, seed, budget = task
    r_max = BENCHMARKS[benchmark]
    bench = make_benchmark(benchmark, r_max=r_max, seed=seed)
    end = budget * bench.full_cost / WORKERS
    spec = StudySpec(
        name=f"{benchmark}-{kind}-{seed}",
        space=prior_space(bench.space, bench.optimum, kind),
        scheduler=SchedulerSettings(RECOMMENDED["scheduler"], 1, r_max, 3),
        searcher=RECOMMENDED["searcher"],
        budget=Budget(max_wall_seconds=end),
        seed=seed,
    )
    result = Simulator(spec.build_scheduler(), bench, WORKERS, end).run()
    times, regrets = np.array(result.times), np.array(result.regrets)
    at = []
    for f in FRACTIONS:
        seen = np.flatnonzero(times <= f * end)
        at.append(float(regrets[seen[-1]]) if len(seen) else float("inf"))
    return benchmark, kind, at


def table(results: dict[tuple[str, str], list[list[float]]], seeds: int, budget: float) -> str:
    head = " | ".join(f"{int(f * 100)} %" for f in FRACTIONS)
    intro = (
        f"Median simple regret over {seeds} seeds, {RECOMMENDED['scheduler']} + "
        f"{RECOMMENDED['searcher']}, {WORKERS} workers, a budget of {budget:g} full-fidelity "
        f"evaluations (`python benchmarks/priors.py --seeds {seeds} --budget {budget:g}`)."
    )
    lines = [
        intro,
        "",
        f"| benchmark | prior | {head} | PriorBand (NePS) |",
        "|---|---|" + "---:|" * len(FRACTIONS) + "---|",
    ]
    for benchmark in BENCHMARKS:
        for kind in PRIORS:
            runs = np.array(results[benchmark, kind])
            cells = " | ".join(f"{np.median(runs[:, i]):.4g}" for i in range(len(FRACTIONS)))
            lines.append(f"| {benchmark} | {kind} | {cells} | not yet measured |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--processes", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, default=Path("docs/priors.md"))
    args = parser.parse_args()
    tasks = [(b, k, s, args.budget) for b in BENCHMARKS for k in PRIORS for s in range(args.seeds)]
    results: dict[tuple[str, str], list[list[float]]] = {}
    with ProcessPoolExecutor(args.processes) as pool:
        for benchmark, kind, at in pool.map(run_one, tasks, chunksize=4):
            results.setdefault((benchmark, kind), []).append(at)
    text = table(results, args.seeds, args.budget)
    print(text)
    if args.out.exists():
        doc = args.out.read_text()
        pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
        args.out.write_text(pattern.sub(lambda _: f"{BEGIN}\n{text}\n{END}", doc))


if __name__ == "__main__":
    main()
