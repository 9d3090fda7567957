"""`rung plot` for studies with several objectives: the Pareto front and the hypervolume curve."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .plots import _save  # noqa: E402


def plot_front(study: Any, trials: Sequence[Any], path: Path) -> Path:
    """The first two objectives of every result at the front's resource; the front highlighted."""
    names = [o.name for o in study.spec.objectives] or [study.spec.metric.name]
    x_name, y_name = names[0], names[1] if len(names) > 1 else names[0]
    level = study.pareto_front[0].resource if study.pareto_front else None
    others = [
        (o.metrics[x_name], o.metrics[y_name])
        for t in trials for o in t.observations
        if o.resource == level and x_name in o.metrics and y_name in o.metrics
    ]
    front = sorted((p.metrics[x_name], p.metrics[y_name]) for p in study.pareto_front)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    if others:
        ax.scatter(*zip(*others), s=12, color="0.7", label=f"results at r={level}")
    if front:
        ax.plot(*zip(*front), "o-", drawstyle="steps-post", color="C3", label="Pareto front (feasible)")
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    ax.set_title(f"study {study.spec.name}: Pareto front")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_hypervolume(study: Any, path: Path) -> Path:
    """Hypervolume against time since the study was created."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    points = [(h.at - study.created_at, h.value) for h in study.hypervolume]
    if points:
        ax.step(*zip(*points), where="post")
    ref = ", ".join(f"{v:.4g}" for v in study.reference_point)
    ax.set_xlabel("seconds since the study was created")
    ax.set_ylabel("hypervolume")
    ax.set_title(f"study {study.spec.name}: hypervolume (reference point {ref})")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)
