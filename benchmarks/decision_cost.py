"""What one decision of the model-based methods costs as a study grows.

    .venv/bin/python benchmarks/decision_cost.py [--observations 1000 10000] [--window 0.1]

Runs a study on multi-fidelity Hartmann 6 (r = 1..27, eta = 3, 4 simulated
workers, no trial limit) through rung's simulator with BLAS limited to one
thread, as `rung serve` does, and times every `suggest` (the decision a worker
waits for: promotion or new configuration, model fit included) for
`asha` + `mfgp` and `model_promotion` + `mfgp`, and for `asha` + `gp` as the
reference in the same run. It reports the decisions taken while the searcher
held between 1 - w and 1 + w times (w: `--window`) each `--observations`
results: those that started a new trial (a proposal of the searcher; ASHA's
promotions need no model) and all of them.

Reaching 10,000 results through model decisions would take hours at the old
cost, so with `--warmup-from`, until the window opens the searcher proposes at
random and `model_promotion` promotes by ASHA's rule (their own fallbacks). The results in the model are then real results
of the real benchmark, and every timed decision is a real decision of the real
scheduler and searcher; its first model decision fits hyperparameters from the
default start, so the window holds at least one fit. Target: p99 of a new-trial
decision at most 5 ms at 1,000 results and 20 ms at 10,000, on one core.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg  # noqa: F401  imported up front, as a running server has them: the
import scipy.optimize  # noqa: F401  timings leave out their one-time import
import scipy.special  # noqa: F401
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

    def __init__(self, scheduler, low: int, high: int, warmup: bool):
        self._scheduler = scheduler
        self._low, self._high = low, high
        self.samples: list[tuple[int, bool, float]] = []  # (results seen, new trial?, ms)
        self._models: bool | None = None  # warming up: whether `surrogate` is patched
        if warmup:  # the searcher's fallbacks until the window opens
            searcher = scheduler.searcher
            self._models = hasattr(searcher, "surrogate")
            searcher._propose = lambda level: None
            if self._models:
                searcher.surrogate = lambda: None

    def __getattr__(self, name: str):
        return getattr(self._scheduler, name)

    def results_seen(self) -> int:
        return sum(len(v) for v in self._scheduler.searcher._levels.values())

    def suggest(self, now: float):
        seen = self.results_seen()
        if seen > self._high:
            self._scheduler.stop()
        if self._models is not None and seen >= self._low:
            searcher = self._scheduler.searcher
            del searcher._propose  # the instance attributes set above: the methods again
            if self._models:
                del searcher.surrogate
            self._models = None
        start = time.perf_counter()
        job = self._scheduler.suggest(now)
        self.samples.append((seen, job.kind is JobKind.START, (time.perf_counter() - start) * 1e3))
        return job


def measure(
    scheduler_kind: str, searcher: str, observations: int, window: float, warmup: bool
) -> dict[str, np.ndarray]:
    """Milliseconds of the decisions that started a new trial (the searcher proposed it)
    and of all decisions, taken while the searcher held about `observations` results."""
    bench = make_benchmark("hartmann6", r_max=27, seed=0)
    spec = StudySpec(name="cost", space=bench.space, searcher=searcher, seed=0,
                     scheduler=SchedulerSettings(scheduler_kind, 1, 27, 3),
                     budget=Budget(max_trials=10**6))
    low, high = int((1 - window) * observations), int((1 + window) * observations)
    timed = TimedScheduler(spec.build_scheduler(), low, high, warmup)
    Simulator(timed, bench, n_workers=4, record_rungs=False).run()  # type: ignore[arg-type]
    in_window = [(new, ms) for seen, new, ms in timed.samples if low <= seen <= high]
    return {"new trial": np.array([ms for new, ms in in_window if new]),
            "any": np.array([ms for _, ms in in_window])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--observations", type=int, nargs="+", default=[1000])
    parser.add_argument("--window", type=float, nargs="+", default=[0.1],
                        help="time decisions within this fraction either side of each count "
                             "(one for all counts, or one per count)")
    parser.add_argument("--warmup-from", type=int, default=None,
                        help="for counts of at least this, no model until the window opens")
    parser.add_argument("--methods", default=",".join(f"{k}:{s}" for k, s in METHODS))
    add_write_docs_flag(parser)
    args = parser.parse_args()
    methods = [tuple(m.split(":")) for m in args.methods.split(",")]
    warm_from = args.warmup_from
    windows = args.window * len(args.observations) if len(args.window) == 1 else args.window
    if len(windows) != len(args.observations):
        parser.error("give one --window, or one per --observations count")
    out = Fragment("decision_cost")
    out.print("Decisions with the given number of results in the model, give or take the window, "
              "multi-fidelity Hartmann 6 (r = 1..27, eta 3), 4 simulated workers, one core (BLAS 1 thread)"
              + (f", no model until the window opens from {warm_from:,} results on"
                 if warm_from is not None else "")
              + f"; load average at the start {os.getloadavg()[0]:.1f}:")
    out.print()
    out.print("| results | window | scheduler + searcher | decisions | count | median ms | "
              "p95 ms | p99 ms | max ms |")
    out.print("| ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    with threadpool_limits(1):
        for n, window in zip(args.observations, windows):
            for kind, searcher in methods:
                for which, ms in measure(kind, searcher, n, window,
                                         warm_from is not None and n >= warm_from).items():
                    out.print(f"| {n:,} | ±{window:.0%} | {kind} + {searcher} | {which} | {len(ms)} | "
                              f"{np.median(ms):.1f} | {np.percentile(ms, 95):.1f} | "
                              f"{np.percentile(ms, 99):.1f} | {ms.max():.1f} |")
    out.write_if(args.write_docs)


if __name__ == "__main__":
    main()
