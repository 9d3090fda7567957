"""NePS 0.17 (neural-pipeline-search) through its AskAndTell wrapper: PriorBand, PriorBand
with its Bayesian-optimization kick-in, ASHA, and the optimizer NePS picks by default.

NePS's bracket optimizers name each job "<config>_rung_<k>" and a promotion carries
`previous_config_id`: it continues the same configuration from its checkpoint, so the
adapter resumes that trial from the resource it last reported (as rung's promotions
do) and pauses it when the job reaches its milestone; NePS decides later whether to
promote it. Pending jobs are NePS's own: `ask()` while others run is how its runtime
uses several workers, and its brackets never make a worker wait. The freeze-thaw
`ifbo` works the same way (a job per step of its fidelity).

The fidelity is an integer r_min..r_max; NePS builds its rungs from it with eta. A
domain's prior (rung.core.priors) becomes NePS's prior with the same confidence;
without priors PriorBand samples uniformly and around the incumbent, as NePS warns.
NePS draws from numpy's, torch's and Python's global generators: all three are seeded.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import neps
import numpy as np
import torch

from ...core.space import Categorical, FiniteRange, Float, Int, SearchSpace
from ...core.types import Decision, Job, JobKind
from .base import PeerScheduler, PeerTrial, domains

FIDELITY = "rung_resource"
METHODS = ("priorband", "priorband_bo", "asha", "default", "ifbo")
logging.getLogger("neps").setLevel(logging.ERROR)  # PriorBand warns once per run: no priors


def neps_space(space: SearchSpace, r_min: int, r_max: int) -> neps.SearchSpace:
    """rung's domains, each with its prior if it has one, and the integer fidelity."""
    out: dict[str, Any] = {}
    for name, (kind, args) in domains(space).items():
        dom = space.params[name]
        prior = getattr(dom, "prior", None)
        extra: dict[str, Any] = {}
        if prior is not None:
            extra = {"prior": prior, "prior_confidence": getattr(dom, "confidence", None) or "low"}
        if kind == "float" and isinstance(dom, Float):
            low, high, log = args
            out[name] = neps.HPOFloat(low, high, log=log, **extra)
        elif kind == "int" and isinstance(dom, Int):
            low, high, log = args
            out[name] = neps.HPOInteger(low, high, log=log, **extra)
        else:
            assert isinstance(dom, (Categorical, FiniteRange))
            out[name] = neps.HPOCategorical(list(args), **extra)
    out[FIDELITY] = neps.HPOInteger(r_min, r_max, is_fidelity=True)
    return neps.SearchSpace(out)


def optimizer(name: str, space: neps.SearchSpace, eta: int) -> Any:
    """NePS's optimizer for one of METHODS, built as `neps.run` would build it."""
    algorithms = neps.algorithms
    if name == "priorband":
        return algorithms.priorband(space, eta=eta)
    if name == "priorband_bo":  # NePS's example kick-in: after 10 full evaluations' worth
        return algorithms.priorband(space, eta=eta, bayesian_optimization_kick_in_point=10)
    if name == "asha":
        return algorithms.asha(space, eta=eta)
    if name == "ifbo":
        return algorithms.ifbo(space)
    if name == "default":
        chosen = algorithms.determine_optimizer_automatically(space)
        return getattr(algorithms, chosen)(space)
    raise ValueError(f"unknown NePS optimizer {name!r}; use one of {', '.join(METHODS)}")


class NePSPeer(PeerScheduler):
    def __init__(self, space: SearchSpace, name: str, r_min: int, r_max: int, eta: int,
                 seed: int):
        super().__init__(r_min, r_max, eta)
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        self._names = list(space.params)
        self.tuner = neps.AskAndTell(optimizer(name, neps_space(space, r_min, r_max), eta),
                                     worker_id=f"rung-sim-{seed}")
        self._by_key: dict[str, int] = {}  # NePS's configuration number -> trial id
        self._reached: dict[int, int] = {}  # trial id -> last resource reported
        self._jobs: dict[int, tuple[str, int]] = {}  # trial id -> (NePS trial id, milestone)

    def suggest(self, now: float) -> Job:
        asked = self.tuner.ask()
        key = asked.metadata.id.split("_", 1)[0]
        milestone = int(asked.config[FIDELITY])
        config = {k: _plain(asked.config[k]) for k in self._names}
        trial_id = self._by_key.get(key)
        if trial_id is None or self._reached[trial_id] >= milestone:
            trial_id = len(self.trials)  # new, or a restart from scratch: a fresh trial
            self._by_key[key] = trial_id
            self.trials[trial_id] = PeerTrial(config)
            self._reached[trial_id] = 0
        self._jobs[trial_id] = (asked.metadata.id, milestone)
        start = self._reached[trial_id]
        kind = JobKind.RESUME if start else JobKind.START
        return Job(kind, trial_id, dict(self.trials[trial_id].config), start, milestone)

    def report(self, trial_id: int, resource: int, value: float) -> Decision:
        neps_id, milestone = self._jobs[trial_id]
        self._reached[trial_id] = resource
        if resource < milestone:
            return Decision.CONTINUE
        del self._jobs[trial_id]
        self.tuner.tell(neps_id, float(value))
        self._record(trial_id, resource, value)
        return Decision.PAUSE if resource < self.r_max else Decision.STOP


def _plain(value: Any) -> Any:
    """numpy and torch scalars as Python values (JSON, hashing)."""
    return value.item() if hasattr(value, "item") else value


def make(method: str, space: SearchSpace, r_min: int, r_max: int, eta: int,
         seed: int) -> NePSPeer:
    """"neps:<one of METHODS>", as named in rung.sim.peers.PEERS."""
    kind, _, name = method.partition(":")
    if kind != "neps" or name not in METHODS:
        raise ValueError(f"not a NePS method: {method!r}")
    return NePSPeer(space, name, r_min, r_max, eta, seed)
