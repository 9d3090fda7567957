"""The dashboard's steering actions: a new budget, failed trials run again, results imported.

The handler (http_handler.py) has checked the session's token before it calls
`steer`; the service journals each change and applies it once per request id.
An import is the text of a CSV or JSON file (rung.warm_start), within the
dashboard's 64 KiB request body; `rung import` takes files of any size.
"""

from __future__ import annotations

from typing import Any, Mapping

from rung.core.errors import InvalidArgument
from rung.warm_start import parse_results

from ..service import ImportedResult, ImportedTrial, StudyService

ACTIONS = ("stop", "budget", "retry", "import")
BUDGET_FIELDS = ("max_trials", "max_resource", "max_wall_seconds")


def steer(service: StudyService, name: str, action: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """Applies one action to the study; the answer the page shows."""
    request_id = body.get("request_id", "")
    if action == "stop":
        view = service.stop_study(name)
        return {"name": view.spec.name, "state": view.state}
    if action == "budget":
        limits = {k: body[k] for k in BUDGET_FIELDS if body.get(k) is not None}
        if not limits:
            raise InvalidArgument(f"give one of {', '.join(BUDGET_FIELDS)}")
        view = service.set_budget(name, request_id, **limits)
        return {"name": name, "state": view.state, "budget": vars(view.budget).copy()}
    if action == "retry":
        ids = body.get("trial_ids", [])
        if not isinstance(ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in ids
        ):
            raise InvalidArgument("trial_ids must be a list of trial ids")
        return {"name": name, "trial_ids": service.retry_trials(name, ids, request_id)}
    text, filename = body.get("text"), body.get("filename") or "the upload"
    if not isinstance(text, str) or not isinstance(filename, str):
        raise InvalidArgument("send the file's text as 'text' (and its name as 'filename')")
    spec = service.get_study(name).spec
    rows, empty = parse_results(text, filename[:200], spec.space, spec.metric)
    trials = [
        ImportedTrial(row["config"], [ImportedResult(r, v, m) for r, v, m in row["results"]],
                      row["label"])
        for row in rows
    ]
    ids, skipped = service.import_trials(name, trials, request_id)
    return {"name": name, "trial_ids": ids, "skipped": skipped, "empty": empty}
