"""A study's definition, validated, with a JSON form for the journal."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

from .errors import InvalidArgument
from .objectives import Constraint, Objective, Objectives
from .schedulers import SCHEDULERS, Scheduler
from .searchers import SEARCHERS, make_searcher
from .space import SearchSpace
from .types import Budget, Mode

# The scheduler and searcher to start with when unsure (`rung create --recommended`,
# `create_study(**RECOMMENDED)`): in the comparison of docs/compare.md, the method that is
# most often at or below ASHA's and random search's regret across benchmarks and points of
# the budget, and far ahead of them early, where most studies are stopped.
RECOMMENDED: dict[str, str] = {"scheduler": "model_promotion", "searcher": "mfgp"}

# Study names end up in file paths (checkpoint folders): keep them boring.
STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_study_name(name: Any) -> str:
    if not isinstance(name, str) or not STUDY_NAME.fullmatch(name) or ".." in name:
        shown = name[:64] + "..." if isinstance(name, str) and len(name) > 64 else name
        raise InvalidArgument(
            f"invalid study name {shown!r}: use 1-128 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class SchedulerSettings:
    kind: str = "asha"
    r_min: int = 1
    r_max: int = 9
    eta: int = 3
    brackets: int = 0  # Hyperband: 0 = every bracket the levels allow


@dataclass(frozen=True)
class StudySpec:
    name: str
    space: SearchSpace
    metric: str = "error"
    mode: Mode = Mode.MIN
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    searcher: str = "random"
    initial_configs: tuple[Mapping[str, Any], ...] = ()
    budget: Budget = field(default_factory=lambda: Budget(max_trials=20))
    seed: int = 0
    # Several objectives: `objectives` (the first also sets metric and mode); none = (metric, mode).
    objectives: tuple[Objective, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    # Hypervolume reference point, one value per objective in its own units; () = from the results.
    reference_point: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        check_study_name(self.name)
        if self.objectives:
            object.__setattr__(self, "metric", self.objectives[0].name)
            object.__setattr__(self, "mode", self.objectives[0].mode)
        if not isinstance(self.metric, str) or not self.metric:
            raise InvalidArgument("metric name must be a non-empty string")
        object.__setattr__(self, "mode", Mode(self.mode))
        if not self.objectives:
            object.__setattr__(self, "objectives", (Objective(self.metric, self.mode),))
        object.__setattr__(self, "objectives", tuple(self.objectives))
        object.__setattr__(self, "constraints", tuple(self.constraints))
        Objectives(self.objectives, self.constraints)  # validates names
        ref = tuple(self.reference_point)
        if ref and (len(ref) != len(self.objectives) or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in ref
        )):
            raise InvalidArgument(
                f"reference_point needs one finite number per objective ({len(self.objectives)})"
            )
        object.__setattr__(self, "reference_point", tuple(float(x) for x in ref))
        if self.scheduler.kind not in SCHEDULERS:
            raise InvalidArgument(
                f"unknown scheduler {self.scheduler.kind!r}; known: {', '.join(sorted(SCHEDULERS))}"
            )
        if self.searcher not in SEARCHERS:
            raise InvalidArgument(
                f"unknown searcher {self.searcher!r}; known: {', '.join(sorted(SEARCHERS))}"
            )
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            raise InvalidArgument("seed must be an integer in [0, 2**63)")
        object.__setattr__(
            self, "initial_configs", tuple(self.space.validate(c) for c in self.initial_configs)
        )
        self.build_scheduler()  # validates r_min, r_max, eta and brackets

    @cached_property
    def goals(self) -> Objectives:
        """The objectives and constraints together (asked for on every Report)."""
        return Objectives(self.objectives, self.constraints)

    @property
    def is_scalar(self) -> bool:
        """One objective and no constraints: a study as rung had before several objectives."""
        return self.goals.is_scalar

    def build_scheduler(self) -> Scheduler:
        """A fresh scheduler; the same spec always builds the same one."""
        s = self.scheduler
        searcher = make_searcher(self.searcher, self.space, self.seed, self.initial_configs)
        cls = SCHEDULERS[s.kind]
        extra = {} if self.is_scalar else {"objectives": self.goals}
        return cls(
            searcher, self.mode, s.r_min, s.r_max, s.eta, self.budget, self.seed, s.brackets,
            **extra,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "space": self.space.to_json(),
            "metric": self.metric,
            "mode": self.mode.value,
            "scheduler": vars(self.scheduler).copy(),
            "searcher": self.searcher,
            "initial_configs": [dict(c) for c in self.initial_configs],
            "budget": vars(self.budget).copy(),
            "seed": self.seed,
            # Only when set, so a scalar study's JSON (and old journals) stay as they were.
            **({} if self.is_scalar else self.goals.to_json()),
            **({"reference_point": list(self.reference_point)} if self.reference_point else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "StudySpec":
        goals = Objectives.from_json(data) if "objectives" in data else None
        return cls(
            name=data["name"],
            space=SearchSpace.from_json(data["space"]),
            metric=data["metric"],
            mode=Mode(data["mode"]),
            scheduler=SchedulerSettings(**data["scheduler"]),
            searcher=data["searcher"],
            initial_configs=tuple(data["initial_configs"]),
            budget=Budget(**data["budget"]),
            seed=data["seed"],
            objectives=goals.objectives if goals else (),
            constraints=goals.constraints if goals else (),
            reference_point=tuple(data.get("reference_point", ())),
        )
