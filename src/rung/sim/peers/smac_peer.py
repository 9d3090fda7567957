"""SMAC3 2.4's MultiFidelityFacade (Hyperband with a random forest) through its ask/tell.

SMAC runs `target_function(config, seed, budget)` from scratch at each budget: every
`ask()` is a new trial trained 0 -> budget (the Simulator reports at the rung levels
on the way; those are only passed on). Its Hyperband intensifier runs synchronous
successive halving, but `ask()` while trials are pending hands out work from further
brackets, which is how SMAC keeps several workers busy. Budgets r_min..r_max with
eta, the facade's defaults otherwise (random initial design, random forest, EI).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from smac import MultiFidelityFacade, Scenario
from smac.main.exceptions import ConfigurationSpaceExhaustedException
from smac.runhistory.dataclasses import TrialValue

from ...core.space import SearchSpace
from ...core.types import Decision, Job
from .configspace import FromScratchPeer, config_space


class SMACPeer(FromScratchPeer):
    def __init__(self, space: SearchSpace, r_min: int, r_max: int, eta: int, seed: int):
        super().__init__(space, r_min, r_max, eta)
        self._out = tempfile.TemporaryDirectory(prefix="rung-smac-")  # its run history files
        scenario = Scenario(config_space(space, seed), deterministic=True, n_trials=10**6,
                            min_budget=r_min, max_budget=r_max, seed=seed,
                            output_directory=Path(self._out.name))
        self.smac = MultiFidelityFacade(
            scenario, target_function=_never_called, logging_level=40, overwrite=True,
            intensifier=MultiFidelityFacade.get_intensifier(scenario, eta=eta))
        self._exhausted = False  # SMAC has said it has nothing more to propose

    def suggest(self, now: float) -> Job:
        if self._exhausted:
            return Job.done()
        try:
            info = self.smac.ask()
        except (ConfigurationSpaceExhaustedException, StopIteration):
            # SMAC's selector found no configuration it has not tried (it samples a bounded
            # number of candidates): it has nothing more to propose, so its run ends here.
            # The exception also ends SMAC's trial generator, so any later ask() would
            # raise StopIteration; every other worker is told the same.
            self._exhausted = True
            return Job.done()
        return self._start(info.config, info, info.budget)

    def report(self, trial_id: int, resource: int, value: float) -> Decision:
        info = self._finish(trial_id, resource, value)
        if info is None:
            return Decision.CONTINUE
        self.smac.tell(info, TrialValue(cost=float(value), time=float(resource)), save=False)
        return Decision.STOP


def _never_called(config: object, seed: int = 0, budget: float = 0.0) -> float:
    """SMAC wants a target function; with ask/tell the Simulator evaluates instead."""
    raise AssertionError("the Simulator evaluates SMAC's trials")


def make(method: str, space: SearchSpace, r_min: int, r_max: int, eta: int,
         seed: int) -> SMACPeer:
    """"smac:hyperband_rf", as named in rung.sim.peers.PEERS."""
    if method != "smac:hyperband_rf":
        raise ValueError(f"not a SMAC method: {method!r}")
    return SMACPeer(space, r_min, r_max, eta, seed)
