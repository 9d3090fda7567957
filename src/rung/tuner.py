"""An in-process tuner for users who want no server, in the shape of the seeds' HPOTuner.

    tuner = Tuner(spec, objective)      # objective(config, resource) -> metric
    tuner.run(max_wallclock_time=600)
    tuner.incumbent, tuner.incumbent_trajectory, tuner.cumulative_runtime

One worker, one process: each job calls the objective at the rung levels
inside its segment and at its milestone (so stopping-type schedulers can
decide there), and reports each result to the very scheduler class a server
would run. The objective gets the resource to train *to*; a resumed trial is
asked again at higher resources, so an objective that keeps per-config state
can continue rather than retrain. Runtime includes the scheduler's decisions,
as in the seeds.
"""

from __future__ import annotations

import copy
import time
from typing import Any, Callable

from .core.rungs import report_points, rung_levels
from .core.schedulers import Scheduler
from .core.study import StudySpec
from .core.types import Decision, JobKind

Objective = Callable[[dict[str, Any], int], float]


class Tuner:
    def __init__(
        self,
        spec_or_scheduler: StudySpec | Scheduler,
        objective: Objective,
        clock: Callable[[], float] = time.perf_counter,
    ):
        if isinstance(spec_or_scheduler, StudySpec):
            spec_or_scheduler = spec_or_scheduler.build_scheduler()
        self.scheduler = spec_or_scheduler
        self.objective = objective
        self.clock = clock
        self.incumbent: dict[str, Any] | None = None
        self.incumbent_error: float | None = None  # the incumbent's metric (the seeds' name)
        self.incumbent_trajectory: list[float] = []
        self.cumulative_runtime: list[float] = []
        self.current_runtime = 0.0

    def run(
        self, number_of_trials: int | None = None, max_wallclock_time: float | None = None
    ) -> "Tuner":
        """Runs jobs until the study's budget is spent, `number_of_trials` trials have been
        started (promotions of started trials still run), or `max_wallclock_time` seconds
        of runtime have passed."""
        while max_wallclock_time is None or self.current_runtime < max_wallclock_time:
            started = self.clock()
            if self._trial_limit_reached(number_of_trials):
                break
            job = self.scheduler.suggest(self.current_runtime)
            if job.kind is JobKind.DONE:
                break
            if job.kind is JobKind.WAIT:
                raise RuntimeError("scheduler answered WAIT although nothing else is running")
            self._run_job(job.trial_id, dict(job.config or {}), job.resume_from, job.milestone)
            self._bookkeeping(self.clock() - started)
        return self

    def _trial_limit_reached(self, number_of_trials: int | None) -> bool:
        if number_of_trials is None or len(self.scheduler.trials) < number_of_trials:
            return False
        # At the limit, only work on trials already started may run; ask a copy what comes next.
        return copy.deepcopy(self.scheduler).suggest(self.current_runtime).kind is JobKind.START

    def _run_job(self, trial_id: int, config: dict[str, Any], resume_from: int, milestone: int) -> None:
        s = self.scheduler
        levels = rung_levels(s.r_min, s.r_max, s.eta, s.trial(trial_id).bracket)
        for resource in report_points(levels, resume_from, milestone):
            try:
                value = self.objective(config, resource)
            except Exception:
                s.fail(trial_id)
                raise
            if s.report(trial_id, resource, value) is not Decision.CONTINUE:
                return

    def _bookkeeping(self, runtime: float) -> None:
        best = self.scheduler.incumbent()
        if best is not None:
            self.incumbent = dict(self.scheduler.trial(best.trial_id).config)
            self.incumbent_error = best.value
        self.current_runtime += runtime
        self.incumbent_trajectory.append(
            self.incumbent_error if self.incumbent_error is not None else float("nan")
        )
        self.cumulative_runtime.append(self.current_runtime)
