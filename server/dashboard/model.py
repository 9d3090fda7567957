"""The dashboard's view model: what its pages show, computed from a service snapshot.

One `StudyModel` is built from one `StudySnapshot` (a consistent copy of a
study at a journal position) and answers every page's question from memory:
the trial table (sorted, filtered, paged on the server), the any-time curves,
learning curves, the rung view, running jobs, parallel coordinates and
parameter importance. `ModelCache` keeps one model per study and rebuilds it
only when the study's journal position moved, so a page that polls an idle
100,000-trial study costs a dictionary lookup.

Definitions (docs/dashboard.md):
- a *rung result* is an observation at a rung level of the trial's bracket;
- a result at level L was *promoted* when the trial went on past L (a later
  segment resumed from L or above, or it reported beyond L);
- the *incumbent* is the best result at the highest resource reached, the rule
  the schedulers use.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from rung.core.rungs import bracket_levels, rung_levels
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


@dataclass(frozen=True)
class TrialRow:
    """A trial as the table sorts and filters it."""

    id: int
    status: str
    bracket: int
    resource: int  # highest resource reported
    value: float | None  # the result at that resource
    observations: int
    config: dict[str, Any]
    search_text: str  # 'name=value' pairs, lower case, for the filter

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "status": self.status, "bracket": self.bracket,
            "resource": self.resource, "value": self.value,
            "observations": self.observations, "config": self.config,
        }


def _row(t: TrialView) -> TrialRow:
    last = max(t.record.observations, key=lambda o: (o.resource, o.seq), default=None)
    return TrialRow(
        t.trial_id, t.status.value, t.bracket,
        last.resource if last else 0, last.value if last else None,
        len(t.record.observations), t.config,
        " ".join(f"{k}={v}" for k, v in t.config.items()).lower(),
    )


def _thin(items: Sequence[Any], limit: int) -> list[Any]:
    """At most `limit` items spread evenly over the sequence, first and last kept."""
    n = len(items)
    if n <= limit:
        return list(items)
    return [items[round(i * (n - 1) / (limit - 1))] for i in range(limit)]


class StudyModel:
    """Everything the study pages show, from one snapshot."""

    def __init__(self, snap: StudySnapshot, now: float):
        self.seq = snap.seq
        self.view = snap.view
        self.spec = snap.view.spec
        self.sign = 1.0 if self.spec.mode is Mode.MIN else -1.0
        self.levels = levels_of(self.spec)
        self.trials = {t.trial_id: t for t in snap.trials}
        self.rows = [_row(t) for t in snap.trials]
        self.built_at = now
        self._sorted: OrderedDict[tuple, list[TrialRow]] = OrderedDict()
        self._sorted_lock = threading.Lock()
        self._rung_results = self._collect_rung_results()

    # ------------------------------------------------------------------ summary

    def summary(self, now: float) -> dict[str, Any]:
        statuses = Counter(r.status for r in self.rows)
        return {
            **study_row(self.view, now),
            "seq": self.seq,
            "space": self.spec.space.to_json(),
            "scheduler_settings": vars(self.spec.scheduler).copy(),
            "levels": self.levels,
            "incumbent_config": self.view.incumbent_config,
            "statuses": {s.value: statuses.get(s.value, 0) for s in TrialStatus},
        }

    # ------------------------------------------------------------------ table

    def page(
        self, offset: int, limit: int, sort: str, descending: bool, status: str, query: str
    ) -> dict[str, Any]:
        rows = self._ordered(sort, descending, status, query)
        limit = max(1, min(limit, MAX_PAGE))
        offset = max(0, offset)
        return {
            "seq": self.seq, "total": len(rows), "offset": offset, "limit": limit,
            "sort": sort, "order": "desc" if descending else "asc",
            "params": list(self.spec.space.params),
            "rows": [r.to_json() for r in rows[offset: offset + limit]],
        }

    def _ordered(self, sort: str, descending: bool, status: str, query: str) -> list[TrialRow]:
        key = (sort, descending, status, query)
        with self._sorted_lock:
            if key in self._sorted:
                self._sorted.move_to_end(key)
                return self._sorted[key]
        terms = query.lower().split()
        rows = [
            r for r in self.rows
            if (not status or r.status == status) and all(t in r.search_text for t in terms)
        ]
        rows.sort(key=self._sort_key(sort), reverse=descending)
        with self._sorted_lock:
            self._sorted[key] = rows
            while len(self._sorted) > 16:
                self._sorted.popitem(last=False)
        return rows

    def _sort_key(self, sort: str) -> Callable[[TrialRow], Any]:
        """Rows without a value sort last whichever the order; 'param:NAME' sorts by a parameter."""
        if sort.startswith("param:"):
            name = sort[len("param:"):]
            return lambda r: (isinstance(r.config.get(name), str), r.config.get(name), r.id)
        if sort == "value":
            return lambda r: (r.value is None, (r.value or 0.0) * self.sign, r.id)
        return lambda r: (getattr(r, sort), r.id)

    # ------------------------------------------------------------------ charts

    def _collect_rung_results(self) -> list[tuple[int, float, int, int, int, float, bool]]:
        """(seq, at, trial, bracket, level, value, promoted) of every rung result, in journal order."""
        out = []
        for t in self.trials.values():
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
        for seq, at, trial, _, level, value, _ in self._rung_results:
            candidate = (-level, self.sign * value)
            if best is None or candidate < best:
                best = candidate
                wall.append([round(at - self.view.created_at, 3), value, trial])
                resource.append([spent.get(seq, 0), value, trial])
        return {"seq": self.seq, "metric": self.spec.metric, "wall": wall, "resource": resource}

    def _resource_by_seq(self) -> dict[int, int]:
        """Resource trained (epochs) up to each report, counting retraining after a lost job."""
        steps = []
        for t in self.trials.values():
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
        """Learning curves of the `limit` best trials (by their highest rung result)."""
        ranked = sorted(self.trials.values(), key=self._trial_rank)
        shown = ranked[: max(1, min(limit, MAX_CURVES))]
        promoted = {r[2] for r in self._rung_results if r[6]}
        return {
            "seq": self.seq, "metric": self.spec.metric, "total": len(ranked),
            "levels": sorted({lv for b in self.levels for lv in b}),
            "trials": [
                {
                    "id": t.trial_id, "status": t.status.value, "promoted": t.trial_id in promoted,
                    "resource": [o.resource for o in t.record.observations],
                    "value": [o.value for o in t.record.observations],
                }
                for t in sorted(shown, key=lambda t: t.trial_id)
                if t.record.observations
            ],
        }

    def _trial_rank(self, t: TrialView) -> tuple[int, float, int]:
        """Higher resource first, then better value: the incumbent rule, per trial."""
        obs = t.record.observations
        if not obs:
            return (1, 0.0, t.trial_id)
        last = max(obs, key=lambda o: (o.resource, o.seq))
        return (-last.resource, self.sign * last.value, t.trial_id)

    def rungs(self) -> dict[str, Any]:
        """Per bracket and level: how many results, how many promoted, and their values."""
        brackets = []
        for b, levels in enumerate(self.levels):
            rungs = []
            for level in levels:
                results = [r for r in self._rung_results if r[3] == b and r[4] == level]
                results.sort(key=lambda r: (self.sign * r[5], r[0]))
                rungs.append({
                    "level": level,
                    "results": len(results),
                    "promoted": sum(1 for r in results if r[6]),
                    "best": results[0][5] if results else None,
                    "points": [[r[2], r[5], r[6]] for r in _thin(results, MAX_RUNG_POINTS)],
                })
            brackets.append({"bracket": b, "rungs": rungs})
        return {"seq": self.seq, "metric": self.spec.metric, "brackets": brackets}

    def running(self, now: float) -> dict[str, Any]:
        jobs = []
        for t in self.trials.values():
            if t.status is not TrialStatus.RUNNING or not t.record.segments:
                continue
            seg = t.record.segments[-1]
            reported = [o.resource for o in t.record.observations if o.seq > seg.seq]
            jobs.append({
                "trial_id": t.trial_id, "worker_id": seg.worker_id,
                "resume_from": seg.resume_from, "milestone": seg.milestone,
                "epoch": max(reported, default=seg.resume_from),
                "lease_seconds_left": round(t.lease_deadline - now, 1) if t.lease_deadline else None,
                "config": t.config,
            })
        return {"seq": self.seq, "jobs": jobs}

    def parallel(self, limit: int = MAX_PARALLEL) -> dict[str, Any]:
        """Each trial's parameters (on the unit scale the searchers use) and its last result."""
        space = self.spec.space
        ranked = [t for t in sorted(self.trials.values(), key=self._trial_rank)
                  if t.record.observations]
        shown = _thin(ranked, max(2, min(limit, MAX_PARALLEL)))
        lines = []
        for t in shown:
            last = max(t.record.observations, key=lambda o: (o.resource, o.seq))
            lines.append({
                "id": t.trial_id,
                "unit": [round(float(u), 5) for u in space.to_unit(t.config)],
                "value": last.value, "resource": last.resource,
            })
        return {
            "seq": self.seq, "metric": self.spec.metric, "mode": self.spec.mode.value,
            "total": len(ranked), "params": space.to_json(), "trials": lines,
        }

    def importance(self) -> dict[str, Any]:
        level, results = self._importance_level()
        configs = [self.trials[r[2]].config for r in results]
        values = [r[5] for r in results]
        return {
            "seq": self.seq, "level": level, "n": len(values),
            "method": "correlation ratio (binned first-order variance share); docs/dashboard.md",
            "params": importance(self.spec.space, configs, values),
        }

    def _importance_level(self) -> tuple[int | None, list[tuple]]:
        """The highest level with at least 8 results (results at one resource compare fairly)."""
        by_level: dict[int, list[tuple]] = {}
        for r in self._rung_results:
            by_level.setdefault(r[4], []).append(r)
        for level in sorted(by_level, reverse=True):
            if len(by_level[level]) >= 8:
                return level, by_level[level]
        if by_level:
            lowest = min(by_level)
            return lowest, by_level[lowest]
        return None, []

    def trial(self, trial_id: int) -> dict[str, Any] | None:
        t = self.trials.get(trial_id)
        if t is None:
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
                 "at": round(o.at - self.view.created_at, 3)}
                for o in rec.observations
            ],
            "checkpoint": rec.checkpoint, "checkpoint_resource": rec.checkpoint_resource,
            "failures": rec.failures,
        }


class ModelCache:
    """One model per study, rebuilt when the study's journal position has moved."""

    def __init__(self, service: StudyService, clock: Callable[[], float] = time.time):
        self.service = service
        self.clock = clock
        self._models: dict[str, StudyModel] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> StudyModel:
        """Raises the service's NotFound / InvalidArgument for unknown or malformed names."""
        seq = self.service.journal_position(name)
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:  # one build per study at a time; the others wait and share it
            model = self._models.get(name)
            if model is None or model.seq != seq:
                model = StudyModel(self.service.snapshot(name), self.clock())
                with self._lock:
                    self._models[name] = model
            return model

    def forget(self, names: Iterable[str]) -> None:
        with self._lock:
            for name in names:
                self._models.pop(name, None)
                self._locks.pop(name, None)


def study_list(service: StudyService, now: float) -> list[dict[str, Any]]:
    return [study_row(v, now) for v in service.list_studies()]
