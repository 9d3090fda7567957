"""The dashboard's view model: what its pages show, computed from a service snapshot.

One `StudyModel` is built from one `StudySnapshot` (a consistent copy of a
study at a journal position) and answers every page's question from memory:
the trial table (sorted, filtered, paged on the server), the any-time curves,
learning curves, the rung view, running jobs, parallel coordinates, parameter
importance and, for studies with several objectives or constraints, the Pareto
front and hypervolume curve. `ModelCache` keeps one model per study and
rebuilds it only when the study's journal position moved, so a page that polls
an idle 100,000-trial study costs a dictionary lookup.

Definitions (docs/dashboard.md):
- a *rung result* is an observation at a rung level of the trial's bracket;
- a result at level L was *promoted* when the trial went on past L (a later
  segment resumed from L or above, or it reported beyond L);
- the *incumbent* is the best result at the highest resource reached, the rule
  the schedulers use.

The parts: studies.py (a study's row in the list), table.py (the trial table's
ordering), charts.py (every chart); this module keeps the model and its cache.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterable

from rung.core.study import StudySpec
from rung.core.types import Mode, TrialStatus

from ..service import StudyService, StudySnapshot, StudyView, TrialView
from .charts import MAX_CURVES, MAX_PARALLEL, MAX_RUNG_POINTS, ChartData
from .studies import budget_progress, goals_json, levels_of, study_list, study_row
from .table import SORT_KEYS, STATUSES, TrialTable

__all__ = [
    "CHART_REUSE", "MAX_CURVES", "MAX_PAGE", "MAX_PARALLEL", "MAX_RUNG_POINTS", "SORT_KEYS",
    "STATUSES", "ChartData", "ModelCache", "StudyModel", "TrialTable", "budget_progress",
    "goals_json", "levels_of", "study_list", "study_row",
]

MAX_PAGE = 500
CHART_REUSE = 10.0  # a chart is reused until it is this many times its compute time old


def _trial_json(t: TrialView) -> dict[str, Any]:
    last = max(t.record.observations, key=lambda o: (o.resource, o.seq), default=None)
    return {
        "id": t.trial_id, "status": t.status.value, "bracket": t.bracket,
        "resource": last.resource if last else 0, "value": last.value if last else None,
        "observations": len(t.record.observations), "config": t.config,
    }


class StudyModel:
    """What the study pages show, kept up to date trial by trial from the service.

    Read it under `lock` (ModelCache does). Charts summarise every trial, so they
    are computed from a `ChartData` outside the lock, and a chart is reused until
    it is older than CHART_REUSE times what it took to compute (its payload says
    which journal position it shows): however fast reports arrive, each chart
    keeps at most 1/(1 + CHART_REUSE) of a core busy, and none holds up the
    summary or the table.
    """

    def __init__(self, spec: StudySpec):
        self.spec = spec
        self.seq = 0
        self.view: StudyView | None = None
        self.sign = 1.0 if spec.mode is Mode.MIN else -1.0
        self.levels = levels_of(spec)
        self.trials: dict[int, TrialView] = {}
        self.running_ids: set[int] = set()
        self.table = TrialTable(spec)
        self.charts: dict[str, tuple[Any, float, float, dict[str, Any]]] = {}
        self._chart_data: ChartData | None = None
        self.lock = threading.Lock()
        self.chart_lock = threading.Lock()  # one chart computation per study at a time

    def apply(self, snap: StudySnapshot) -> None:
        """Takes in a snapshot: every trial (complete) or the ones changed since self.seq."""
        if snap.complete:
            self.trials, self.running_ids = {}, set()
            self.table = TrialTable(self.spec)
            self.charts.clear()
        self.seq, self.view = snap.seq, snap.view
        for t in snap.trials:
            self.trials[t.trial_id] = t
            self.table.update(t)
            if t.status is TrialStatus.RUNNING:
                self.running_ids.add(t.trial_id)
            else:
                self.running_ids.discard(t.trial_id)
        self.table.changed()

    def fresh_chart(self, name: str, variant: Any, now: float) -> dict[str, Any] | None:
        cached = self.charts.get(name)
        if cached is None:
            return None
        cached_variant, computed_at, cost, payload = cached
        fresh = payload["seq"] == self.seq or now - computed_at < CHART_REUSE * cost
        return payload if cached_variant == variant and fresh else None

    def chart_data(self) -> ChartData:
        if self._chart_data is None or self._chart_data.seq != self.seq:
            assert self.view is not None
            self._chart_data = ChartData(
                self.seq, self.view, self.spec, self.sign, self.levels, list(self.trials.values())
            )
        return self._chart_data


    def summary(self, now: float) -> dict[str, Any]:
        assert self.view is not None
        return {
            **study_row(self.view, now),
            "seq": self.seq,
            "space": self.spec.space.to_json(),
            "scheduler_settings": vars(self.spec.scheduler).copy(),
            "levels": self.levels,
            "incumbent_config": self.view.incumbent_config,
            "statuses": self.table.status_counts(),
            **goals_json(self.spec),
        }

    def pareto(self) -> dict[str, Any]:
        """The Pareto front (feasible results only) and the hypervolume over time.

        The service computes both with every view of a study with several
        objectives or constraints (`rung.core.results.summarize`, docs/multiobjective.md),
        so this only reshapes them; a single-objective study has none (nulls).
        """
        assert self.view is not None
        summary = self.view.pareto
        payload: dict[str, Any] = {
            "seq": self.seq, **goals_json(self.spec),
            "front": None, "hypervolume": None, "reference_point": None,
        }
        if summary is None:
            return payload
        configs = self.view.trial_configs
        payload["front"] = [
            {"trial_id": p.trial_id, "resource": p.resource, "config": configs[p.trial_id],
             "metrics": dict(p.metrics)}
            for p in summary.front
        ]
        payload["hypervolume"] = [
            [round(at - self.view.created_at, 3), value, seq]
            for seq, at, value in summary.hypervolume
        ]
        payload["reference_point"] = list(summary.reference_point) or None
        return payload


    def page(
        self, offset: int, limit: int, sort: str, descending: bool, status: str, query: str
    ) -> dict[str, Any]:
        ids = self.table.order(sort, descending, status, query)
        limit = max(1, min(limit, MAX_PAGE))
        offset = max(0, offset)
        return {
            "seq": self.seq, "total": len(ids), "offset": offset, "limit": limit,
            "sort": sort, "order": "desc" if descending else "asc",
            "params": self.table.params,
            "rows": [_trial_json(self.trials[int(i)]) for i in ids[offset: offset + limit]],
        }

    def running(self, deadlines: dict[int, float], now: float) -> dict[str, Any]:
        """Running jobs: worker, segment, epoch reached, and time left on the lease."""
        jobs = []
        for trial_id in sorted(self.running_ids):
            t = self.trials[trial_id]
            if not t.record.segments:
                continue
            seg = t.record.segments[-1]
            reported = [o.resource for o in t.record.observations if o.seq > seg.seq]
            deadline = deadlines.get(trial_id)
            jobs.append({
                "trial_id": trial_id, "worker_id": seg.worker_id,
                "resume_from": seg.resume_from, "milestone": seg.milestone,
                "epoch": max(reported, default=seg.resume_from),
                "lease_seconds_left": round(deadline - now, 1) if deadline else None,
                "config": t.config,
            })
        return {"seq": self.seq, "jobs": jobs}

    def trial(self, trial_id: int) -> dict[str, Any] | None:
        t = self.trials.get(trial_id)
        if t is None or self.view is None:
            return None
        rec = t.record
        return {
            "seq": self.seq, "study": self.spec.name, "metric": self.spec.metric,
            "id": t.trial_id, "status": t.status.value, "bracket": t.bracket, "config": t.config,
            "segments": [
                {"seq": s.seq, "worker_id": s.worker_id, "resume_from": s.resume_from,
                 "milestone": s.milestone, "lost": s.lost}
                for s in rec.segments
            ],
            "observations": [
                {"seq": o.seq, "resource": o.resource, "value": o.value,
                 "at": round(o.at - self.view.created_at, 3),
                 "metrics": dict(o.metrics) if o.metrics else None}
                for o in rec.observations
            ],
            "checkpoint": rec.checkpoint, "checkpoint_resource": rec.checkpoint_resource,
            "failures": rec.failures,
        }


class ModelCache:
    """One model per study, brought up to date (changed trials only) when it is asked for."""

    def __init__(self, service: StudyService, clock: Callable[[], float] = time.monotonic):
        self.service = service
        self.clock = clock
        self._models: dict[str, StudyModel] = {}
        self._lock = threading.Lock()

    def read(self, name: str, reader: Callable[[StudyModel], Any]) -> Any:
        """Runs `reader` on the study's up-to-date model, under its lock.

        Unknown or malformed names raise the service's NotFound / InvalidArgument.
        """
        seq = self.service.journal_position(name)
        with self._lock:
            model = self._models.get(name)
        if model is None:
            model = StudyModel(self.service.get_study(name).spec)
            with self._lock:
                model = self._models.setdefault(name, model)
        with model.lock:
            if model.seq != seq or model.view is None:
                model.apply(self.service.trials_since(name, model.seq))
            return reader(model)

    def chart(self, name: str, chart: str, variant: Any = None) -> dict[str, Any]:
        """Chart `chart` (a ChartData method; `variant` its argument) of study `name`."""
        model, payload = self.read(name, lambda m: (m, m.fresh_chart(chart, variant, self.clock())))
        if payload is not None:
            return payload
        with model.chart_lock:
            with model.lock:
                payload = model.fresh_chart(chart, variant, self.clock())
                data = model.chart_data()
            if payload is not None:  # computed while we waited
                return payload
            started = self.clock()
            compute = getattr(data, chart)
            payload = {"seq": data.seq, **(compute() if variant is None else compute(variant))}
            with model.lock:
                model.charts[chart] = (variant, started, self.clock() - started, payload)
            return payload

    def forget(self, names: Iterable[str]) -> None:
        with self._lock:
            for name in names:
                self._models.pop(name, None)
