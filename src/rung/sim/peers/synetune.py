"""Syne Tune 0.13's promotion-type HyperbandScheduler (MOBSTER with searcher="bayesopt").

The adapter plays the part of Syne Tune's Tuner and trial backend, call for
call: `suggest(trial_id)` either starts a new trial (`spawn_new_trial_id`) or
resumes a paused one from its checkpoint; results go to `on_trial_result`,
whose PAUSE or STOP is followed by `on_trial_remove`, as the Tuner does. With
`max_resource_attr` the scheduler writes each job's milestone into the trial's
config, which is how the adapter learns where a resumed job ends. Syne Tune
reads its clock through a time keeper; this one shows the simulated clock.

Rung levels are the same as rung's (grace_period = r_min, reduction_factor =
eta, max_t = r_max, one bracket), and so is the seed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from syne_tune.backend.time_keeper import TimeKeeper
from syne_tune.backend.trial_status import Trial
from syne_tune.config_space import choice, lograndint, loguniform, randint, uniform
from syne_tune.optimizer.scheduler import SchedulerDecision
from syne_tune.optimizer.schedulers import HyperbandScheduler

from ...core.space import SearchSpace
from ...core.types import Decision, Job, JobKind
from .base import PeerScheduler, PeerTrial, domains

METRIC, RESOURCE, MAX_RESOURCE = "error", "epoch", "epochs"


class SimulatedClock(TimeKeeper):
    """Syne Tune's view of time: the simulator's `now`, set before each call."""

    def __init__(self) -> None:
        self.now = 0.0
        self._origin = datetime(2020, 1, 1)

    def start_of_time(self) -> None:
        pass

    def time(self) -> float:
        return self.now

    def time_stamp(self) -> datetime:
        return self._origin + timedelta(seconds=self.now)

    def advance(self, step: float) -> None:
        self.now += step


def config_space(space: SearchSpace, r_max: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (kind, args) in domains(space).items():
        if kind == "float":
            low, high, log = args
            out[name] = loguniform(low, high) if log else uniform(low, high)
        elif kind == "int":
            low, high, log = args
            out[name] = lograndint(low, high) if log else randint(low, high)
        else:
            out[name] = choice(args)
    out[MAX_RESOURCE] = r_max
    return out


class SyneTunePeer(PeerScheduler):
    def __init__(self, space: SearchSpace, searcher: str, r_min: int, r_max: int, eta: int,
                 seed: int):
        super().__init__(r_min, r_max, eta)
        self._names = list(space.params)
        self._clock = SimulatedClock()
        self.scheduler = HyperbandScheduler(
            config_space(space, r_max),
            type="promotion",
            searcher=searcher,
            metric=METRIC,
            mode="min",
            resource_attr=RESOURCE,
            max_resource_attr=MAX_RESOURCE,
            grace_period=r_min,
            reduction_factor=eta,
            brackets=1,
            random_seed=seed,
        )
        # After construction: 0.13's `time_keeper=` argument trips over its own assert.
        self.scheduler.set_time_keeper(self._clock)
        self._st_trials: dict[int, Trial] = {}
        self._checkpoint: dict[int, int] = {}  # trial id -> last resource reported
        self._running: set[int] = set()

    def suggest(self, now: float) -> Job:
        self._clock.now = now
        new_id = len(self.trials)
        suggestion = self.scheduler.suggest(trial_id=new_id)
        if suggestion is None:  # the searcher ran out of configurations
            return Job.wait() if self._running else Job.done()
        if suggestion.spawn_new_trial_id:
            full = dict(suggestion.config)
            trial = Trial(trial_id=new_id, config=full, creation_time=self._clock.time_stamp())
            self._st_trials[new_id] = trial
            self.trials[new_id] = PeerTrial({k: _plain(full[k]) for k in self._names})
            self._checkpoint[new_id] = 0
            self._running.add(new_id)
            self.scheduler.on_trial_add(trial=trial)
            return Job(JobKind.START, new_id, dict(self.trials[new_id].config), 0,
                       int(full[MAX_RESOURCE]))
        trial_id = int(suggestion.checkpoint_trial_id)
        trial = self._st_trials[trial_id]
        if suggestion.config is not None:
            trial.config = dict(suggestion.config)
        resume_from = self._checkpoint[trial_id]
        self._running.add(trial_id)
        return Job(JobKind.RESUME, trial_id, dict(self.trials[trial_id].config), resume_from,
                   int(trial.config[MAX_RESOURCE]))

    def report(self, trial_id: int, resource: int, value: float) -> Decision:
        trial = self._st_trials[trial_id]
        result = {METRIC: value, RESOURCE: resource}
        decision = self.scheduler.on_trial_result(trial=trial, result=result)
        self._checkpoint[trial_id] = resource
        if resource == int(trial.config[MAX_RESOURCE]):
            self._record(trial_id, resource, value)  # a milestone, as rung's ASHA records it
        if decision == SchedulerDecision.CONTINUE:
            return Decision.CONTINUE
        self.scheduler.on_trial_remove(trial=trial)
        self._running.discard(trial_id)
        return Decision.PAUSE if decision == SchedulerDecision.PAUSE else Decision.STOP

def _plain(value: Any) -> Any:
    """numpy scalars from Syne Tune's sampling as Python values (JSON, hashing)."""
    return value.item() if hasattr(value, "item") else value


def make(method: str, space: SearchSpace, r_min: int, r_max: int, eta: int,
         seed: int) -> SyneTunePeer:
    """"synetune:bayesopt" (MOBSTER) or "synetune:random", as named in rung.sim.peers.PEERS."""
    kind, _, searcher = method.partition(":")
    if kind != "synetune" or searcher not in ("bayesopt", "random"):
        raise ValueError(f"not a Syne Tune method: {method!r}")
    return SyneTunePeer(space, searcher, r_min, r_max, eta, seed)
