"""What every peer adapter shares: the trials the Simulator looks up and rung's incumbent rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...core.schedulers import Incumbent
from ...core.space import Categorical, FiniteRange, Float, Int, SearchSpace


@dataclass
class PeerTrial:
    """The two fields of a trial the Simulator reads."""

    config: dict[str, Any]
    bracket: int = 0


class PeerScheduler:
    """Trial records and the incumbent, measured exactly as rung's schedulers measure it.

    The incumbent is the best result at the highest resource any trial has
    reached (ties: lower trial id), over the results the adapter `_record`s, so
    regret curves of rung and of its peers come from the same rule.
    """

    def __init__(self, r_min: int, r_max: int, eta: int):
        self.r_min, self.r_max, self.eta = r_min, r_max, eta
        self.trials: dict[int, PeerTrial] = {}
        self._best: tuple[int, float, int] | None = None  # (-resource, value, trial id)

    def incumbent(self) -> Incumbent | None:
        if self._best is None:
            return None
        neg_resource, value, trial_id = self._best
        return Incumbent(trial_id, -neg_resource, value)

    def _record(self, trial_id: int, resource: int, value: float) -> None:
        candidate = (-resource, value, trial_id)
        if self._best is None or candidate < self._best:
            self._best = candidate


def domains(space: SearchSpace) -> dict[str, tuple[str, Any]]:
    """Each parameter as (kind, arguments) for a peer's own search-space vocabulary:
    ("float", (low, high, log)), ("int", (low, high, log)) or ("choice", values)."""
    out: dict[str, tuple[str, Any]] = {}
    for name, dom in space.params.items():
        if isinstance(dom, Float):
            out[name] = ("float", (float(dom.low), float(dom.high), dom.log))
        elif isinstance(dom, Int):
            out[name] = ("int", (int(dom.low), int(dom.high), dom.log))
        elif isinstance(dom, Categorical):
            out[name] = ("choice", list(dom.choices))
        elif isinstance(dom, FiniteRange):
            out[name] = ("choice", dom.values())
        else:  # a new domain type must be mapped here before peers can search it
            raise TypeError(f"parameter {name!r}: no peer mapping for {type(dom).__name__}")
    return out
