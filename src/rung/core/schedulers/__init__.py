"""Schedulers by name, as studies select them."""

from __future__ import annotations

from .asha import ASHA, AsyncHyperband
from .base import Incumbent, Scheduler, TrialState
from .fifo import FIFO
from .model_promotion import ModelPromotion
from .stopping import StoppingASHA
from .sync import SyncHyperband, SyncSuccessiveHalving

SCHEDULERS: dict[str, type[Scheduler]] = {
    "asha": ASHA,
    "hyperband": AsyncHyperband,
    "fifo": FIFO,
    "sh": SyncSuccessiveHalving,
    "sync_hyperband": SyncHyperband,
    "asha_stopping": StoppingASHA,
    "model_promotion": ModelPromotion,
}

__all__ = [
    "ASHA",
    "AsyncHyperband",
    "FIFO",
    "Incumbent",
    "ModelPromotion",
    "SCHEDULERS",
    "Scheduler",
    "StoppingASHA",
    "SyncHyperband",
    "SyncSuccessiveHalving",
    "TrialState",
]
