"""The results of a study with several objectives: its Pareto front and hypervolume over time.

Pure functions of the reported observations, shared by the service (GetStudy),
export, status, plots and the Python API.

- The front: the non-dominated *feasible* results at the highest resource any
  trial has reached (where the incumbent of a one-objective study is judged).
  A trial counts with its latest report at that resource.
- The hypervolume over time: after each report that changes it, the volume the
  front of that moment dominates, bounded by the reference point. When a trial
  first reaches a higher resource the front restarts there, so the curve can drop.
- The reference point: the study's own (`reference_point`, in the objectives'
  units), or else, per objective, the worst feasible value reported at any
  resource plus a tenth of the range (plus 1 when every value is the same).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .objectives import Objectives
from .pareto import hypervolume, pareto_front


@dataclass(frozen=True)
class MetricsReport:
    """One reported result, as the service records it."""

    seq: int
    at: float
    trial_id: int
    resource: int
    metrics: Mapping[str, float]


@dataclass(frozen=True)
class FrontPoint:
    trial_id: int
    resource: int
    metrics: Mapping[str, float]


@dataclass(frozen=True)
class ParetoSummary:
    front: list[FrontPoint] = field(default_factory=list)
    hypervolume: list[tuple[int, float, float]] = field(default_factory=list)  # (seq, at, value)
    reference_point: tuple[float, ...] = ()  # in the objectives' own units


def reference_point(goals: Objectives, reports: Sequence[MetricsReport], given: Sequence[float]) -> np.ndarray | None:
    """The reference point oriented like the keys (lower is better), or None without feasible data."""
    if given:
        return np.array([o.key(v) for o, v in zip(goals.objectives, given)])
    keys = [
        out.keys for out in (goals.outcome(r.metrics) for r in reports) if out.feasible
    ]
    if not keys:
        return None
    k = np.array(keys, dtype=float)
    span = k.max(axis=0) - k.min(axis=0)
    return k.max(axis=0) + np.where(span > 0, 0.1 * span, 1.0)


def _dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool((a <= b).all() and (a < b).any())


class _TopFront:
    """The front at the highest resource so far, kept up to date report by report.

    A new result only meets the current front (O(front) work): it joins unless a
    member dominates it, and evicts the members it dominates. A trial that
    reports again at the same resource (a resumed job) rebuilds the front.
    """

    def __init__(self, goals: Objectives):
        self.goals = goals
        self.top = -1
        self.latest: dict[int, MetricsReport] = {}  # trial -> latest feasible report at `top`
        self.front: dict[int, np.ndarray] = {}  # trial -> keys, for the front's members

    def add(self, r: MetricsReport) -> bool:
        """Takes a report; True when the front changed."""
        if r.resource < self.top:
            return False
        risen = r.resource > self.top
        if risen:
            self.top, self.latest, self.front = r.resource, {}, {}
        outcome = self.goals.outcome(r.metrics)
        again = r.trial_id in self.latest
        if outcome.feasible:
            self.latest[r.trial_id] = r
        else:
            self.latest.pop(r.trial_id, None)
        if again:
            return self._rebuild()
        if not outcome.feasible:
            return risen
        keys = np.array(outcome.keys)
        if any(_dominates(k, keys) for k in self.front.values()):
            return risen
        self.front = {t: k for t, k in self.front.items() if not _dominates(keys, k)}
        self.front[r.trial_id] = keys
        return True

    def _rebuild(self) -> bool:
        trials = list(self.latest)
        keys = np.array([self.goals.outcome(self.latest[t].metrics).keys for t in trials])
        keys = keys.reshape(len(trials), len(self.goals.objectives))
        self.front = {trials[i]: keys[i] for i in pareto_front(keys)}
        return True


def summarize(
    goals: Objectives, reports: Sequence[MetricsReport], given_reference: Sequence[float] = ()
) -> ParetoSummary:
    reports = sorted(reports, key=lambda r: r.seq)
    ref = reference_point(goals, reports, given_reference)
    if ref is None:
        return ParetoSummary()
    state = _TopFront(goals)
    curve: list[tuple[int, float, float]] = []
    for r in reports:
        if not state.add(r):
            continue
        keys = np.array(list(state.front.values())).reshape(-1, len(goals.objectives))
        value = hypervolume(keys, ref)
        if not curve or curve[-1][2] != value:
            curve.append((r.seq, r.at, value))
    members = sorted(state.front)
    return ParetoSummary(
        front=[FrontPoint(t, state.latest[t].resource, dict(state.latest[t].metrics)) for t in members],
        hypervolume=curve,
        reference_point=tuple(float(o.key(float(v))) for o, v in zip(goals.objectives, ref)),
    )
