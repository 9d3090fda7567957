"""`rung export`: a study's trials as CSV (one row per trial) or JSON (full curves).

CSV has a column per config parameter (`config.<name>`), the last and best
reported values with their resources, and the value at each rung level the
study reached (`value@<r>`), so trials compare level by level in a
spreadsheet. JSON keeps every observation and the failure reasons.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from typing import Any, TextIO

from rung import wire
from rung.pareto_view import pareto_export
from rung.v1 import rung_pb2 as pb

FORMATS = ("csv", "json")
TRIAL_STATES = {v: k.value for k, v in wire.TRIAL_STATUSES.items()}
SUMMARY = ("last_resource", "last_value", "best_resource", "best_value")


def trial_record(trial: pb.Trial, maximize: bool) -> dict[str, Any]:
    curve = sorted((o.resource, o.value) for o in trial.observations)
    best = (max if maximize else min)(curve, key=lambda rv: rv[1], default=(None, None))
    last = curve[-1] if curve else (None, None)
    return {
        "trial_id": trial.id,
        "status": TRIAL_STATES[trial.status],
        "bracket": trial.bracket,
        "config": wire.config_from_pb(trial.config),
        "last_resource": last[0],
        "last_value": last[1],
        "best_resource": best[0],
        "best_value": best[1],
        "observations": [
            {"resource": o.resource, "value": o.value, **({"metrics": dict(o.metrics)} if o.metrics else {})}
            for o in sorted(trial.observations, key=lambda o: (o.resource, o.value))
        ],
        "failures": list(trial.failures),
    }


def study_export(study: pb.Study, trials: Sequence[pb.Trial]) -> dict[str, Any]:
    spec = study.spec
    maximize = spec.metric.mode == pb.MAX
    return {
        "study": spec.name,
        "metric": spec.metric.name,
        "mode": "max" if maximize else "min",
        # Imported trials (results measured elsewhere) ran no segment here: their resources.
        "rung_levels": sorted(
            {s.milestone for t in trials for s in t.segments}
            | {o.resource for t in trials if t.imported for o in t.observations}
        ),
        "trials": [trial_record(t, maximize) for t in sorted(trials, key=lambda t: t.id)],
        # Several objectives or constraints: the front, hypervolume curve and reference point.
        **(pareto_export(study) if spec.objectives or spec.constraints else {}),
    }


def write_json(export: dict[str, Any], out: TextIO) -> None:
    json.dump(export, out, indent=2)
    out.write("\n")


def write_csv(export: dict[str, Any], out: TextIO) -> None:
    trials = export["trials"]
    params = sorted({name for t in trials for name in t["config"]})
    levels = export["rung_levels"]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "trial_id",
            "status",
            "bracket",
            *(f"config.{p}" for p in params),
            *SUMMARY,
            *(f"value@{r}" for r in levels),
            *(["pareto_front"] if "pareto_front" in export else []),
        ]
    )
    front = {p["trial_id"] for p in export.get("pareto_front", ())}
    for t in trials:
        at = {o["resource"]: o["value"] for o in t["observations"]}
        writer.writerow(
            [
                t["trial_id"],
                t["status"],
                t["bracket"],
                *(t["config"].get(p, "") for p in params),
                *("" if t[k] is None else t[k] for k in SUMMARY),
                *(at.get(r, "") for r in levels),
                *([t["trial_id"] in front] if "pareto_front" in export else []),
            ]
        )


def write_export(study: pb.Study, trials: Sequence[pb.Trial], fmt: str, out: TextIO) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    (write_csv if fmt == "csv" else write_json)(study_export(study, trials), out)
