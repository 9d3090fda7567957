"""Stopping-type ASHA, for training code that cannot checkpoint (Li et al., MLSys 2020).

Every trial gets one job, 0 -> r_max. When it reports at a rung level below
r_max it continues if its result ranks among the best ceil(n / eta) of the n
results recorded at that level so far, itself included (ties: earlier report
first), and is stopped otherwise. Rounding up lets the first trials through
rather than stopping them for want of company. Since nothing can be resumed,
a trial stopped early never runs again and gives back the resource it did not use.

A trial whose lease expired retrains from 0 (it has no checkpoint); the
levels it already passed are not judged a second time.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from ..rungs import Rung
from ..types import Decision, TrialStatus
from .base import TrialState
from .fifo import FIFO


class StoppingASHA(FIFO):
    def _setup(self, brackets: int) -> None:
        super()._setup(brackets)
        self.rungs = [self._rung(level) for level in self.levels]
        self._rung_of = {level: k for k, level in enumerate(self.levels)}

    def _on_progress(self, trial: TrialState, resource: int, key: float) -> Decision:
        k = self._rung_of.get(resource)
        if k is None or k <= trial.rung_index:
            return Decision.CONTINUE
        trial.rung_index = k
        self._seq += 1
        rung = self.rungs[k]
        rank = rung.record(trial.trial_id, key, self._seq)
        self._update_incumbent(trial.trial_id, resource, key)
        if rank < math.ceil(len(rung) / self.eta):
            return Decision.CONTINUE
        self._set_status(trial, TrialStatus.STOPPED)
        self.resource_spent -= trial.milestone - resource
        return Decision.STOP

    def _on_milestone(self, trial: TrialState, key: float, seq: int) -> Decision:
        trial.rung_index = len(self.rungs) - 1
        self.rungs[-1].record(trial.trial_id, key, seq)
        return self._end_segment(trial)

    def _import_levels(self, trial: TrialState, at_levels: list[tuple[int, Any]]) -> TrialStatus:
        """Recorded at each level it reached: later trials are judged against it there."""
        for resource, key in at_levels:
            k = self._rung_of[resource]
            self.rungs[k].record(trial.trial_id, key, self._next_import_seq())
            trial.rung_index = k
        return super()._import_levels(trial, at_levels)

    def _extra_state(self) -> dict[str, Any]:
        return {"rungs": [r.to_json() for r in self.rungs]}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.rungs = [Rung.from_json(r) for r in state["rungs"]]
