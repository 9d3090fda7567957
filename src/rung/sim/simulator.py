"""A discrete-event simulator: N virtual workers, a simulated clock, one scheduler.

The scheduler is used exactly as the server uses it, through `suggest(now)` and
`report(trial_id, resource, value)`, so every rule (promotion, stopping,
brackets, budgets) comes from the core and none is reimplemented here.

A job's reports fall at the rung levels inside its segment and at its
milestone; the report at resource r happens c(config, r) - c(config,
resume_from) after the job started, so a resumed trial pays only for its new
resource. A worker told WAIT asks again right after the next report anywhere
(a live worker would poll; the simulated one loses no time doing so). Events at
the same instant are handled in the order they were scheduled, so a run is a
pure function of the scheduler, the benchmark and the number of workers.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from ..core.rungs import report_points, rung_levels
from ..core.schedulers import Scheduler
from ..core.types import Decision, JobKind
from .benchmarks import Benchmark


@dataclass
class SimResult:
    """What a run leaves behind: the any-time trajectory and every result at a rung level."""

    times: list[float] = field(default_factory=list)  # when the incumbent's regret changed
    regrets: list[float] = field(default_factory=list)  # simple regret of the incumbent from then on
    rungs: list[tuple[int, int, int, float]] = field(default_factory=list)  # trial, bracket, r, value
    jobs: int = 0  # START and RESUME jobs handed out
    reports: int = 0
    end_time: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "times": self.times,
            "regrets": self.regrets,
            "rungs": [list(r) for r in self.rungs],
            "jobs": self.jobs,
            "reports": self.reports,
            "end_time": self.end_time,
        }


class Simulator:
    def __init__(
        self,
        scheduler: Scheduler,
        benchmark: Benchmark,
        n_workers: int = 4,
        max_time: float = math.inf,
        record_rungs: bool = True,
        on_report: Callable[[float, int, int, Any], None] | None = None,
    ):
        if n_workers < 1:
            raise ValueError("n_workers must be >= 1")
        self.scheduler, self.benchmark = scheduler, benchmark
        self.n_workers, self.max_time, self.record_rungs = n_workers, max_time, record_rungs
        self.on_report = on_report  # (now, trial id, resource, value): e.g. metrics over time
        self._levels: dict[int, list[int]] = {}
        self._regret: dict[int, float] = {}  # trial id -> regret of its config (cached)
        self._events: list[tuple[float, int, int, list[Any]]] = []  # (time, order, worker, job)
        self._order = 0
        self._waiting: list[int] = []
        self.result = SimResult()

    def run(self) -> SimResult:
        for worker in range(self.n_workers):
            self._ask(worker, 0.0)
        events = self._events
        while events:
            now, _, worker, job = heapq.heappop(events)
            if now > self.max_time:
                break
            self.result.end_time = now
            self._report(worker, job, now)
            if self._waiting:
                waiting, self._waiting = self._waiting, []
                for w in waiting:
                    self._ask(w, now)
        return self.result

    def _ask(self, worker: int, now: float) -> None:
        job = self.scheduler.suggest(now)
        if job.kind is JobKind.WAIT:
            self._waiting.append(worker)
            return
        if job.kind is JobKind.DONE:
            return
        config = job.config
        bracket = self.scheduler.trials[job.trial_id].bracket
        levels = self._levels.get(bracket)
        if levels is None:
            s = self.scheduler
            levels = self._levels[bracket] = rung_levels(s.r_min, s.r_max, s.eta, bracket)
        points = report_points(levels, job.resume_from, job.milestone)
        paid = self.benchmark.cost(config, job.resume_from)
        # job: [trial id, config, bracket, report points, next point index, start time, cost paid]
        self._schedule(worker, [job.trial_id, config, bracket, points, 0, now, paid])
        self.result.jobs += 1

    def _schedule(self, worker: int, job: list[Any]) -> None:
        trial_id, config, _, points, i, started, paid = job
        when = started + self.benchmark.cost(config, points[i]) - paid
        self._order += 1
        heapq.heappush(self._events, (when, self._order, worker, job))

    def _report(self, worker: int, job: list[Any], now: float) -> None:
        trial_id, config, bracket, points, i, _, _ = job
        resource = points[i]
        value = self.benchmark.evaluate(config, resource)
        decision = self.scheduler.report(trial_id, resource, value)
        if self.on_report is not None:
            self.on_report(now, trial_id, resource, value)
        self.result.reports += 1
        if self.record_rungs:
            self.result.rungs.append((trial_id, bracket, resource, value))
        self._track_incumbent(now)
        if decision is Decision.CONTINUE and i + 1 < len(points):
            job[4] = i + 1
            self._schedule(worker, job)
        else:
            self._ask(worker, now)

    def _track_incumbent(self, now: float) -> None:
        incumbent = self.scheduler.incumbent()
        if incumbent is None:
            return
        regret = self._regret.get(incumbent.trial_id)
        if regret is None:
            config = self.scheduler.trials[incumbent.trial_id].config
            regret = self._regret[incumbent.trial_id] = self.benchmark.regret(config)
        if not self.result.regrets or regret != self.result.regrets[-1]:
            self.result.times.append(now)
            self.result.regrets.append(regret)
