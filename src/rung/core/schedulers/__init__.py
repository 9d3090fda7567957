"""Schedulers by name, as studies select them."""

from __future__ import annotations

from .asha import ASHA, AsyncHyperband
from .base import Incumbent, Scheduler, TrialState

SCHEDULERS: dict[str, type[Scheduler]] = {
    "asha": ASHA,
    "hyperband": AsyncHyperband,
}

__all__ = ["ASHA", "AsyncHyperband", "Incumbent", "SCHEDULERS", "Scheduler", "TrialState"]
