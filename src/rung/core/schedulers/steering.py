"""Steering a scheduler while it runs: a new budget, failed trials run again, results imported.

Each change is a call like suggest and report, deterministic, so a journal of
them replays; each is checked before it changes anything (`check_*`), so a
refusal leaves the scheduler as it was.

- `set_budget`: a limit may be raised or lowered, never below what is spent
  (trials started, resource handed out, wall time since the first trial);
  a study that had finished goes on when its budget allows more work.
- `retry`: failed trials go back to the queue of lost trials, resumed before
  anything else from their last checkpoint (from scratch without one), with
  their count of lost leases reset.
- `import_trial`: results measured elsewhere become a trial that never ran
  here. Its results reach the searcher; a result at a rung level is recorded
  in that rung (`_import_levels`), so it ranks and counts towards promotions
  there. It has no checkpoint: an imported trial paused at a rung and then
  promoted retrains from scratch (a START job to the next level). Imported
  trials do not count towards max_trials nor use resource.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence, Union

from ..errors import FailedPrecondition, InvalidArgument
from ..lazy_rows import LazyRows
from ..objectives import Outcome
from ..searchers.base import Searcher
from ..types import Budget, TrialStatus
from .trials import TrialState

Result = Union[float, Mapping[str, float]]


def check_budget_fields(fields: Mapping[str, Any]) -> None:
    """Limits must be finite numbers >= 0 (0: unlimited); trials and resource whole numbers."""
    for name, value in fields.items():
        if name not in ("max_trials", "max_resource", "max_wall_seconds"):
            raise InvalidArgument(f"unknown budget field {name!r}")
        whole = name != "max_wall_seconds"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidArgument(f"budget {name} must be a number, got {value!r}")
        if not math.isfinite(value) or value < 0 or (whole and value != int(value)):
            kind = "a whole number" if whole else "a finite number"
            raise InvalidArgument(f"budget {name} must be {kind} >= 0 (0: unlimited), got {value}")


class Steering:
    """The steering calls of Scheduler (base.py), which sets these attributes."""

    searcher: Searcher
    r_min: int
    r_max: int
    budget: Budget
    trials: LazyRows[TrialState]
    resource_spent: int
    started_at: float | None
    stopped: bool
    imported: int
    _lost: list[int]
    _seq: int

    # ------------------------------------------------------------------ budget

    def check_budget(self, budget: Budget, now: float) -> None:
        """Refuses a budget below what is spent already, or any change to a stopped study."""
        if self.stopped:
            raise FailedPrecondition("the study was stopped; its budget no longer matters")
        started = len(self.trials) - self.imported
        if budget.max_trials and budget.max_trials < started:
            raise FailedPrecondition(
                f"max_trials {budget.max_trials} is below the {started} trials already started"
            )
        if budget.max_resource and budget.max_resource < self.resource_spent:
            raise FailedPrecondition(
                f"max_resource {budget.max_resource} is below the {self.resource_spent} "
                "resource already spent"
            )
        elapsed = 0.0 if self.started_at is None else now - self.started_at
        if budget.max_wall_seconds and budget.max_wall_seconds < elapsed:
            raise FailedPrecondition(
                f"max_wall_seconds {budget.max_wall_seconds} is below the {elapsed:.1f} "
                "seconds already spent"
            )

    def set_budget(self, budget: Budget) -> None:
        self.budget = budget

    # ------------------------------------------------------------------ retries

    def failed_trials(self) -> list[int]:
        return [t for t in self.trials if self.trials.peek(t).status is TrialStatus.FAILED]

    def check_retry(self, trial_ids: Sequence[int]) -> None:
        if self.stopped:
            raise FailedPrecondition("the study was stopped; nothing of it runs again")
        for trial_id in trial_ids:
            trial = self.trial(trial_id)  # type: ignore[attr-defined]
            if trial.status is not TrialStatus.FAILED:
                raise FailedPrecondition(
                    f"trial {trial_id} is {trial.status.value}, not failed; only failed "
                    "trials are run again"
                )
            self._check_retry(trial)

    def _check_retry(self, trial: TrialState) -> None:
        """A scheduler whose structures cannot take the trial back refuses here."""

    def retry(self, trial_ids: Sequence[int]) -> None:
        """The trials (failed, checked) resume first, from their last checkpoint."""
        for trial_id in trial_ids:
            trial = self.trials[trial_id]
            self._set_status(trial, TrialStatus.RUNNING)  # type: ignore[attr-defined]
            trial.times_lost = 0
            trial.reported = trial.checkpoint_resource
            self._lost.append(trial_id)
            self._on_retry(trial)

    def _on_retry(self, trial: TrialState) -> None:
        """The scheduler's own structures take the trial back."""

    # ------------------------------------------------------------------ imports

    def check_import(
        self, config: Mapping[str, Any], results: Sequence[tuple[int, Result]]
    ) -> list[tuple[int, Any]]:
        """The (resource, ranked key) of each result, in resource order; refuses bad ones."""
        if not results:
            raise InvalidArgument("no results: an imported trial needs at least one")
        keyed = []
        for resource, value in results:
            if isinstance(resource, bool) or not isinstance(resource, int):
                raise InvalidArgument(f"resource must be an integer, got {resource!r}")
            if not self.r_min <= resource <= self.r_max:
                raise InvalidArgument(
                    f"resource {resource} is outside [r_min, r_max] = [{self.r_min}, {self.r_max}]"
                )
            keyed.append((resource, self._result_key(value)))  # type: ignore[attr-defined]
        resources = [r for r, _ in keyed]
        if len(set(resources)) != len(resources):
            raise InvalidArgument(f"resources {resources} repeat: one result per resource")
        return sorted(keyed, key=lambda rk: rk[0])

    def import_trial(
        self, config: Mapping[str, Any], results: Sequence[tuple[int, Result]]
    ) -> int:
        """A new trial holding results measured elsewhere (checked: `check_import`)."""
        keyed = self.check_import(config, results)
        top = keyed[-1][0]
        trial_id = self.trials.append(
            TrialState(len(self.trials), dict(config), 0, TrialStatus.STOPPED, 0, top, top)
        )
        trial = self.trials[trial_id]
        for resource, key in keyed:
            if isinstance(key, Outcome):
                self.searcher.on_outcome(trial_id, trial.config, resource, key)
            else:
                self.searcher.on_report(trial_id, trial.config, resource, key)
        at_levels = [(r, k) for r, k in keyed if r in self._import_level_set()]
        for resource, key in at_levels:
            self._update_incumbent(trial_id, resource, key)  # type: ignore[attr-defined]
        trial.status = self._import_levels(trial, at_levels)
        self.imported += 1
        return trial_id

    def _import_level_set(self) -> set[int]:
        levels = getattr(self, "levels", [[self.r_max]])
        flat = levels if levels and isinstance(levels[0], int) else [x for b in levels for x in b]
        return set(flat) | {self.r_max}

    def _import_levels(self, trial: TrialState, at_levels: list[tuple[int, Any]]) -> TrialStatus:
        """Records the trial's results at rung levels (resource order) where the scheduler
        ranks results; returns its status: completed with a result at r_max, else stopped
        (a scheduler that can promote it from scratch pauses it in its rung instead)."""
        if at_levels and at_levels[-1][0] == self.r_max:
            return TrialStatus.COMPLETED
        return TrialStatus.STOPPED

    def _next_import_seq(self) -> int:
        self._seq += 1
        return self._seq
