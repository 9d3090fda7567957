"""User priors: rung's recommended method with a good, a medium and a misleading prior, vs none.

Usage: nice -n 10 python benchmarks/priors.py [--seeds 20] [--peer-seeds N] [--budget 30]
                                              [--processes 2] [--out docs/priors.md]

Each prior is defined from the benchmark's known optimum, in the unit (log-)range every
searcher works in (see rung.core.priors):

- good: at the optimum, confidence "high";
- medium: the optimum moved 0.2 of each range towards the middle (one step of a finite
  range or another choice of a categorical only where that is closer to the middle), "medium";
- misleading: far from the optimum (each coordinate at the far end: u -> 0.05 or 0.95; a
  categorical's other choice), confidence "high".

The table is the median simple regret of the incumbent at 10/25/50/100 % of the budget
(full-fidelity evaluations of worker time, as in benchmarks/compare.py) over the seeds,
for rung and for NePS's PriorBand given the same prior (`neps:priorband`, run in
.venv-neps from `make peers-venv`, through rung.sim.peers like every peer; left out with
a note when that venv is missing). It replaces the section between the markers in the
output markdown file, under a provenance line (date, machine, commit, command).

Each run's regrets are kept in benchmarks/results/priors_cache (one file per method,
prior, benchmark and seed, as benchmarks/compare.py keeps its runs), so a rerun only
runs what is missing: when rung's decisions change, delete its `rung@*` folders first.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rung.core.space import Categorical, SearchSpace
from rung.core.study import RECOMMENDED, SchedulerSettings, StudySpec
from rung.core.types import Budget
from rung.sim.benchmarks import make_benchmark
from rung.sim.cache import RunCache
from rung.sim.simulator import Simulator

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_report.py
from _report import provenance  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "benchmarks" / "results" / "priors_cache"
NEPS_PYTHON = REPO / ".venv-neps" / "bin" / "python"
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


def run_one(task: tuple[str, str, int, float, str]) -> tuple[str, str, str, list[float]]:
    """Regrets of one run at each fraction of the budget: rung's recommended method, or
    PriorBand (`method` "neps:priorband", only where NePS is installed)."""
    benchmark, kind, seed, budget, method = task
    r_max = BENCHMARKS[benchmark]
    bench = make_benchmark(benchmark, r_max=r_max, seed=seed)
    end = budget * bench.full_cost / WORKERS
    space = prior_space(bench.space, bench.optimum, kind)
    if method == "rung":
        scheduler: Any = StudySpec(
            name=f"{benchmark}-{kind}-{seed}",
            space=space,
            scheduler=SchedulerSettings(RECOMMENDED["scheduler"], 1, r_max, 3),
            searcher=RECOMMENDED["searcher"],
            budget=Budget(max_wall_seconds=end),
            seed=seed,
        ).build_scheduler()
    else:
        from rung.sim.peers.neps_peer import make

        scheduler = make(method, space, 1, r_max, 3, seed)
    result = Simulator(scheduler, bench, WORKERS, end, record_rungs=False).run()
    times, regrets = np.array(result.times), np.array(result.regrets)
    at = []
    for f in FRACTIONS:
        seen = np.flatnonzero(times <= f * end)
        at.append(float(regrets[seen[-1]]) if len(seen) else float("inf"))
    return benchmark, kind, method, at


def run_priorband(tasks: list[tuple[str, str, int, float, str]], processes: int) -> list[Any]:
    """The PriorBand tasks in NePS's own venv (its pins clash with rung's lock)."""
    out = subprocess.run(
        [str(NEPS_PYTHON), __file__, "--run-tasks", json.dumps(tasks), "--processes",
         str(processes)],
        check=True, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    return [tuple(row) for row in json.loads(out.stdout.splitlines()[-1])]


def table(results: dict[tuple[str, str, str], list[list[float]]], seeds: dict[str, int],
          budget: float) -> str:
    head = " | ".join(f"{int(f * 100)} %" for f in FRACTIONS)
    intro = (
        f"Median simple regret, 4 workers, a budget of {budget:g} full-fidelity evaluations, "
        f"at 10 / 25 / 50 / 100 % of the budget: rung's {RECOMMENDED['scheduler']} + "
        f"{RECOMMENDED['searcher']} over {seeds['rung']} seeds, then NePS 0.17's PriorBand "
        f"with the same prior over {seeds['neps:priorband']} seeds."
    )
    lines = [
        intro,
        "",
        f"| benchmark | prior | rung {head} | PriorBand (NePS) {head} |",
        "|---|---|" + "---:|" * 2 * len(FRACTIONS),
    ]
    for benchmark in BENCHMARKS:
        for kind in PRIORS:
            cells = []
            for method in ("rung", "neps:priorband"):
                runs = np.array(results.get((benchmark, kind, method), []))
                cells += ([f"{np.median(runs[:, i]):.4g}" for i in range(len(FRACTIONS))]
                          if len(runs) else ["not run"] * len(FRACTIONS))
            lines.append(f"| {benchmark} | {kind} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--peer-seeds", type=int,
                        help="seeds for PriorBand, if fewer (it is slow; stated in the table)")
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--processes", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, default=Path("docs/priors.md"))
    parser.add_argument("--run-tasks", help=argparse.SUPPRESS)  # inside .venv-neps
    args = parser.parse_args()
    if args.run_tasks:
        tasks = [tuple(t) for t in json.loads(args.run_tasks)]
        with ProcessPoolExecutor(args.processes) as pool:
            print(json.dumps(list(pool.map(run_one, tasks))))
        return
    peer_seeds = args.seeds if args.peer_seeds is None else min(args.seeds, args.peer_seeds)
    seeds = {"rung": args.seeds, "neps:priorband": peer_seeds}
    cache = RunCache(args.cache, {"workers": WORKERS, "budget": args.budget, "r_min": 1,
                                  "r_max": max(BENCHMARKS.values()), "eta": 3})
    tasks = [(b, k, s, args.budget, m) for m in seeds for b in BENCHMARKS
             for k in PRIORS for s in range(seeds[m])]
    missing = [t for t in tasks if cache.load(f"{t[4]}@{t[1]}", t[0], t[2]) is None]
    print(f"{len(tasks) - len(missing)} runs cached, {len(missing)} to run", file=sys.stderr)
    mine = [t for t in missing if t[4] == "rung"]
    with ProcessPoolExecutor(args.processes) as pool:
        rows = list(pool.map(run_one, mine, chunksize=4))
    theirs = [t for t in missing if t[4] != "rung"]
    if theirs and NEPS_PYTHON.exists():
        rows += run_priorband(theirs, args.processes)
    elif theirs:
        print(f"{NEPS_PYTHON} is missing (make peers-venv): PriorBand not run", file=sys.stderr)
    for (benchmark, kind, method, at), task in zip(rows, mine + theirs):
        cache.store({"method": f"{method}@{kind}", "benchmark": benchmark, "seed": task[2],
                     "regrets_at": at})
    results: dict[tuple[str, str, str], list[list[float]]] = {}
    for benchmark, kind, seed, _, method in tasks:
        run = cache.load(f"{method}@{kind}", benchmark, seed)
        if run is not None:
            results.setdefault((benchmark, kind, method), []).append(run["regrets_at"])
    text = provenance() + "\n\n" + table(results, seeds, args.budget)
    print(text)
    if args.out.exists():
        doc = args.out.read_text()
        pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
        args.out.write_text(pattern.sub(lambda _: f"{BEGIN}\n{text}\n{END}", doc))


if __name__ == "__main__":
    main()
