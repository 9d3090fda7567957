"""A study as the study list shows it: its row, its budget's progress, its goals and rung levels."""

from __future__ import annotations

from typing import Any

from rung.core.rungs import bracket_levels, rung_levels
from rung.core.study import StudySpec

from ..service import StudyService, StudyView


def levels_of(spec: StudySpec) -> list[list[int]]:
    """Rung levels of each bracket the study's scheduler can use."""
    s = spec.scheduler
    if s.kind in ("hyperband", "sync_hyperband"):
        return bracket_levels(s.r_min, s.r_max, s.eta, s.brackets)
    return [rung_levels(s.r_min, s.r_max, s.eta)]


def budget_progress(view: StudyView, now: float) -> float:
    """The fraction of the budget spent: the largest over the limits that are set."""
    b = view.budget or view.spec.budget  # as steered
    parts = []
    if b.max_trials:
        parts.append(view.trials_started / b.max_trials)
    if b.max_resource:
        parts.append(view.resource_spent / b.max_resource)
    if b.max_wall_seconds:
        parts.append((now - view.created_at) / b.max_wall_seconds)
    done = 1.0 if view.state != "running" else 0.0
    return round(min(1.0, max([done, *parts])), 4)


def study_row(view: StudyView, now: float) -> dict[str, Any]:
    """One study as the study list shows it."""
    spec = view.spec
    inc = view.incumbent
    return {
        "name": spec.name,
        "scheduler": spec.scheduler.kind,
        "searcher": spec.searcher,
        "state": view.state,
        "metric": spec.metric,
        "mode": spec.mode.value,
        "trials_started": view.trials_started,
        "trials_running": view.trials_running,
        "promotions": view.promotions,
        "resource_spent": view.resource_spent,
        "best": (
            {"value": inc.value, "trial_id": inc.trial_id, "resource": inc.resource}
            if inc else None
        ),
        "budget": vars(view.budget or spec.budget).copy(),
        "trials_imported": view.trials_imported,
        "progress": budget_progress(view, now),
        "created_at": view.created_at,
    }


def goals_json(spec: StudySpec) -> dict[str, Any]:
    """What the study optimizes: its objectives, constraints and whether it is multi-objective."""
    return {
        "multi_objective": not spec.is_scalar,
        "objectives": [{"name": o.name, "mode": o.mode.value} for o in spec.objectives],
        "constraints": [
            {"metric": c.metric, "op": c.op, "bound": c.bound} for c in spec.constraints
        ],
    }


def study_list(service: StudyService, now: float) -> list[dict[str, Any]]:
    return [study_row(v, now) for v in service.list_studies()]
