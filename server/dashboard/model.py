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
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from functools import cached_property
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from rung.core.errors import InvalidArgument
from rung.core.rungs import bracket_levels, rung_levels
from rung.core.space import Categorical
from rung.core.study import StudySpec
from rung.core.types import Mode, TrialStatus

from ..service import StudyService, StudySnapshot, StudyView, TrialView
from .importance import importance

# Chart payloads stay small however big the study: more points than a chart can
# show only slow the page down (docs/dashboard.md says how each is chosen).
MAX_CURVES = 1000
MAX_PARALLEL = 2000
MAX_RUNG_POINTS = 2000
MAX_PAGE = 500
CHART_REUSE = 10.0  # a chart is reused until it is this many times its compute time old
SORT_KEYS = ("id", "status", "bracket", "resource", "value", "observations")


def levels_of(spec: StudySpec) -> list[list[int]]:
    """Rung levels of each bracket the study's scheduler can use."""
    s = spec.scheduler
    if s.kind in ("hyperband", "sync_hyperband"):
        return bracket_levels(s.r_min, s.r_max, s.eta, s.brackets)
    return [rung_levels(s.r_min, s.r_max, s.eta)]


def budget_progress(view: StudyView, now: float) -> float:
    """The fraction of the budget spent: the largest over the limits that are set."""
    b = view.spec.budget
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
        "budget": vars(spec.budget).copy(),
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


STATUSES = sorted(s.value for s in TrialStatus)  # table order: alphabetical


class TrialTable:
    """The trial table's sortable columns, updated trial by trial, ordered with numpy.

    Rows are appended as trials appear and overwritten as they change, so a new
    report costs one row; an ordering (sort, filter) is computed once per change
    of the table with `np.lexsort`, which keeps paging fast at 100,000 trials.
    """

    def __init__(self, spec: StudySpec):
        self.params = list(spec.space.params)
        self._ranks = {  # categorical values sort by their text
            name: {c: i for i, c in enumerate(sorted(dom.choices, key=str))}
            for name, dom in spec.space.params.items() if isinstance(dom, Categorical)
        }
        self.index: dict[int, int] = {}  # trial id -> row
        self.columns: dict[str, list[float]] = {
            k: [] for k in ("id", "status", "bracket", "resource", "value", "observations")
        }
        self.param_columns: dict[str, list[float]] = {p: [] for p in self.params}
        self.texts: list[str] = []  # 'name=value' pairs, lower case, for the filter
        self._orders: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._arrays: dict[str, np.ndarray] | None = None
        self._param_arrays: dict[str, np.ndarray] = {}

    def update(self, t: TrialView) -> None:
        last = max(t.record.observations, key=lambda o: (o.resource, o.seq), default=None)
        values = {
            "id": t.trial_id, "status": STATUSES.index(t.status.value), "bracket": t.bracket,
            "resource": last.resource if last else 0,
            "value": last.value if last else math.nan,
            "observations": len(t.record.observations),
        }
        row = self.index.get(t.trial_id)
        if row is None:
            row = self.index[t.trial_id] = len(self.texts)
            for column in (*self.columns.values(), *self.param_columns.values()):
                column.append(0.0)
            self.texts.append(" ".join(f"{k}={v}" for k, v in t.config.items()).lower())
            for name, column in self.param_columns.items():
                v = t.config[name]
                column[row] = self._ranks[name][v] if name in self._ranks else float(v)
        for key, v in values.items():
            self.columns[key][row] = v

    def changed(self) -> None:
        """Call after updates: orderings computed before are stale."""
        self._orders.clear()
        self._arrays = None

    def status_counts(self) -> dict[str, int]:
        counts = np.bincount(np.asarray(self.columns["status"], dtype=int), minlength=len(STATUSES))
        return {s: int(n) for s, n in zip(STATUSES, counts)}

    def order(self, sort: str, descending: bool, status: str, query: str) -> np.ndarray:
        """Trial ids in display order, after the status and text filters."""
        key = (sort, descending, status, query)
        if key in self._orders:
            self._orders.move_to_end(key)
            return self._orders[key]
        if sort.startswith("param:") and sort[len("param:"):] not in self.param_columns:
            raise InvalidArgument(f"cannot sort by {sort!r}: no such parameter")
        if self._arrays is None:
            self._arrays = {k: np.asarray(v, dtype=float) for k, v in self.columns.items()}
            self._param_arrays = {
                k: np.asarray(v, dtype=float) for k, v in self.param_columns.items()
            }
        a = self._arrays
        keep = np.ones(len(self.texts), dtype=bool)
        if status:
            keep &= a["status"] == STATUSES.index(status)
        terms = query.lower().split()
        if terms:
            keep &= np.fromiter((all(t in s for t in terms) for s in self.texts), bool,
                                len(self.texts))
        rows = np.nonzero(keep)[0]
        column = self._param_arrays[sort[6:]] if sort.startswith("param:") else a[sort]
        values = column[rows]  # by number, whatever the mode: the arrow means what it shows
        missing = np.isnan(values)  # trials without a result sort last in either order
        values = np.where(missing, 0.0, -values if descending else values)
        ordered = rows[np.lexsort((a["id"][rows], values, missing))]
        ids = a["id"][ordered].astype(int)
        self._orders[key] = ids
        while len(self._orders) > 16:
            self._orders.popitem(last=False)
        return ids


