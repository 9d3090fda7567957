"""Values exchanged between the core and the layers above it."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Mapping, Union

from .errors import InvalidArgument

ConfigValue = Union[float, int, str, bool]
Config = Mapping[str, ConfigValue]


class Mode(str, enum.Enum):
    MIN = "min"
    MAX = "max"


class JobKind(str, enum.Enum):
    START = "start"
    RESUME = "resume"
    WAIT = "wait"
    DONE = "done"


class Decision(str, enum.Enum):
    CONTINUE = "continue"
    PAUSE = "pause"
    STOP = "stop"


class TrialStatus(str, enum.Enum):
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True)
class Job:
    """What a worker should run next; promotion *is* a resume, expressed as a value."""

    kind: JobKind
    trial_id: int = -1
    config: Config | None = None
    resume_from: int = 0
    milestone: int = 0
    retry_after: float = 0.0  # seconds, for WAIT

    @classmethod
    def wait(cls, seconds: float = 1.0) -> "Job":
        return cls(JobKind.WAIT, retry_after=seconds)

    @classmethod
    def done(cls) -> "Job":
        return cls(JobKind.DONE)


@dataclass(frozen=True)
class Budget:
    """Limits of a study; 0 means unlimited, but at least one limit must be set."""

    max_trials: int = 0
    max_resource: int = 0
    max_wall_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.max_trials < 0 or self.max_resource < 0 or not self.max_wall_seconds >= 0:
            raise InvalidArgument("budget limits must be >= 0")
        if math.isinf(self.max_wall_seconds):
            raise InvalidArgument("budget max_wall_seconds must be finite")
        if not (self.max_trials or self.max_resource or self.max_wall_seconds):
            raise InvalidArgument(
                "a study needs a budget: set max_trials, max_resource or max_wall_seconds"
            )


def check_metric(value: float) -> float:
    """Rejects NaN and infinite metrics: they cannot be ranked within a rung."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument(f"metric must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise InvalidArgument(
            f"metric must be finite, got {value}; report the trial as failed instead"
        )
    return float(value)
