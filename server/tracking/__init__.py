"""Experiment-tracking mirrors: TensorBoard runs and MLflow runs written from the journal.

They read the same event feed as the dashboard and WatchStudy, beside the
service and never inside a call: each remembers the journal position it has
written up to, so a restart resumes without duplicates, and a slow or absent
tracking system costs the workers nothing (feed.py). docs/tracking.md says
what is written where.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .feed import Mirror, MirrorCollector

__all__ = ["Mirror", "MirrorCollector", "Mirrors", "start_mirrors"]


class Mirrors:
    """The mirrors a server runs (possibly none)."""

    def __init__(self, mirrors: list[Mirror]):
        self.mirrors = mirrors

    def collector(self) -> MirrorCollector:
        return MirrorCollector(self.mirrors)

    def stop(self, timeout: float = 3.0) -> None:
        for mirror in self.mirrors:
            mirror.stop(timeout)


def start_mirrors(
    service: Any,
    tensorboard_dir: str | Path | None = None,
    mlflow_uri: str | None = None,
    mlflow_experiment: str | None = None,
) -> Mirrors:
    """Starts a thread per mirror asked for; each writes every study of `service`."""
    mirrors = []
    if tensorboard_dir is not None:
        from .tensorboard_writer import TensorBoardWriter

        mirrors.append(Mirror(service, TensorBoardWriter(tensorboard_dir)).start())
    if mlflow_uri is not None:
        from .mlflow_writer import MlflowWriter

        mirrors.append(Mirror(service, MlflowWriter(mlflow_uri, mlflow_experiment)).start())
    return Mirrors(mirrors)
