"""rung's search space as a ConfigSpace space, for the peers built on it (DEHB, SMAC3), and the
from-scratch job both of them run: a new trial per (configuration, fidelity) evaluation."""

from __future__ import annotations

from typing import Any

from ConfigSpace import (
    CategoricalHyperparameter,
    Configuration,
    ConfigurationSpace,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)

from ...core.space import SearchSpace
from ...core.types import Job, JobKind
from .base import PeerScheduler, PeerTrial, domains


def config_space(space: SearchSpace, seed: int) -> ConfigurationSpace:
    cs = ConfigurationSpace(seed=seed)
    for name, (kind, args) in domains(space).items():
        if kind == "float":
            low, high, log = args
            cs.add(UniformFloatHyperparameter(name, low, high, log=log))
        elif kind == "int":
            low, high, log = args
            cs.add(UniformIntegerHyperparameter(name, low, high, log=log))
        else:
            cs.add(CategoricalHyperparameter(name, list(args)))
    return cs


def plain(config: Configuration | dict[str, Any], names: list[str]) -> dict[str, Any]:
    """A configuration as rung's dict of Python values, in rung's parameter order."""
    values = dict(config)
    return {k: values[k].item() if hasattr(values[k], "item") else values[k] for k in names}


class FromScratchPeer(PeerScheduler):
    """A peer whose every evaluation trains a configuration from scratch to one fidelity:
    each is its own trial and job 0 -> milestone, recorded at its milestone."""

    def __init__(self, space: SearchSpace, r_min: int, r_max: int, eta: int):
        super().__init__(r_min, r_max, eta)
        self._names = list(space.params)
        self._pending: dict[int, tuple[Any, int]] = {}  # trial id -> (peer's handle, milestone)

    def _start(self, config: Configuration | dict[str, Any], handle: Any, fidelity: float) -> Job:
        trial_id = len(self.trials)
        milestone = min(self.r_max, max(self.r_min, round(float(fidelity))))
        self.trials[trial_id] = PeerTrial(plain(config, self._names))
        self._pending[trial_id] = (handle, milestone)
        return Job(JobKind.START, trial_id, dict(self.trials[trial_id].config), 0, milestone)

    def _finish(self, trial_id: int, resource: int, value: float) -> Any | None:
        """The peer's handle once the job reaches its milestone, None before."""
        handle, milestone = self._pending[trial_id]
        if resource < milestone:
            return None
        del self._pending[trial_id]
        self._record(trial_id, resource, value)
        return handle
