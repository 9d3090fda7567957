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
import time

from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget
from rung.sim.benchmarks import make_benchmark
from rung.sim.simulator import Simulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--horizon", type=float, default=200.0, help="simulated time per run")
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
    print(f"simulated {jobs} jobs ({reports} reports) in {simulated:.2f}s: {rate:,.0f} jobs/s")
    print(f"baseline: {reports} bare benchmark calls in {bare:.2f}s: {reports / bare:,.0f} calls/s")
    print(f"simulation costs {simulated / bare:.1f}x the bare benchmark calls")
    print(f"target 10,000 jobs/s: {'met' if rate >= 10_000 else 'MISSED'}")


if __name__ == "__main__":
    main()
