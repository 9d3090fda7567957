"""DEHB 0.1.2 (differential evolution inside Hyperband's brackets) through its ask/tell.

DEHB evaluates `f(config, fidelity)` from scratch: every `ask()` is a new trial trained
0 -> fidelity (the Simulator reports at the rung levels on the way; those are only
passed on). Its brackets run synchronous successive halving, but `ask()` while jobs
are pending opens further brackets, which is how DEHB keeps several workers busy.
Fidelities are DEHB's own r_max * eta^-k for r_min..r_max (1, 3, 9, 27), rounded.
"""

from __future__ import annotations

import tempfile

from dehb import DEHB

from ...core.space import SearchSpace
from ...core.types import Decision, Job
from .configspace import FromScratchPeer, config_space


class DEHBPeer(FromScratchPeer):
    def __init__(self, space: SearchSpace, r_min: int, r_max: int, eta: int, seed: int):
        super().__init__(space, r_min, r_max, eta)
        cs = config_space(space, seed)
        self._out = tempfile.TemporaryDirectory(prefix="rung-dehb-")  # its log and state files
        self.dehb = DEHB(cs=cs, f=None, dimensions=len(cs), min_fidelity=r_min,
                         max_fidelity=r_max, eta=eta, n_workers=1, seed=seed,
                         output_path=self._out.name, save_freq="end", log_level="ERROR")

    def suggest(self, now: float) -> Job:
        job = self.dehb.ask()
        return self._start(job["config"], job, job["fidelity"])

    def report(self, trial_id: int, resource: int, value: float) -> Decision:
        job = self._finish(trial_id, resource, value)
        if job is None:
            return Decision.CONTINUE
        self.dehb.tell(job, {"fitness": float(value), "cost": float(resource)})
        return Decision.STOP


def make(method: str, space: SearchSpace, r_min: int, r_max: int, eta: int,
         seed: int) -> DEHBPeer:
    """"dehb", as named in rung.sim.peers.PEERS."""
    if method != "dehb":
        raise ValueError(f"not a DEHB method: {method!r}")
    return DEHBPeer(space, r_min, r_max, eta, seed)
