"""The scheduler contract and the bookkeeping every scheduler shares.

A scheduler answers two questions as values: `suggest(now)` (what should a
free worker run next?) and `report(trial_id, resource, value)` (what happens to
this trial now?). It never performs I/O and never reads a clock: `now` is passed
in and only used for the wall-time budget.

Contract (checked by tests/core/test_scheduler_contract.py for every scheduler):
- the same construction arguments and the same sequence of calls give the same
  results, bit for bit, so a journal of calls can be replayed after a restart;
- a WAIT or DONE job changes no state, so it need not be journaled;
- `state_dict()` / `load_state_dict()` restore a scheduler exactly.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Mapping, Union

from ..errors import FailedPrecondition, InvalidArgument, NotFound
from ..lazy_rows import LazyRows
from ..objectives import Objective, Objectives, Outcome
from ..rungs import AnyRung, make_rung
from ..searchers.base import Searcher
from ..types import Budget, Decision, Job, JobKind, Mode, TrialStatus, check_metric
from .steering import Steering
from .trials import TrialState, decode_trial, encode_trial, trial_table

__all__ = [
    "Incumbent", "Scheduler", "TrialState", "check_one_bracket", "decode_trial", "encode_trial",
    "trial_table",
]


@dataclass(frozen=True)
class Incumbent:
    """The best result at the highest resource any trial has reached."""

    trial_id: int
    resource: int
    value: float


def check_one_bracket(brackets: int, kind: str) -> None:
    """Schedulers without brackets accept 0 (the default) or 1, so one StudySpec fits all."""
    if brackets not in (0, 1):
        raise InvalidArgument(f"{kind} has one bracket; use a Hyperband scheduler for more")


class Scheduler(Steering, ABC):
    """Shared trial bookkeeping, budget accounting and recovery of lost trials."""

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
        *,
        objectives: Objectives | None = None,
    ):
        self.searcher = searcher
        self.mode = Mode(mode)
        # Without `objectives`, results are one number oriented by `mode`, as before.
        self.objectives = objectives or Objectives((Objective("value", self.mode),))
        if self.objectives.objectives[0].mode is not self.mode:
            raise InvalidArgument("the scheduler's mode must be that of the first objective")
        self.r_min, self.r_max, self.eta = r_min, r_max, eta
        self.budget = budget
        self.seed = seed
        # Trial ids are 0, 1, 2, ... in order of start; trials stay text until used.
        self.trials: LazyRows[TrialState] = trial_table()
        self._n_running = 0  # trials whose status is RUNNING (counted: a walk costs O(trials))
        self.resource_spent = 0  # resource handed out in segments, retraining included
        self.promotions = 0
        self.started_at: float | None = None
        self.stopped = False
        self.imported = 0  # trials added by import_trial (steering.py): none of max_trials
        self._lost: list[int] = []  # trials whose lease expired, resumed first
        self._seq = 0  # order of milestone results, for ties
        # (-resource, key, trial_id); for outcomes key is (violation, first objective's key)
        self._incumbent: tuple[int, Any, int] | None = None
        self._setup(brackets)
        searcher.on_resources(r_min, r_max)

    @abstractmethod
    def _setup(self, brackets: int) -> None:
        """Builds the scheduler's own structures (levels, rungs, brackets) from the settings."""

    # ------------------------------------------------------------------ asking

    def suggest(self, now: float) -> Job:
        if self.stopped:
            return Job.done()
        # A lost trial finishes its segment even past the wall-time budget, as a running
        # one does; otherwise it would stay running and the study would never end.
        if self._lost:
            return self._resume_lost(self._lost.pop(0))
        if self._wall_time_spent(now):
            # No new work; free workers wait while jobs run, so one whose worker
            # dies is still resumed, and the study ends when the last job does.
            return self._idle_job()
        return self._next_job(now)

    @abstractmethod
    def _next_job(self, now: float) -> Job:
        """The scheduler's own choice once lost trials have been resumed."""

    # ------------------------------------------------------------------ telling

    def report(
        self, trial_id: int, resource: int, value: Union[float, Mapping[str, float]]
    ) -> Decision:
        """`value`: the objective's value, or named metrics (every objective and constraint)."""
        trial = self.running_trial(trial_id)
        if isinstance(resource, bool) or not isinstance(resource, int):
            raise InvalidArgument(f"resource must be an integer, got {resource!r}")
        if not trial.reported < resource <= trial.milestone:
            raise InvalidArgument(
                f"trial {trial_id} was assigned resources {trial.resume_from}..{trial.milestone} "
                f"and last reported {trial.reported}; {resource} is out of order or out of range"
            )
        key = self._result_key(value)
        trial.reported = resource
        if isinstance(key, Outcome):
            self.searcher.on_outcome(trial_id, trial.config, resource, key)
        else:
            self.searcher.on_report(trial_id, trial.config, resource, key)
        if self.stopped:
            self._set_status(trial, TrialStatus.STOPPED)
            return Decision.STOP
        if resource < trial.milestone:
            return self._on_progress(trial, resource, key)
        trial.checkpoint_resource = resource
        self._seq += 1
        self._update_incumbent(trial_id, resource, key)
        return self._on_milestone(trial, key, self._seq)

    def _result_key(self, value: Union[float, Mapping[str, float]]) -> Union[float, Outcome]:
        """What rungs rank: a number (lower is better) in a scalar study, an Outcome otherwise."""
        if self.objectives.is_scalar:
            # Named metrics; a float is let through first, as a Mapping check is slow.
            if not isinstance(value, float) and isinstance(value, Mapping):
                value = self.objectives.metrics(value)[self.objectives.objectives[0].name]
            return self._key(check_metric(value))
        return self.objectives.outcome(self.objectives.metrics(value))

    def _rung(self, level: int) -> AnyRung:
        return make_rung(level, self.objectives.is_scalar, self.eta)

    def _on_progress(self, trial: TrialState, resource: int, key: Any) -> Decision:
        """A result below the milestone; promotion-type schedulers just continue."""
        return Decision.CONTINUE

    @abstractmethod
    def _on_milestone(self, trial: TrialState, key: float, seq: int) -> Decision:
        """The trial reached its milestone with result `key` (lower is better)."""

    def lose(self, trial_id: int, counted: bool = True, checkpoint_at: int = 0) -> None:
        """The trial's job was lost (lease expired) or handed back (`counted=False`).

        It is resumed before anything else, from its last checkpoint or from
        `checkpoint_at`: a checkpoint its worker saved at the last resource it
        reported before handing the job back. In a stopped study nobody resumes
        it, so it ends as stopped.
        """
        trial = self.running_trial(trial_id)
        if checkpoint_at:
            if not trial.checkpoint_resource < checkpoint_at == trial.reported:
                raise InvalidArgument(
                    f"trial {trial_id} last reported resource {trial.reported} and has a "
                    f"checkpoint at {trial.checkpoint_resource}: a checkpoint at "
                    f"{checkpoint_at} cannot be resumed from"
                )
            trial.checkpoint_resource = checkpoint_at
        trial.times_lost += int(counted)
        trial.reported = trial.checkpoint_resource
        if self.stopped:
            self._set_status(trial, TrialStatus.STOPPED)
        else:
            self._lost.append(trial_id)

    def fail(self, trial_id: int) -> None:
        trial = self.trial(trial_id)
        if trial.status in (TrialStatus.COMPLETED, TrialStatus.STOPPED, TrialStatus.FAILED):
            raise FailedPrecondition(f"trial {trial_id} already ended ({trial.status.value})")
        self._set_status(trial, TrialStatus.FAILED)
        if trial_id in self._lost:
            self._lost.remove(trial_id)
        self.searcher.on_trial_failed(trial_id, trial.config)

    def stop(self) -> None:
        """No new work: Suggest answers DONE, running trials get STOP at their next report,
        and lost ones, which nobody will resume, end as stopped now."""
        self.stopped = True
        for trial_id in self._lost:
            self._set_status(self.trials[trial_id], TrialStatus.STOPPED)
        self._lost.clear()

    # ------------------------------------------------------------------ queries

    def trial(self, trial_id: int) -> TrialState:
        try:
            return self.trials[trial_id]
        except (KeyError, TypeError):
            raise NotFound(f"no trial {trial_id!r}") from None

    def running_trial(self, trial_id: int) -> TrialState:
        trial = self.trial(trial_id)
        if trial.status is not TrialStatus.RUNNING or trial_id in self._lost:
            raise FailedPrecondition(
                f"trial {trial_id} is not running ({trial.status.value}); no report expected"
            )
        return trial

    @property
    def n_running(self) -> int:
        return self._n_running

    def finished(self, now: float) -> bool:
        """True when nothing runs and a free worker would be told DONE."""
        if self.n_running or self._lost:
            return False
        # WAIT and DONE change no state, but a START or RESUME would: ask a copy.
        return copy.deepcopy(self).suggest(now).kind is JobKind.DONE

    def incumbent(self) -> Incumbent | None:
        if self._incumbent is None:
            return None
        neg_resource, key, trial_id = self._incumbent
        if isinstance(key, tuple):
            key = key[1]
        return Incumbent(trial_id, -neg_resource, key if self.mode is Mode.MIN else -key)

    # ------------------------------------------------------------------ helpers

    def _key(self, value: float) -> float:
        """Orients a metric so that lower is better."""
        return value if self.mode is Mode.MIN else -value

    def _update_incumbent(self, trial_id: int, resource: int, key: Union[float, Outcome]) -> None:
        if isinstance(key, Outcome):
            key = (key.violation, key.keys[0])
        candidate = (-resource, key, trial_id)
        if self._incumbent is None or candidate < self._incumbent:
            self._incumbent = candidate

    def _wall_time_spent(self, now: float) -> bool:
        limit = self.budget.max_wall_seconds
        return bool(limit) and self.started_at is not None and now - self.started_at >= limit

    def _may_spend(self, amount: int) -> bool:
        limit = self.budget.max_resource
        return not limit or self.resource_spent + amount <= limit

    def _may_start_trial(self, first_milestone: int) -> bool:
        limit = self.budget.max_trials
        started = len(self.trials) - self.imported
        return (not limit or started < limit) and self._may_spend(first_milestone)

    def _idle_job(self) -> Job:
        """WAIT while something runs (it may unlock work), DONE otherwise."""
        if self.n_running or self._lost:
            return Job.wait()
        return Job.done()

    def _start_trial(
        self, bracket: int, milestone: int, now: float, config: dict[str, Any] | None = None
    ) -> Job:
        """Starts a trial with `config`, or with the searcher's suggestion when None."""
        if config is None:
            config = self.searcher.suggest()
        if config is None:
            return self._idle_job()
        if self.started_at is None:
            self.started_at = now  # the wall-time budget counts from the first trial
        trial_id = self.trials.append(
            TrialState(len(self.trials), dict(config), bracket, TrialStatus.RUNNING, 0, milestone)
        )
        self._n_running += 1
        self.resource_spent += milestone
        return Job(JobKind.START, trial_id, dict(config), 0, milestone)

    def _set_status(self, trial: TrialState, status: TrialStatus) -> None:
        """Every change of a trial's status goes through here, to keep n_running counted."""
        self._n_running += (status is TrialStatus.RUNNING) - (trial.status is TrialStatus.RUNNING)
        trial.status = status

    def _is_paused(self, trial_id: int) -> bool:
        return self.trials[trial_id].status is TrialStatus.PAUSED

    def _end_segment(self, trial: TrialState) -> Decision:
        """At its milestone a trial completes (at r_max) or pauses in its rung until promoted."""
        if trial.milestone == self.r_max:
            self._set_status(trial, TrialStatus.COMPLETED)
            return Decision.STOP
        self._set_status(trial, TrialStatus.PAUSED)
        return Decision.PAUSE

    def _promote(self, trial: TrialState, milestone: int) -> Job:
        self._set_status(trial, TrialStatus.RUNNING)
        trial.resume_from = trial.checkpoint_resource
        trial.milestone = milestone
        trial.reported = trial.resume_from
        self.resource_spent += milestone - trial.resume_from
        self.promotions += 1
        # An imported trial has no checkpoint: it retrains from scratch.
        kind = JobKind.RESUME if trial.resume_from else JobKind.START
        return Job(kind, trial.trial_id, dict(trial.config), trial.resume_from, milestone)

    def _resume_lost(self, trial_id: int) -> Job:
        trial = self.trials[trial_id]
        trial.resume_from = trial.checkpoint_resource
        self.resource_spent += trial.milestone - trial.resume_from
        kind = JobKind.RESUME if trial.resume_from else JobKind.START
        return Job(kind, trial_id, dict(trial.config), trial.resume_from, trial.milestone)

    # ------------------------------------------------------------------ state

    def state_dict(self, with_trials: bool = True) -> dict[str, Any]:
        """Everything `load_state_dict` needs; `with_trials=False` leaves the trials out for
        a caller that stores them as rows (`self.trials.chunks()`)."""
        return {
            **({"trials": self.trials.texts()} if with_trials else {}),  # a JSON row a trial
            "n_running": self._n_running,
            "resource_spent": self.resource_spent,
            "promotions": self.promotions,
            "started_at": self.started_at,
            "stopped": self.stopped,
            "lost": list(self._lost),
            "seq": self._seq,
            "incumbent": list(self._incumbent) if self._incumbent else None,
            "searcher": self.searcher.state_dict(),
            # Steered (steering.py): the budget now, and the imported trials.
            "budget": vars(self.budget).copy(),
            "imported": self.imported,
            **self._extra_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Loads the trials last: a restore may still be reading their rows meanwhile
        (server/storage.py, PendingRows)."""
        self._n_running = state["n_running"]
        self.resource_spent = state["resource_spent"]
        self.promotions = state["promotions"]
        self.started_at = state["started_at"]
        self.stopped = state["stopped"]
        self._lost = list(state["lost"])
        self._seq = state["seq"]
        inc = state["incumbent"]
        if inc and isinstance(inc[1], list):
            inc = [inc[0], tuple(inc[1]), inc[2]]
        self._incumbent = (inc[0], inc[1], inc[2]) if inc else None
        self.searcher.load_state_dict(state["searcher"])
        if "budget" in state:  # saved before steering: the budget the study was created with
            self.budget = Budget(**state["budget"])
        self.imported = state.get("imported", 0)
        self._load_extra_state(state)
        self.trials = trial_table(state["trials"])

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        pass