def _thin(items: Sequence[Any], limit: int) -> list[Any]:
    """At most `limit` items spread evenly over the sequence, first and last kept."""
    n = len(items)
    if n <= limit:
        return list(items)
    return [items[round(i * (n - 1) / (limit - 1))] for i in range(limit)]


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
            self._chart_data = ChartData(self, list(self.trials.values()))
        return self._chart_data

    # ------------------------------------------------------------------ summary

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

    # ------------------------------------------------------------------ table

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


class ChartData:
    """A study's trials at one journal position, and every chart computed from them."""

    def __init__(self, model: StudyModel, trials: list[TrialView]):
        assert model.view is not None
        self.seq = model.seq
        self.view = model.view
        self.spec = model.spec
        self.sign = model.sign
        self.levels = model.levels
        self.trials = trials
        self.configs = {t.trial_id: t.config for t in trials}

    @cached_property
    def rung_results(self) -> list[tuple[int, float, int, int, int, float, bool]]:
        """(seq, at, trial, bracket, level, value, promoted) of every rung result, in journal order."""
        out = []
        for t in self.trials:
            levels = set(self.levels[min(t.bracket, len(self.levels) - 1)])
            top = max((o.resource for o in t.record.observations), default=0)
            resumed = [s.resume_from for s in t.record.segments if not s.lost]
            for o in t.record.observations:
                if o.resource in levels:
                    promoted = top > o.resource or any(r >= o.resource for r in resumed)
                    out.append((o.seq, o.at, t.trial_id, t.bracket, o.resource, o.value, promoted))
        out.sort()
        return out

    def anytime(self) -> dict[str, Any]:
        """The incumbent against seconds since creation and against resource trained."""
        spent = self._resource_by_seq()
        best: tuple[int, float] | None = None
        wall, resource = [], []
        for seq, at, trial, _, level, value, _ in self.rung_results:
            candidate = (-level, self.sign * value)
            if best is None or candidate < best:
                best = candidate
                wall.append([round(at - self.view.created_at, 3), value, trial])
                resource.append([spent.get(seq, 0), value, trial])
        return {"metric": self.spec.metric, "wall": wall, "resource": resource}

    def _resource_by_seq(self) -> dict[int, int]:
        """Resource trained (epochs) up to each report, counting retraining after a lost job."""
        steps = []
        for t in self.trials:
            segments = t.record.segments
            i, last = -1, 0
            for o in t.record.observations:
                while i + 1 < len(segments) and segments[i + 1].seq < o.seq:
                    i += 1
                    last = segments[i].resume_from
                steps.append((o.seq, max(0, o.resource - last)))
                last = o.resource
        steps.sort()
        total, out = 0, {}
        for seq, trained in steps:
            total += trained
            out[seq] = total
        return out

    def curves(self, limit: int = MAX_CURVES) -> dict[str, Any]:
        """Learning curves of the `limit` best trials (by their result at the highest resource)."""
        ranked = self.ranked
        shown = ranked[: max(1, min(limit, MAX_CURVES))]
        promoted = {r[2] for r in self.rung_results if r[6]}
        return {
            "metric": self.spec.metric, "total": len(ranked),
            "levels": sorted({lv for b in self.levels for lv in b}),
            "trials": [
                {
                    "id": t.trial_id, "status": t.status.value, "promoted": t.trial_id in promoted,
                    "resource": [o.resource for o in t.record.observations],
                    "value": [o.value for o in t.record.observations],
                }
                for t in sorted(shown, key=lambda t: t.trial_id)
            ],
        }

    @cached_property
    def ranked(self) -> list[TrialView]:
        """Trials with results, best first: higher resource first, then better value
        (the incumbent rule, per trial)."""
        keyed = []
        for t in self.trials:
            if t.record.observations:
                last = max(t.record.observations, key=lambda o: (o.resource, o.seq))
                keyed.append(((-last.resource, self.sign * last.value, t.trial_id), t))
        keyed.sort(key=lambda kt: kt[0])
        return [t for _, t in keyed]

    def rungs(self) -> dict[str, Any]:
        """Per bracket and level: how many results, how many promoted, and their values."""
        grouped: dict[tuple[int, int], list[tuple]] = {}
        for r in self.rung_results:
            grouped.setdefault((r[3], r[4]), []).append(r)
        brackets = []
        for b, levels in enumerate(self.levels):
            rungs = []
            for level in levels:
                results = sorted(grouped.get((b, level), []), key=lambda r: (self.sign * r[5], r[0]))
                rungs.append({
                    "level": level,
                    "results": len(results),
                    "promoted": sum(1 for r in results if r[6]),
                    "best": results[0][5] if results else None,
                    "points": [[r[2], r[5], r[6]] for r in _thin(results, MAX_RUNG_POINTS)],
                })
            brackets.append({"bracket": b, "rungs": rungs})
        return {"metric": self.spec.metric, "brackets": brackets}

    def parallel(self, limit: int = MAX_PARALLEL) -> dict[str, Any]:
        """Each trial's parameters (on the unit scale the searchers use) and its last result."""
        space = self.spec.space
        ranked = self.ranked
        lines = []
        for t in _thin(ranked, max(2, min(limit, MAX_PARALLEL))):
            last = max(t.record.observations, key=lambda o: (o.resource, o.seq))
            lines.append({
                "id": t.trial_id,
                "unit": [round(float(u), 5) for u in space.to_unit(t.config)],
                "value": last.value, "resource": last.resource,
            })
        return {
            "metric": self.spec.metric, "mode": self.spec.mode.value,
            "total": len(ranked), "params": space.to_json(), "trials": lines,
        }

    def importance(self) -> dict[str, Any]:
        level, results = self._importance_level()
        configs = [self.configs[r[2]] for r in results]
        values = [r[5] for r in results]
        return {
            "level": level, "n": len(values),
            "method": "correlation ratio (binned first-order variance share); docs/dashboard.md",
            "params": importance(self.spec.space, configs, values),
        }

    def _importance_level(self) -> tuple[int | None, list[tuple]]:
        """The highest level with at least 8 results (results at one resource compare fairly)."""
        by_level: dict[int, list[tuple]] = {}
        for r in self.rung_results:
            by_level.setdefault(r[4], []).append(r)
        for level in sorted(by_level, reverse=True):
            if len(by_level[level]) >= 8:
                return level, by_level[level]
        if by_level:
            lowest = min(by_level)
            return lowest, by_level[lowest]
        return None, []

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


def study_list(service: StudyService, now: float) -> list[dict[str, Any]]:
    return [study_row(v, now) for v in service.list_studies()]
