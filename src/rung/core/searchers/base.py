"""The searcher contract: propose configurations, learn from reported results."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ..objectives import Outcome
from ..space import SearchSpace
from ..types import Config


class Searcher(ABC):
    """Proposes configurations. Must be deterministic given its seed and the calls made."""

    # Whether `suggest` may take milliseconds or more (fitting a model): a server then
    # decides it off its event loop, where it would hold up every other call.
    suggest_may_be_slow = False

    def __init__(self, space: SearchSpace, seed: int):
        self.space = space
        self.seed = seed

    @abstractmethod
    def suggest(self) -> dict[str, Any] | None:
        """The next configuration, or None when the searcher has nothing left to propose."""

    def on_resources(self, r_min: int, r_max: int) -> None:
        """The study's resource range, told once by the scheduler; models over resource use it."""

    def on_report(self, trial_id: int, config: Config, resource: int, value: float) -> None:
        """A result (value already oriented so that lower is better) at `resource`."""

    def on_outcome(self, trial_id: int, config: Config, resource: int, outcome: Outcome) -> None:
        """A result of a study with several objectives or constraints.

        Searchers that learn from one number get `scalar_value(outcome)`, so
        random and local search work unchanged; model-based ones override this.
        """
        self.on_report(trial_id, config, resource, scalar_value(outcome))

    def on_trial_failed(self, trial_id: int, config: Config) -> None:
        """The trial failed; a searcher waiting for its first result stops waiting."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """JSON-serializable state from which `load_state_dict` restores the searcher exactly."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


# An infeasible result must look worse than any feasible one to a searcher that sees one number.
INFEASIBLE_OFFSET = 1e6


def scalar_value(outcome: Outcome) -> float:
    """One number for an outcome: the first objective, pushed past every feasible value when infeasible."""
    if outcome.feasible:
        return outcome.keys[0]
    return INFEASIBLE_OFFSET + outcome.violation
