"""Steering a study while it runs: its budget, failed trials run again, results imported.

Each change is a journaled event (`budget`, `retry`, `import`), replayed through
the scheduler like the workers' calls and kept in snapshots; stored state is
never edited. Each call is checked in full before anything is written, so a
refused call changes nothing. Each is idempotent: a call retried with its
request id gets its first answer (the ids are kept with the study, in memory
and in snapshots: steering calls are few), and the same change again is no
change: an unchanged budget, an imported trial identical to one imported
before (by configuration and results) are not journaled again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from rung.core.errors import InvalidArgument
from rung.core.schedulers.steering import check_budget_fields
from rung.core.types import Budget, Decision

from .records import Observation, record_of
from .study_calls import MAX_ID_LENGTH, _check_text, _report_values, scheduler_input
from .study_reads import StudyView
from .study_state import ServiceState, StudyState

STEERING_EVENTS = ("budget", "retry", "import")
# The lease id of an imported observation: no lease reported it (see TrialRecord).
IMPORTED = "imported"
MAX_IMPORT_TRIALS = 10_000  # per call: one event holds them all


@dataclass(frozen=True)
class ImportedResult:
    resource: int
    value: float | None = None  # a single-objective study's value, when `metrics` lacks it
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportedTrial:
    """Results measured elsewhere for one configuration; `label` names it in errors."""

    config: Mapping[str, Any]
    results: Sequence[ImportedResult]
    label: str = ""


def is_imported(observations: Sequence[Observation]) -> bool:
    return bool(observations) and observations[0].lease_id == IMPORTED


class StudySteering(ServiceState):
    """SetBudget, RetryTrials, ImportTrials; a part of StudyService (service.py)."""

    def set_budget(self, name: str, request_id: str = "", **limits: float) -> StudyView:
        """Changes the given limits (0: unlimited); the others stay as they are."""
        _check_text(request_id, "request_id", MAX_ID_LENGTH)
        check_budget_fields(limits)
        study = self._study(name)
        with self._locked(study):
            if request_id not in study.steer_requests:
                current = study.scheduler.budget
                fields = {**vars(current), **limits}
                fields["max_trials"] = int(fields["max_trials"])
                fields["max_resource"] = int(fields["max_resource"])
                fields["max_wall_seconds"] = float(fields["max_wall_seconds"])
                budget = Budget(**fields)  # refuses a budget without any limit
                if budget != current:
                    study.scheduler.check_budget(budget, self.clock())
                    payload = {"request_id": request_id, "budget": vars(budget).copy()}
                    self._append(study, "budget", payload)
                    self._apply_steering(study, study.seq, "budget", payload)
        return self._view(study)  # type: ignore[attr-defined, no-any-return]

    def retry_trials(
        self, name: str, trial_ids: Sequence[int] = (), request_id: str = ""
    ) -> list[int]:
        """Puts the failed trials `trial_ids` (none given: every failed trial) back in the
        queue; they resume first, from their last checkpoint, with a fresh attempt count."""
        _check_text(request_id, "request_id", MAX_ID_LENGTH)
        study = self._study(name)
        with self._locked(study):
            if request_id in study.steer_requests:
                return list(study.steer_requests[request_id])
            self._expire_leases(study)  # type: ignore[attr-defined]
            scheduler = study.scheduler
            ids = list(dict.fromkeys(trial_ids)) if trial_ids else scheduler.failed_trials()
            scheduler.check_retry(ids)
            if ids:
                payload = {"request_id": request_id, "trial_ids": ids}
                self._append(study, "retry", payload)
                self._apply_steering(study, study.seq, "retry", payload)
            return ids

    def import_trials(
        self, name: str, trials: Sequence[ImportedTrial], request_id: str = ""
    ) -> tuple[list[int], int]:
        """Adds the trials; returns the new trials' ids and how many were skipped as
        identical to trials imported before. Any bad trial refuses the whole call."""
        _check_text(request_id, "request_id", MAX_ID_LENGTH)
        if len(trials) > MAX_IMPORT_TRIALS:
            raise InvalidArgument(
                f"at most {MAX_IMPORT_TRIALS} trials per import, got {len(trials)}"
            )
        study = self._study(name)
        with self._locked(study):
            if request_id in study.steer_requests:
                ids, skipped = study.steer_requests[request_id]
                return list(ids), skipped
            rows, keys = [], set()
            for i, trial in enumerate(trials):
                row = _checked_row(study, trial, trial.label or f"trial {i + 1} of the import")
                if row["key"] not in study.imported_keys and row["key"] not in keys:
                    keys.add(row["key"])
                    rows.append(row)
            if not rows:
                return [], len(trials)
            first = len(study.scheduler.trials)
            for i, row in enumerate(rows):
                row["trial_id"] = first + i
            payload = {"request_id": request_id, "now": self.clock(), "trials": rows,
                       "skipped": len(trials) - len(rows)}
            self._append(study, "import", payload)
            self._apply_steering(study, study.seq, "import", payload)
            return [row["trial_id"] for row in rows], payload["skipped"]

    def _apply_steering(self, study: StudyState, seq: int, kind: str, p: dict[str, Any]) -> None:
        """Applies a steering event, live (checked) or in replay."""
        scheduler = study.scheduler
        answer: Any = None
        if kind == "budget":
            scheduler.set_budget(Budget(**p["budget"]))
        elif kind == "retry":
            scheduler.retry(p["trial_ids"])
            for trial_id in p["trial_ids"]:
                study.records[trial_id].changed = seq
            answer = list(p["trial_ids"])
        else:
            for row in p["trials"]:
                results = [(r, scheduler_input(study.spec, v, m)) for r, v, m in row["results"]]
                trial_id = scheduler.import_trial(row["config"], results)
                if trial_id != row["trial_id"]:
                    raise RuntimeError(f"import of trial {row['trial_id']} made trial {trial_id}")
                record = record_of(study.records, trial_id)
                record.observations.extend(
                    Observation(seq, r, v, p["now"], IMPORTED, Decision.CONTINUE, m)
                    for r, v, m in row["results"]
                )
                record.changed = seq
                study.imported_keys.add(row["key"])
            answer = [[row["trial_id"] for row in p["trials"]], p["skipped"]]
        if p["request_id"]:
            study.steer_requests[p["request_id"]] = answer


def _checked_row(study: StudyState, trial: ImportedTrial, label: str) -> dict[str, Any]:
    """The trial as its event holds it, checked as the scheduler will take it."""
    try:
        config = study.spec.space.validate(trial.config)
        results = []
        for r in trial.results:
            value = r.value
            if value is None and not r.metrics:
                raise InvalidArgument(
                    f"the result at resource {r.resource} has no value for metric "
                    f"{study.spec.metric!r}"
                )
            if value is None and study.spec.metric not in r.metrics and study.spec.is_scalar:
                raise InvalidArgument(
                    f"the result at resource {r.resource} is missing metric {study.spec.metric!r}"
                    f" (got {sorted(r.metrics)})"
                )
            value, metrics = _report_values(
                study.spec, float("nan") if value is None else value, r.metrics or None
            )
            results.append([r.resource, float(value), metrics])
        study.scheduler.check_import(
            config, [(res, scheduler_input(study.spec, v, m)) for res, v, m in results]
        )
    except InvalidArgument as exc:
        raise InvalidArgument(f"{label}: {exc}") from None
    key = json.dumps([config, sorted(results, key=lambda r: r[0])], sort_keys=True)
    return {"config": config, "results": results, "label": label, "key": key}
