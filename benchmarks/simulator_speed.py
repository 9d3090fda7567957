"""Simulator speed: simulated jobs per second on one core, ASHA with the random searcher.

    .venv/bin/python benchmarks/simulator_speed.py [--seeds 5] [--horizon 200]

Runs ASHA (r_min=1, r_max=81, eta=3, 4 workers) on multi-fidelity Hartmann 6
in this one process, then, as a baseline measured in the same run, a bare
loop that only calls the benchmark function as many times as the simulation
reported results. The ratio says how much the scheduler and the event heap
cost on top of the objective itself. Target: at least 10,000 jobs/s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget
from rung.sim.benchmarks import make_benchmark
from rung.sim.simulator import Simulator

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_report.py, also when imported
from _report import Fragment, add_write_docs_flag  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--horizon", type=float, default=200.0, help="simulated time per run")
    add_write_docs_flag(parser)
    args = parser.parse_args()

    jobs = reports = 0
    configs = []
    started = time.perf_counter()
    for seed in range(args.seeds):
        bench = make_benchmark("hartmann6", seed=seed)
        spec = StudySpec(
            name="speed",
            space=bench.space,
            scheduler=SchedulerSettings("asha", 1, 81, 3),
            budget=Budget(max_wall_seconds=args.horizon),
            seed=seed,
        )
        scheduler = spec.build_scheduler()
        result = Simulator(scheduler, bench, 4, args.horizon, record_rungs=False).run()
        jobs += result.jobs
        reports += result.reports
        configs.extend(t.config for t in scheduler.trials.values())
    simulated = time.perf_counter() - started

    bench = make_benchmark("hartmann6")
    started = time.perf_counter()
    for i in range(reports):
        bench.evaluate(configs[i % len(configs)], 1 + i % 81)
    bare = time.perf_counter() - started

    rate = jobs / simulated
    out = Fragment("simulator_speed")
    out.print(f"ASHA (r = 1..81, eta 3) with the random searcher on multi-fidelity Hartmann 6, "
              f"4 simulated workers, {args.seeds} seeds of {args.horizon:g} units of simulated time, "
              "one process:")
    out.print()
    out.print("| | count | seconds | per second |")
    out.print("| --- | ---: | ---: | ---: |")
    out.print(f"| simulated jobs ({reports:,} reports) | {jobs:,} | {simulated:.2f} | {rate:,.0f} |")
    out.print(f"| bare benchmark calls, the baseline | {reports:,} | {bare:.2f} | {reports / bare:,.0f} |")
    out.print()
    out.print(f"The simulation costs {simulated / bare:.1f}x the bare benchmark calls; "
              f"target 10,000 jobs/s: {'met' if rate >= 10_000 else 'MISSED'}.")
    out.write_if(args.write_docs)


if __name__ == "__main__":
    main()
