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


def summarize(
    goals: Objectives, reports: Sequence[MetricsReport], given_reference: Sequence[float] = ()
) -> ParetoSummary:
    reports = sorted(reports, key=lambda r: r.seq)
    ref = reference_point(goals, reports, given_reference)
    if ref is None:
        return ParetoSummary()
    top = -1
    at_top: dict[int, MetricsReport] = {}  # trial -> latest feasible report at the top resource
    curve: list[tuple[int, float, float]] = []
    front: list[int] = []
    for r in reports:
        if r.resource < top:
            continue
        if r.resource > top:
            top, at_top, front = r.resource, {}, []
        if not goals.outcome(r.metrics).feasible:
            at_top.pop(r.trial_id, None)
        else:
            at_top[r.trial_id] = r
        trials = list(at_top)
        keys = np.array([goals.outcome(at_top[t].metrics).keys for t in trials]).reshape(
            len(trials), len(goals.objectives)
        )
        front = [trials[i] for i in pareto_front(keys)]
        value = hypervolume(keys, ref) if len(trials) else 0.0
        if not curve or curve[-1][2] != value:
            curve.append((r.seq, r.at, value))
    return ParetoSummary(
        front=[FrontPoint(t, at_top[t].resource, dict(at_top[t].metrics)) for t in front],
        hypervolume=curve,
        reference_point=tuple(float(o.key(float(v))) for o, v in zip(goals.objectives, ref)),
    )
