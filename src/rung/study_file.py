"""What `rung create` reads: a search space file, or a study file with objectives too.

The `--space` file is either a search space ({"lr": {"type": "Float", ...}, ...},
conditions inside parameters as "condition": {"parent": ..., "equals"/"in": ...})
or a study file: {"space": {...}, "objectives": {"error": "min", "latency_ms": "min"},
"constraints": ["memory_mb <= 4000"], "reference_point": [1.0, 100]}. Flags
(`--objective error:min`, `--constraint "memory_mb <= 4000"`, `--reference-point 1,100`)
add constraints and replace the file's objectives and reference point.

A parameter may carry a user prior: {"type": "Float", "low": 1e-4, "high": 1, "log": true,
"prior": 3e-3, "confidence": "high"} (see docs/priors.md).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from rung.core.errors import InvalidArgument
from rung.core.space import SearchSpace

STUDY_KEYS = {"space", "objectives", "constraints", "reference_point"}


def parse_objective(text: str) -> tuple[str, str]:
    """'latency_ms:min' -> ('latency_ms', 'min'); a bare name is minimized."""
    name, _, mode = text.rpartition(":") if ":" in text else (text, "", "min")
    if mode not in ("min", "max") or not name:
        raise InvalidArgument(f"cannot read objective {text!r}: write NAME:min or NAME:max")
    return name, mode


def parse_reference_point(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise InvalidArgument(f"cannot read reference point {text!r}: write e.g. 1.0,250") from None


def study_options(
    data: Mapping[str, Any],
    objectives: Sequence[str] = (),
    constraints: Sequence[str] = (),
    reference_point: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments for `Client.create_study`: space, conditions, objectives, ..."""
    if not isinstance(data, Mapping):
        raise InvalidArgument("the --space file must hold a JSON object")
    is_study = "space" in data and set(data) <= STUDY_KEYS
    space = SearchSpace.from_json(data["space"] if is_study else data)
    options: dict[str, Any] = {
        "space": space.params,
        "conditions": {k: c.to_json() for k, c in space.conditions.items()},
        "constraints": [*(data.get("constraints", ()) if is_study else ()), *constraints],
    }
    if objectives:
        options["objectives"] = dict(parse_objective(o) for o in objectives)
    elif is_study and "objectives" in data:
        options["objectives"] = dict(data["objectives"])
    if reference_point:
        options["reference_point"] = parse_reference_point(reference_point)
    elif is_study and "reference_point" in data:
        options["reference_point"] = tuple(data["reference_point"])
    return options
