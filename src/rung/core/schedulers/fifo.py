"""FIFO: every trial trains straight to r_max (random search, BO without early stopping)."""

from __future__ import annotations

from ..rungs import rung_levels
from ..searchers.base import Searcher
from ..types import Budget, Decision, Job, Mode
from .base import Scheduler, TrialState, check_one_bracket


class FIFO(Scheduler):
    def __init__(
        self,
        searcher: Searcher,
        mode: Mode,
        r_min: int,
        r_max: int,
        eta: int,
        budget: Budget,
        seed: int,
        brackets: int = 0,
    ):
        check_one_bracket(brackets, type(self).__name__)
        super().__init__(searcher, mode, r_min, r_max, eta, budget, seed)
        self.levels = rung_levels(r_min, r_max, eta)  # also validates the settings

    def _next_job(self, now: float) -> Job:
        if not self._may_start_trial(self.r_max):
            return self._idle_job()
        return self._start_trial(0, self.r_max, now)

    def _on_milestone(self, trial: TrialState, key: float, seq: int) -> Decision:
        return self._end_segment(trial)
