"""Text and plain values of a study's Pareto front, for `rung status` and `rung export`."""

from __future__ import annotations

from typing import Any

from rung import wire
from rung.v1 import rung_pb2 as pb

OPS = {v: k for k, v in wire.CONSTRAINT_OPS.items()}


def goals_text(spec: pb.StudySpec) -> str:
    """'error (min), latency_ms (min) subject to memory_mb <= 500'."""
    parts = [f"{o.name} ({'max' if o.mode == pb.MAX else 'min'})" for o in spec.objectives]
    text = ", ".join(parts) or spec.metric.name
    if spec.constraints:
        text += " subject to " + ", ".join(f"{c.metric} {OPS[c.op]} {c.bound:g}" for c in spec.constraints)
    return text


def pareto_export(study: pb.Study) -> dict[str, Any]:
    """The front, hypervolume curve and reference point as JSON-ready values."""
    return {
        "objectives": [
            {"name": o.name, "mode": "max" if o.mode == pb.MAX else "min"} for o in study.spec.objectives
        ],
        "constraints": [
            {"metric": c.metric, "op": OPS[c.op], "bound": c.bound} for c in study.spec.constraints
        ],
        "reference_point": list(study.reference_point),
        "pareto_front": [
            {
                "trial_id": p.trial_id,
                "resource": p.resource,
                "config": wire.config_from_pb(p.config),
                "metrics": wire.metrics_from_pb(p.metrics),
            }
            for p in study.pareto_front
        ],
        "hypervolume": [{"seq": h.seq, "at": h.at, "value": h.value} for h in study.hypervolume],
    }


def pareto_lines(study: pb.Study, limit: int = 10) -> list[str]:
    """`rung status` lines: the goals, the front (best first objective first), the hypervolume."""
    spec = study.spec
    if not spec.objectives and not spec.constraints:
        return []
    lines = [f"  objectives: {goals_text(spec)}"]
    front = sorted(study.pareto_front, key=lambda p: list(p.metrics.values()))
    names = [o.name for o in spec.objectives] or [spec.metric.name]
    lines.append(f"  pareto front: {len(front)} feasible trials at r={front[0].resource}" if front
                 else "  pareto front: no feasible result yet")
    for p in front[:limit]:
        values = ", ".join(f"{n}={p.metrics[n]:.4g}" for n in names)
        lines.append(f"    trial {p.trial_id}: {values}")
    if len(front) > limit:
        lines.append(f"    ... and {len(front) - limit} more")
    if study.hypervolume:
        ref = ", ".join(f"{v:.4g}" for v in study.reference_point)
        lines.append(f"  hypervolume: {study.hypervolume[-1].value:.4g} (reference point {ref})")
    return lines
