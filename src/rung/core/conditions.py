"""Conditional parameters: a parameter that exists only for some values of another.

`momentum` only when `optimizer` is "sgd", `units_3` only when `layers` is 3 or
4: a `Condition(parent, values)` holds when the parent is itself active and its
value is one of `values` (equality is membership in one value). Conditions nest
to any depth. An inactive parameter is absent from the configuration.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import InvalidArgument
from .types import ConfigValue


def same_value(a: Any, b: Any) -> bool:
    """Equality that keeps True apart from 1, as the domains do."""
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class Condition:
    parent: str
    values: tuple[ConfigValue, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.parent, str) or not self.parent:
            raise InvalidArgument(f"a condition's parent must be a parameter name, got {self.parent!r}")
        if not isinstance(self.values, tuple) or not self.values:
            raise InvalidArgument(f"a condition on {self.parent!r} needs at least one value")

    @classmethod
    def equals(cls, parent: str, value: ConfigValue) -> "Condition":
        return cls(parent, (value,))

    @classmethod
    def within(cls, parent: str, values: Any) -> "Condition":
        return cls(parent, tuple(values))

    def holds(self, parent_value: Any) -> bool:
        return any(same_value(parent_value, v) for v in self.values)

    def to_json(self) -> dict[str, Any]:
        if len(self.values) == 1:
            return {"parent": self.parent, "equals": self.values[0]}
        return {"parent": self.parent, "in": list(self.values)}

    @classmethod
    def from_json(cls, data: Any) -> "Condition":
        """Reads {"parent": p, "equals": v} or {"parent": p, "in": [v, ...]}."""
        if isinstance(data, Condition):
            return data
        if not isinstance(data, Mapping) or set(data) not in ({"parent", "equals"}, {"parent", "in"}):
            raise InvalidArgument(
                f"cannot read condition {data!r}: write {{\"parent\": NAME, \"equals\": VALUE}} "
                "or {\"parent\": NAME, \"in\": [VALUES]}"
            )
        if "equals" in data:
            return cls.equals(data["parent"], data["equals"])
        if not isinstance(data["in"], (list, tuple)):
            raise InvalidArgument(f"condition on {data['parent']!r}: 'in' takes a list of values")
        return cls.within(data["parent"], data["in"])


def check_conditions(domains: Mapping[str, Any], conditions: Mapping[str, Condition]) -> list[str]:
    """Validates conditions against the domains; returns the names parents-first.

    Refuses an unknown child or parent, a cycle (a parameter conditioned on
    itself, directly or through others) and a value outside the parent's domain.
    The values are returned in their parent's canonical types by `canonical`.
    """
    graph: dict[str, set[str]] = {name: set() for name in domains}
    for child, cond in conditions.items():
        if child not in domains:
            raise InvalidArgument(f"condition on unknown parameter {child!r}")
        if cond.parent not in domains:
            raise InvalidArgument(
                f"parameter {child!r}: its condition names unknown parent {cond.parent!r}"
            )
        graph[child].add(cond.parent)
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise InvalidArgument(f"conditions form a cycle: {' -> '.join(exc.args[1])}") from None


def canonical(child: str, cond: Condition, parent_domain: Any) -> Condition:
    """The condition with its values checked against, and typed as, the parent's domain."""
    values = []
    for v in cond.values:
        try:
            values.append(parent_domain.validate(v))
        except InvalidArgument as exc:
            raise InvalidArgument(
                f"parameter {child!r}: condition value {v!r} is outside the domain of "
                f"{cond.parent!r} ({exc})"
            ) from None
    return Condition(cond.parent, tuple(values))
