"""Synchronous successive halving and synchronous Hyperband (Li et al., JMLR 2018).

Bracket b starts at r_min * eta**b with n_b trials (the Hyperband paper's n for
s = s_max - b); its rung i holds floor(n_b / eta**i) trials. A rung is filled
completely before anything moves up: workers get WAIT while its last results
are outstanding, then the top floor(n / eta) of the n results recorded there
are promoted (ties: earlier report first). When a bracket's last rung is done
the next bracket starts; Hyperband cycles through its brackets from the most
aggressive (b = 0) on, successive halving repeats bracket 0.

A budget that forbids further starts seals rung 0 at the trials it has, so a
truncated bracket still promotes the top 1/eta of what ran. Trials that fail
leave their rung with one result fewer.

WAIT and DONE must change no state: `_next_job` works on a candidate
`BracketRun` and stores it only when it hands out a START or RESUME.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import FailedPrecondition
from ..rungs import AnyRung, Rung, bracket_levels, max_bracket
from ..types import Decision, Job, JobKind
from .asha import hyperband_bracket_sizes
from .base import Scheduler, TrialState, check_one_bracket


@dataclass
class BracketRun:
    """One pass of successive halving through a bracket."""

    number: int  # runs before this one; the bracket is number % n_brackets
    rungs: list[AnyRung]
    rung_index: int = 0  # the rung being filled
    started: int = 0  # trials started into rung 0
    pending: set[int] = field(default_factory=set)  # trials running towards the rung being filled

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "rungs": [r.to_json() for r in self.rungs],
            "rung_index": self.rung_index,
            "started": self.started,
            "pending": sorted(self.pending),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "BracketRun":
        return cls(
            data["number"],
            [Rung.from_json(r) for r in data["rungs"]],
            data["rung_index"],
            data["started"],
            set(data["pending"]),
        )


class SyncHyperband(Scheduler):
    def _setup(self, brackets: int) -> None:
        r_min, r_max, eta = self.r_min, self.r_max, self.eta
        self.levels = bracket_levels(r_min, r_max, eta, brackets)
        # Sizes of the full Hyperband (s_max from the levels), so every bracket's
        # last rung holds at least one trial even when only the first few run.
        most = max_bracket(r_min, r_max, eta) + 1
        self.bracket_sizes = hyperband_bracket_sizes(r_min, r_max, eta, most)[: len(self.levels)]
        self._run = self._fresh_run(0)

    def rung_sizes(self, bracket: int) -> list[int]:
        """Trials per rung of a full bracket: floor(n_b / eta**i)."""
        n = self.bracket_sizes[bracket]
        return [n // self.eta**i for i in range(len(self.levels[bracket]))]

    @property
    def bracket(self) -> int:
        """The bracket that runs now."""
        return self._run.number % len(self.levels)

    # ------------------------------------------------------------------ asking

    def _next_job(self, now: float) -> Job:
        run: BracketRun | None = self._run
        while run is not None:
            job = self._issue(run, now)
            if job is not None:
                self._run = run
                return job
            if run.pending:
                return Job.wait()
            run = self._following(run)
        return self._idle_job()

    def _issue(self, run: BracketRun, now: float) -> Job | None:
        """A job for the rung being filled, or None; mutates `run` only when it returns a job."""
        bracket = run.number % len(self.levels)
        level = self.levels[bracket][run.rung_index]
        if run.rung_index == 0:
            if run.started >= self.bracket_sizes[bracket] or not self._may_start_trial(level):
                return None
            job = self._start_trial(bracket, level, now)
            if job.kind is not JobKind.START:
                return None
            run.started += 1
            run.pending.add(job.trial_id)
            return job
        below = run.rungs[run.rung_index - 1]
        trial_id = below.promotable(self.eta, self._is_paused)
        if trial_id is None:
            return None
        trial = self.trials[trial_id]
        if not self._may_spend(level - trial.checkpoint_resource):
            return None
        below.promote(trial_id)
        run.pending.add(trial_id)
        return self._promote(trial, level)

    def _following(self, run: BracketRun) -> BracketRun | None:
        """What comes after a finished rung: the next rung, the next bracket, or None (budget spent)."""
        i = run.rung_index
        n_levels = len(self.levels[run.number % len(self.levels)])
        if i + 1 < n_levels and len(run.rungs[i]) // self.eta > 0:
            return BracketRun(run.number, run.rungs, i + 1, run.started)
        if run.started == 0:
            return None  # a fresh bracket could not start a single trial
        return self._fresh_run(run.number + 1)

    def _fresh_run(self, number: int) -> BracketRun:
        bracket = number % len(self.levels)
        return BracketRun(number, [self._rung(level) for level in self.levels[bracket]])

    # ------------------------------------------------------------------ telling

    def _on_milestone(self, trial: TrialState, key: float, seq: int) -> Decision:
        k = self.levels[trial.bracket].index(trial.milestone)
        self._run.rungs[k].record(trial.trial_id, key, seq)
        self._run.pending.discard(trial.trial_id)
        trial.rung_index = k
        return self._end_segment(trial)

    def fail(self, trial_id: int) -> None:
        super().fail(trial_id)
        self._run.pending.discard(trial_id)  # its rung completes with one result fewer

    # ------------------------------------------------------------------ steering

    def _check_retry(self, trial: TrialState) -> None:
        """A failed trial rejoins only the rung being filled now: its result counts there."""
        run = self._run
        level = self.levels[run.number % len(self.levels)][run.rung_index]
        if trial.bracket != self.bracket or trial.milestone != level:
            raise FailedPrecondition(
                f"trial {trial.trial_id} failed on its way to resource {trial.milestone} in "
                f"bracket {trial.bracket}; synchronous brackets have moved on to resource "
                f"{level} in bracket {self.bracket}, so it cannot be run again"
            )

    def _on_retry(self, trial: TrialState) -> None:
        self._run.pending.add(trial.trial_id)

    # ------------------------------------------------------------------ state

    def _extra_state(self) -> dict[str, Any]:
        return {"run": self._run.to_json()}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        self._run = BracketRun.from_json(state["run"])


class SyncSuccessiveHalving(SyncHyperband):
    """Synchronous successive halving: bracket 0 of Hyperband, run again and again."""

    def _setup(self, brackets: int) -> None:
        check_one_bracket(brackets, "synchronous successive halving")
        super()._setup(1)
