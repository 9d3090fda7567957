"""What one decision of the model-based methods costs as a study grows.

    .venv/bin/python benchmarks/decision_cost.py [--observations 1000]

Runs a study on multi-fidelity Hartmann 6 (r = 1..27, eta = 3, 4 simulated
workers, no trial limit) through rung's simulator with BLAS limited to one
thread, as `rung serve` does, and times every `suggest` (the decision a worker
waits for: promotion or new configuration, model fit included) for
`asha` + `mfgp` and `model_promotion` + `mfgp`, and for `asha` + `gp` as the
reference in the same run. It reports the decisions taken while the searcher
held between 0.9 and 1.1 times `--observations` results: those that started a
new trial (a proposal of the searcher; ASHA's promotions need no model) and
all of them. Target: a proposal with 1,000 observations within 50 ms on one core.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, JobKind
from rung.sim.benchmarks import make_benchmark
from rung.sim.simulator import Simulator

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_report.py, also when imported
from _report import Fragment, add_write_docs_flag  # noqa: E402

METHODS = (("asha", "mfgp"), ("model_promotion", "mfgp"), ("asha", "gp"))


class TimedScheduler:
    """Forwards to a scheduler, timing each suggest with the searcher's result count then."""

    def __init__(self, scheduler, observations: int):
        self._scheduler = scheduler
        self._stop_after = int(1.1 * observations)
        self.samples: list[tuple[int, bool, float]] = []  # (results seen, new trial?, ms)

    def __getattr__(self, name: str):
        return getattr(self._scheduler, name)

    def results_seen(self) -> int:
        return sum(len(v) for v in self._scheduler.searcher._levels.values())

    def suggest(self, now: float):
        seen = self.results_seen()
        if seen > self._stop_after:
            self._scheduler.stop()
        start = time.perf_counter()
        job = self._scheduler.suggest(now)
        self.samples.append((seen, job.kind is JobKind.START, (time.perf_counter() - start) * 1e3))
        return job


def measure(scheduler_kind: str, searcher: str, observations: int) -> dict[str, np.ndarray]:
    """Milliseconds of the decisions that started a new trial (the searcher proposed it)
    and of all decisions, taken while the searcher held about `observations` results."""
    bench = make_benchmark("hartmann6", r_max=27, seed=0)
    spec = StudySpec(name="cost", space=bench.space, searcher=searcher, seed=0,
                     scheduler=SchedulerSettings(scheduler_kind, 1, 27, 3),
                     budget=Budget(max_trials=10**6))
    timed = TimedScheduler(spec.build_scheduler(), observations)
    Simulator(timed, bench, n_workers=4, record_rungs=False).run()  # type: ignore[arg-type]
    window = [(new, ms) for seen, new, ms in timed.samples
              if 0.9 * observations <= seen <= 1.1 * observations]
    return {"new trial": np.array([ms for new, ms in window if new]),
            "any": np.array([ms for _, ms in window])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--observations", type=int, default=1000)
    add_write_docs_flag(parser)
    args = parser.parse_args()
    out = Fragment("decision_cost")
    out.print(f"Decisions with {0.9 * args.observations:.0f}-{1.1 * args.observations:.0f} results "
              "in the model, multi-fidelity Hartmann 6 (r = 1..27, eta 3), 4 simulated workers, "
              f"one core (BLAS 1 thread); load average at the start {os.getloadavg()[0]:.1f}:")
    out.print()
    out.print("| scheduler + searcher | decisions | count | median ms | p95 ms | max ms |")
    out.print("| --- | --- | ---: | ---: | ---: | ---: |")
    with threadpool_limits(1):
        for kind, searcher in METHODS:
            for which, ms in measure(kind, searcher, args.observations).items():
                out.print(f"| {kind} + {searcher} | {which} | {len(ms)} | {np.median(ms):.1f} | "
                          f"{np.percentile(ms, 95):.1f} | {ms.max():.1f} |")
    out.write_if(args.write_docs)


if __name__ == "__main__":
    main()
