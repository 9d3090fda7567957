"""Results measured elsewhere, read from a file for `rung import` (ImportTrials).

Two formats, told apart by the file's first character:

JSON (`rung export --format json` writes it): an object with "trials", or a list
of trials. A trial is {"config": {...}, "observations": [{"resource": 9,
"value": 0.21, "metrics": {...}}, ...]}; a trial of one result may say
"resource" with "value" or "metrics" itself. A trial whose "observations" are
empty (one an export lists before it reported) is skipped.

CSV (`rung export` writes it): a header, then one trial a row. `config.<name>`
columns hold the parameters (an empty cell: the parameter is absent, as in a
conditional space); `value@<r>` cells the study's metric at resource r,
`<metric>@<r>` a named metric (several objectives or constraints); or, for
one result a row, `resource` with `value` or `<metric>` columns. Other columns
(trial_id, status, last_value, ...) are ignored; a row without any result is
skipped. Cells are read as the study's search space types them.

Rows are named in errors as "FILE row N" (N counts the header as row 1) or
"FILE trial N", and the server names them so when it refuses one.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Iterable, Mapping

from rung import wire
from rung.core.errors import InvalidArgument
from rung.core.space import Categorical, FiniteRange, Float, Int, SearchSpace
from rung.v1 import rung_pb2 as pb

Row = dict[str, Any]  # {"config": {...}, "results": [(resource, value | None, metrics)], "label"}


def read_results(path: str | Path, space: SearchSpace, metric: str) -> tuple[list[Row], int]:
    """The file's trials and how many it skipped as holding no result."""
    return parse_results(Path(path).read_text(), str(path), space, metric)


def parse_results(text: str, name: str, space: SearchSpace, metric: str) -> tuple[list[Row], int]:
    """`read_results` of a file's text; `name` names it in errors."""
    if text.lstrip()[:1] in ("{", "["):
        return _from_json(json.loads(text), name)
    return _from_csv(text, name, space, metric)


def to_pb(rows: Iterable[Row]) -> list[pb.ImportedTrial]:
    return [
        pb.ImportedTrial(
            config=wire.config_to_pb(row["config"]),
            results=[
                pb.ImportedResult(resource=r, metrics=m, **({} if v is None else {"value": v}))
                for r, v, m in row["results"]
            ],
            label=row["label"],
        )
        for row in rows
    ]


def _from_json(data: Any, name: str) -> tuple[list[Row], int]:
    trials = data.get("trials") if isinstance(data, dict) else data
    if not isinstance(trials, list):
        raise InvalidArgument(f"{name}: expected a list of trials, or an object with 'trials'")
    rows, skipped = [], 0
    for i, trial in enumerate(trials, 1):
        label = f"{name} trial {i}"
        if not isinstance(trial, dict) or not isinstance(trial.get("config"), dict):
            raise InvalidArgument(f"{label}: a trial is an object with a 'config' object")
        observations = trial.get("observations")
        if observations is None:
            observations = [trial] if "resource" in trial else []
        elif not observations:
            skipped += 1
            continue
        results: dict[int, Any] = {}  # by resource: a resumed trial reports one again
        for o in observations:
            if not isinstance(o, dict):
                raise InvalidArgument(f"{label}: an observation is an object with 'resource'")
            resource = _number(o.get("resource"), label, "resource")
            value = o.get("value")
            metrics = o.get("metrics") or {}
            if value is not None and not isinstance(value, (int, float)):
                raise InvalidArgument(f"{label}: value {value!r} is not a number")
            results[int(resource)] = (int(resource), None if value is None else float(value),
                                      {k: _number(v, label, k) for k, v in metrics.items()})
        rows.append({"config": dict(trial["config"]), "results": list(results.values()),
                     "label": label})
    return rows, skipped


def _from_csv(text: str, name: str, space: SearchSpace, metric: str) -> tuple[list[Row], int]:
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    if not any(c.startswith("config.") for c in columns):
        raise InvalidArgument(f"{name}: no config.<parameter> columns in the header")
    rows, skipped = [], 0
    for n, cells in enumerate(reader, 2):
        label = f"{name} row {n}"
        config = {
            c[len("config."):]: _cell(space, c[len("config."):], v, label)
            for c, v in cells.items() if c and c.startswith("config.") and v not in ("", None)
        }
        results = _row_results(cells, label, metric)
        if not results:
            skipped += 1
            continue
        rows.append({"config": config, "results": results, "label": label})
    return rows, skipped


def _row_results(cells: Mapping[str, str], label: str, metric: str) -> list[Any]:
    at: dict[int, dict[str, float]] = {}
    for column, cell in cells.items():
        if not column or "@" not in column or cell in ("", None):
            continue
        what, _, resource = column.rpartition("@")
        level = int(_number(resource, label, column))
        at.setdefault(level, {})[what] = _number(cell, label, column)
    if "resource" in cells and cells["resource"] not in ("", None):
        named = {
            c: _number(v, label, c) for c, v in cells.items()
            if c in ("value", metric) or (c and c.startswith("metric."))
            if v not in ("", None)
        }
        at.setdefault(int(_number(cells["resource"], label, "resource")), {}).update(
            {k.removeprefix("metric."): v for k, v in named.items()}
        )
    results = []
    for resource, values in sorted(at.items()):
        value = values.pop("value", None)
        results.append((resource, value, values))
    return results


def _number(value: Any, label: str, what: str) -> float:
    if isinstance(value, bool):
        raise InvalidArgument(f"{label}: {what} {value!r} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{label}: {what} {value!r} is not a number") from None


def _cell(space: SearchSpace, param: str, cell: str, label: str) -> Any:
    """The cell as the parameter's type: the server checks it lies in the space."""
    dom = space.params.get(param)
    if dom is None or isinstance(dom, Categorical):
        choices = dom.choices if dom is not None else ()
        return next((c for c in choices if str(c) == cell), cell)
    number = _number(cell, label, f"config.{param}")
    if isinstance(dom, Int) or (isinstance(dom, FiniteRange) and dom.cast_int):
        return int(number) if number.is_integer() else number
    if isinstance(dom, (Float, FiniteRange)):
        return number
    return cell
