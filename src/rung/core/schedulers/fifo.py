"""FIFO: every trial trains straight to r_max (random search, BO without early stopping)."""

from __future__ import annotations

from ..rungs import rung_levels
from ..types import Decision, Job
from .base import Scheduler, TrialState, check_one_bracket


class FIFO(Scheduler):
    def _setup(self, brackets: int) -> None:
        check_one_bracket(brackets, type(self).__name__)
        self.levels = rung_levels(self.r_min, self.r_max, self.eta)  # also validates them

    def _next_job(self, now: float) -> Job:
        if not self._may_start_trial(self.r_max):
            return self._idle_job()
        return self._start_trial(0, self.r_max, now)

    def _on_milestone(self, trial: TrialState, key: float, seq: int) -> Decision:
        return self._end_segment(trial)
