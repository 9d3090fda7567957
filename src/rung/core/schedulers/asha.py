"""Asynchronous successive halving with promotion (ASHA) and asynchronous Hyperband.

ASHA (Li et al., MLSys 2020, Algorithm 2): when a worker is free, look at the
rungs from the highest below r_max down to the lowest; in a rung with n
results the candidates are the best floor(n / eta) (ties: earlier report
first); the best candidate not yet promoted out of that rung resumes from its
checkpoint and trains to the next level. If no rung has one, a new trial starts
and trains to the first level.

Asynchronous Hyperband runs one ASHA per bracket (bracket s starts at
r_min * eta**s). Each new trial draws its bracket with probability proportional
to the number of trials synchronous Hyperband starts in that bracket.
Promotions are looked for in every bracket before a new trial is started, so
drawing a bracket only happens when a trial really starts (WAIT stays pure).
ASHA is asynchronous Hyperband with one bracket.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ..rungs import Rung, bracket_levels
from ..types import Decision, Job, TrialStatus
from .base import Scheduler, TrialState, check_one_bracket


def hyperband_bracket_sizes(r_min: int, r_max: int, eta: int, n_brackets: int) -> list[int]:
    """Trials synchronous Hyperband starts in brackets 0..n_brackets-1 (Li et al. 2018).

    With s_max = n_brackets - 1, bracket s (first level r_min * eta**s) starts
    ceil((s_max + 1) / (s_max - s + 1) * eta**(s_max - s)) trials.
    """
    s_max = n_brackets - 1
    return [
        math.ceil((s_max + 1) / (s_max - s + 1) * eta ** (s_max - s)) for s in range(n_brackets)
    ]


class AsyncHyperband(Scheduler):
    def _setup(self, brackets: int) -> None:
        self.levels = bracket_levels(self.r_min, self.r_max, self.eta, brackets)
        self.rungs = [[self._rung(level) for level in levels] for levels in self.levels]
        sizes = hyperband_bracket_sizes(self.r_min, self.r_max, self.eta, len(self.levels))
        self.bracket_probabilities = np.array(sizes, dtype=float) / sum(sizes)
        self._rng = np.random.default_rng([self.seed, 0x5EED])

    def _next_job(self, now: float) -> Job:
        for bracket, rungs in enumerate(self.rungs):
            for k in range(len(rungs) - 2, -1, -1):
                trial_id = rungs[k].promotable(self.eta, self._is_paused)
                if trial_id is None:
                    continue
                milestone = self.levels[bracket][k + 1]
                trial = self.trials[trial_id]
                if not self._may_spend(milestone - trial.checkpoint_resource):
                    continue
                rungs[k].promote(trial_id)
                return self._promote(trial, milestone)
        smallest_first_level = self.levels[0][0]
        if not self._may_start_trial(smallest_first_level):
            return self._idle_job()
        bracket = self._draw_bracket()
        if not self._may_start_trial(self.levels[bracket][0]):
            bracket = 0
        return self._start_trial(bracket, self.levels[bracket][0], now)

    def _draw_bracket(self) -> int:
        if len(self.levels) == 1:
            return 0
        return int(self._rng.choice(len(self.levels), p=self.bracket_probabilities))

    def _on_milestone(self, trial: TrialState, key: float, seq: int) -> Decision:
        levels = self.levels[trial.bracket]
        k = levels.index(trial.milestone)
        self.rungs[trial.bracket][k].record(trial.trial_id, key, seq)
        trial.rung_index = k
        return self._end_segment(trial)

    def _import_levels(self, trial: TrialState, at_levels: list[tuple[int, Any]]) -> TrialStatus:
        """Recorded in bracket 0's rungs (it holds every level), promoted out of each but
        the highest, where it pauses (no checkpoint: a promotion retrains it from scratch)."""
        levels = self.levels[0]
        recorded = [(levels.index(r), key) for r, key in at_levels if r in levels]
        if not recorded:
            return super()._import_levels(trial, at_levels)
        for k, key in recorded:
            self.rungs[0][k].record(trial.trial_id, key, self._next_import_seq())
        for k, _ in recorded[:-1]:
            self.rungs[0][k].promote(trial.trial_id)
        top = recorded[-1][0]
        trial.rung_index, trial.milestone, trial.reported = top, levels[top], levels[top]
        return TrialStatus.COMPLETED if levels[top] == self.r_max else TrialStatus.PAUSED

    def _extra_state(self) -> dict[str, Any]:
        return {
            "rungs": [[r.to_json() for r in rungs] for rungs in self.rungs],
            "bracket_rng": self._rng.bit_generator.state,
        }

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.rungs = [[Rung.from_json(r) for r in rungs] for rungs in state["rungs"]]
        self._rng.bit_generator.state = state["bracket_rng"]


class ASHA(AsyncHyperband):
    """ASHA with promotion: asynchronous Hyperband with a single bracket."""

    def _setup(self, brackets: int) -> None:
        check_one_bracket(brackets, "ASHA")
        super()._setup(1)
