"""Study results as plain Python values (dataclasses with dict configs), never protobuf."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rung import wire
from rung.v1 import rung_pb2 as pb


@dataclass(frozen=True)
class Incumbent:
    """The best result at the highest resource reached (first objective, feasible first)."""

    trial_id: int
    config: dict[str, Any]
    resource: int
    value: float


@dataclass(frozen=True)
class ParetoPoint:
    """A non-dominated feasible result: its trial, config, resource and every metric."""

    trial_id: int
    config: dict[str, Any]
    resource: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class StudyInfo:
    name: str
    state: str  # running | done | stopped
    trials_started: int
    trials_running: int
    promotions: int
    resource_spent: int
    created_at: float
    incumbent: Incumbent | None
    objectives: dict[str, str]  # name -> "min" | "max"
    constraints: list[str] = field(default_factory=list)  # "memory_mb <= 4000"
    pareto_front: list[ParetoPoint] = field(default_factory=list)
    hypervolume: list[tuple[float, float]] = field(default_factory=list)  # (unix seconds, value)
    reference_point: tuple[float, ...] = ()
    # The budget now (the spec's, as steered by set_budget): max_trials, max_resource,
    # max_wall_seconds, 0 meaning unlimited; and the trials imported from elsewhere.
    budget: dict[str, float] = field(default_factory=dict)
    trials_imported: int = 0

    @property
    def has_incumbent(self) -> bool:
        return self.incumbent is not None

    @classmethod
    def from_pb(cls, msg: pb.Study) -> "StudyInfo":
        spec = wire.spec_from_pb(msg.spec)
        inc = msg.incumbent
        return cls(
            name=spec.name,
            state=pb.StudyState.Name(msg.state).removeprefix("STUDY_").lower(),
            trials_started=msg.trials_started,
            trials_running=msg.trials_running,
            promotions=msg.promotions,
            resource_spent=msg.resource_spent,
            created_at=msg.created_at,
            incumbent=Incumbent(inc.trial_id, wire.config_from_pb(inc.config), inc.resource, inc.value)
            if msg.has_incumbent else None,
            objectives={o.name: o.mode.value for o in spec.objectives},
            constraints=[str(c) for c in spec.constraints],
            pareto_front=[
                ParetoPoint(p.trial_id, wire.config_from_pb(p.config), p.resource, wire.metrics_from_pb(p.metrics))
                for p in msg.pareto_front
            ],
            hypervolume=[(h.at, h.value) for h in msg.hypervolume],
            reference_point=tuple(msg.reference_point),
            budget={
                "max_trials": msg.budget.max_trials, "max_resource": msg.budget.max_resource,
                "max_wall_seconds": msg.budget.max_wall_seconds,
            } if msg.HasField("budget") else dict(vars(spec.budget)),
            trials_imported=msg.trials_imported,
        )
