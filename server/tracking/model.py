"""What a tracking mirror writes, in one shape whether it comes from the live journal
(the mirror thread beside the service) or from ListTrials (`rung export`).

Both sources name the same things the same way: a trial's observations carry
their journal position (`seq`), resource, value, server time (`at`) and named
metrics; its segments say which were lost. So one function turns either into a
`TrialChange`, and the writers never know which source they were given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

TERMINAL = frozenset({"completed", "stopped", "failed"})


@dataclass(frozen=True)
class StudyInfo:
    """What a writer needs to know about a study before its trials."""

    name: str
    metric: str  # the first objective: the name of a report's bare value
    mode: str
    settings: dict[str, str] = field(default_factory=dict)  # the spec, flat, for a parent run

    @classmethod
    def of(cls, spec: Any) -> StudyInfo:
        """From a core StudySpec (the server's, or wire.spec_from_pb of a client's)."""
        s, b = spec.scheduler, spec.budget
        settings = {
            "scheduler": s.kind, "r_min": s.r_min, "r_max": s.r_max, "eta": s.eta,
            "brackets": s.brackets, "searcher": spec.searcher, "seed": spec.seed,
            "max_trials": b.max_trials, "max_resource": b.max_resource,
            "max_wall_seconds": b.max_wall_seconds,
            "objectives": ",".join(f"{o.name}:{o.mode.value}" for o in spec.objectives),
            "constraints": ",".join(str(c) for c in spec.constraints),
        }
        return cls(spec.name, spec.metric, spec.mode.value,
                   {k: str(v) for k, v in settings.items() if v != ""})


@dataclass(frozen=True)
class Point:
    """One report: its metrics at `resource` (the step), received at `at` (unix seconds)."""

    resource: int
    metrics: Mapping[str, float]
    at: float


@dataclass(frozen=True)
class Incumbent:
    trial_id: int
    resource: int
    value: float


@dataclass
class TrialChange:
    """What is known of a trial now; None: not known in this batch (left as written).

    `points` are in journal order; a writer skips every point whose resource is not
    above the last step it wrote for that run, which is what makes writing again
    (after a restart, a retry, a resumed segment re-reporting) harmless.
    """

    trial_id: int
    config: dict[str, Any] | None = None
    status: str | None = None
    bracket: int | None = None
    promotions: int | None = None
    failures: list[str] | None = None
    points: list[Point] = field(default_factory=list)

    def merge(self, other: TrialChange) -> None:
        """Takes what `other` knows (its points after these)."""
        for name in ("config", "status", "bracket", "promotions", "failures"):
            value = getattr(other, name)
            if value is not None:
                setattr(self, name, value)
        self.points.extend(other.points)


@dataclass
class Batch:
    """Changes of one study's trials; once written, the study is mirrored up to `seq`."""

    study: str
    seq: int
    trials: dict[int, TrialChange] = field(default_factory=dict)
    incumbent: Incumbent | None = None
    state: str | None = None  # running | done | stopped; None: not asked in this batch

    def trial(self, trial_id: int) -> TrialChange:
        change = self.trials.get(trial_id)
        if change is None:
            change = self.trials[trial_id] = TrialChange(trial_id)
        return change


def report_metrics(value: float, metrics: Mapping[str, float] | None, metric: str) -> dict[str, float]:
    """A report's named metrics; a bare value is the first objective's."""
    if metrics:
        return {k: float(v) for k, v in metrics.items()}
    return {metric: float(value)} if math.isfinite(value) else {}


def trial_change(
    trial_id: int,
    config: Mapping[str, Any],
    status: str,
    bracket: int,
    segments: Iterable[Any],
    observations: Iterable[Any],
    failures: Iterable[str],
    metric: str,
    upto_seq: int | None = None,
) -> TrialChange:
    """A trial as a server TrialView's record or a ListTrials Trial message holds it.
    Observations after `upto_seq` are left for a later batch (the mirror writes only
    what its position covers). Promotions: segments that continue one not lost."""
    segments = list(segments)
    points = [
        Point(o.resource, report_metrics(o.value, o.metrics, metric), o.at)
        for o in observations if upto_seq is None or o.seq <= upto_seq
    ]
    return TrialChange(
        trial_id, dict(config), status, bracket,
        promotions=sum(1 for before in segments[:-1] if not before.lost),
        failures=list(failures), points=points,
    )


def change_from_view(view: Any, metric: str, upto_seq: int | None = None) -> TrialChange:
    """From the service's TrialView."""
    r = view.record
    return trial_change(view.trial_id, view.config, view.status.value, view.bracket,
                        r.segments, r.observations, r.failures, metric, upto_seq)


def change_from_pb(trial: Any, metric: str) -> TrialChange:
    """From a ListTrials rung.v1.Trial."""
    from rung import wire

    status = {v: k.value for k, v in wire.TRIAL_STATUSES.items()}[trial.status]
    return trial_change(trial.id, wire.config_from_pb(trial.config), status, trial.bracket,
                        trial.segments, trial.observations, trial.failures, metric)
