"""Objectives and constraints of a study, and the outcome of one report.

A study minimizes or maximizes one or more named metrics (objectives) subject
to any number of bounds on named metrics (constraints, e.g. ``memory_mb <= 4000``).
A report carries a mapping of named metric values; `Objectives.outcome` turns it
into an `Outcome`: the objectives oriented so that lower is better, and by how
much each constraint is violated. Rankings (`rung.core.pareto`) only see outcomes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .errors import InvalidArgument
from .types import Mode, check_metric

def check_metric_name(name: Any) -> str:
    """Any non-empty string, as a study's metric always was (old journals must still load)."""
    if not isinstance(name, str) or not name:
        raise InvalidArgument(f"metric names must be non-empty strings, got {name!r}")
    return name


@dataclass(frozen=True)
class Objective:
    name: str
    mode: Mode = Mode.MIN

    def __post_init__(self) -> None:
        check_metric_name(self.name)
        object.__setattr__(self, "mode", Mode(self.mode))

    def key(self, value: float) -> float:
        """The value oriented so that lower is better."""
        return value if self.mode is Mode.MIN else -value


CONSTRAINT_OPS = ("<=", ">=")


@dataclass(frozen=True)
class Constraint:
    """`metric op bound` must hold for a result to be feasible (op is '<=' or '>=')."""

    metric: str
    op: str
    bound: float

    def __post_init__(self) -> None:
        check_metric_name(self.metric)
        if self.op not in CONSTRAINT_OPS:
            raise InvalidArgument(f"constraint on {self.metric!r}: op must be '<=' or '>=', got {self.op!r}")
        if isinstance(self.bound, bool) or not isinstance(self.bound, (int, float)) or not (
            math.isfinite(self.bound)
        ):
            raise InvalidArgument(f"constraint on {self.metric!r}: bound must be a finite number")
        object.__setattr__(self, "bound", float(self.bound))

    def slack(self, value: float) -> float:
        """How far the value is past the bound: <= 0 when the constraint holds."""
        return value - self.bound if self.op == "<=" else self.bound - value

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"

    @classmethod
    def parse(cls, text: str) -> "Constraint":
        """Reads 'memory_mb <= 4000' (as `rung create --constraint` takes it)."""
        for op in CONSTRAINT_OPS:
            metric, sep, bound = text.partition(op)
            if sep:
                try:
                    return cls(metric.strip(), op, float(bound))
                except ValueError:
                    break
        raise InvalidArgument(f"cannot read constraint {text!r}: write e.g. 'memory_mb <= 4000'")


@dataclass(frozen=True)
class Outcome:
    """One result as rankings see it: oriented objectives and constraint slacks."""

    keys: tuple[float, ...]  # one per objective, lower is better
    slacks: tuple[float, ...] = ()  # one per constraint, <= 0 when it holds

    @property
    def violation(self) -> float:
        """Total amount by which the constraints are violated (0 = feasible)."""
        return float(sum(s for s in self.slacks if s > 0))

    @property
    def feasible(self) -> bool:
        return all(s <= 0 for s in self.slacks)

    def to_json(self) -> list[list[float]]:
        return [list(self.keys), list(self.slacks)]

    @classmethod
    def from_json(cls, data: Sequence[Sequence[float]]) -> "Outcome":
        return cls(tuple(data[0]), tuple(data[1]))


@dataclass(frozen=True)
class Objectives:
    """What a study optimizes; a single objective without constraints is today's scalar study."""

    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...] = ()

    def __post_init__(self) -> None:
        if not self.objectives:
            raise InvalidArgument("a study needs at least one objective")
        names = [o.name for o in self.objectives]
        if len(set(names)) != len(names):
            raise InvalidArgument(f"objective names must be distinct, got {names}")

    @property
    def is_scalar(self) -> bool:
        """One objective and no constraints: results rank by a plain number, as before."""
        return len(self.objectives) == 1 and not self.constraints

    @property
    def metric_names(self) -> list[str]:
        """Every metric a report must carry, objectives first."""
        out = [o.name for o in self.objectives]
        out += [c.metric for c in self.constraints if c.metric not in out]
        return out

    def metrics(self, value: "float | Mapping[str, float]") -> dict[str, float]:
        """Named metric values from a report; a bare number is the single objective's value."""
        if isinstance(value, Mapping):
            out = {}
            for name, v in value.items():
                try:
                    out[check_metric_name(name)] = check_metric(v)
                except InvalidArgument as exc:
                    raise InvalidArgument(f"metric {name!r}: {exc}") from None
        elif len(self.objectives) == 1:
            out = {self.objectives[0].name: check_metric(value)}
        else:
            raise InvalidArgument(
                f"this study has objectives {[o.name for o in self.objectives]}: "
                "report a value for each by name"
            )
        missing = [m for m in self.metric_names if m not in out]
        if missing:
            raise InvalidArgument(f"report is missing metrics {missing} (got {sorted(out)})")
        return out

    def outcome(self, metrics: Mapping[str, float]) -> Outcome:
        return Outcome(
            tuple(o.key(metrics[o.name]) for o in self.objectives),
            tuple(c.slack(metrics[c.metric]) for c in self.constraints),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "objectives": [[o.name, o.mode.value] for o in self.objectives],
            "constraints": [[c.metric, c.op, c.bound] for c in self.constraints],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Objectives":
        return cls(
            tuple(Objective(n, Mode(m)) for n, m in data["objectives"]),
            tuple(Constraint(m, op, b) for m, op, b in data.get("constraints", ())),
        )
