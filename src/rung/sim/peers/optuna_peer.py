"""Optuna through ask/tell: TPE and the GP sampler, each with the Hyperband pruner, and the GP
sampler without pruning.

Optuna's pruning stops trials, it never pauses them: every trial gets one job
0 -> r_max and reports at each rung level (the Simulator reports there), and
`should_prune()` after a report ends it. As in rung's own schedulers, the
incumbent counts results at every rung level when trials are pruned (like
`asha_stopping`) and only completed ones otherwise (like `fifo`).

TPE runs with `constant_liar=True`, which Optuna recommends for parallel
workers so that running trials are not proposed again.
"""

from __future__ import annotations

from typing import Any

import optuna

from ...core.space import SearchSpace
from ...core.types import Decision, Job, JobKind
from .base import PeerScheduler, PeerTrial, domains

optuna.logging.set_verbosity(optuna.logging.WARNING)


class OptunaPeer(PeerScheduler):
    def __init__(self, space: SearchSpace, sampler: str, prune: bool,
                 r_min: int, r_max: int, eta: int, seed: int):
        super().__init__(r_min, r_max, eta)
        self._domains = domains(space)
        if sampler == "tpe":
            chosen: optuna.samplers.BaseSampler = optuna.samplers.TPESampler(
                seed=seed, constant_liar=True)
        elif sampler == "gp":
            chosen = optuna.samplers.GPSampler(seed=seed)
        else:
            raise ValueError(f"unknown Optuna sampler {sampler!r}; use tpe or gp")
        pruner: optuna.pruners.BasePruner = (
            optuna.pruners.HyperbandPruner(min_resource=r_min, max_resource=r_max,
                                           reduction_factor=eta)
            if prune else optuna.pruners.NopPruner()
        )
        self.prune = prune
        # A fixed name: HyperbandPruner draws each trial's bracket from a hash of the study
        # name, and a generated name would make every run differ.
        self.study = optuna.create_study(study_name=f"rung-sim-{seed}", direction="minimize",
                                         sampler=chosen, pruner=pruner)
        self._running: dict[int, optuna.Trial] = {}

    def suggest(self, now: float) -> Job:
        trial = self.study.ask()
        config = {name: _suggest(trial, name, kind, args)
                  for name, (kind, args) in self._domains.items()}
        trial_id = len(self.trials)
        self.trials[trial_id] = PeerTrial(config)
        self._running[trial_id] = trial
        return Job(JobKind.START, trial_id, dict(config), 0, self.r_max)

    def report(self, trial_id: int, resource: int, value: float) -> Decision:
        trial = self._running[trial_id]
        if resource >= self.r_max:
            del self._running[trial_id]
            self.study.tell(trial, value)
            self._record(trial_id, resource, value)
            return Decision.STOP
        trial.report(value, resource)
        if self.prune:
            self._record(trial_id, resource, value)
            if trial.should_prune():
                del self._running[trial_id]
                self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                return Decision.STOP
        return Decision.CONTINUE


def _suggest(trial: optuna.Trial, name: str, kind: str, args: Any) -> Any:
    if kind == "float":
        low, high, log = args
        return trial.suggest_float(name, low, high, log=log)
    if kind == "int":
        low, high, log = args
        return trial.suggest_int(name, low, high, log=log)
    return trial.suggest_categorical(name, args)


def make(method: str, space: SearchSpace, r_min: int, r_max: int, eta: int,
         seed: int) -> OptunaPeer:
    """"optuna:tpe_hyperband", "optuna:gp_hyperband" or "optuna:gp", as named in
    rung.sim.peers.PEERS."""
    if method == "optuna:tpe_hyperband":
        return OptunaPeer(space, "tpe", True, r_min, r_max, eta, seed)
    if method == "optuna:gp_hyperband":
        return OptunaPeer(space, "gp", True, r_min, r_max, eta, seed)
    if method == "optuna:gp":
        return OptunaPeer(space, "gp", False, r_min, r_max, eta, seed)
    raise ValueError(f"not an Optuna method: {method!r}")
