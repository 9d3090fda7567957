"""The study's charts: any-time curves, learning curves, rungs, parallel coordinates, importance.

Each is computed from a `ChartData`, a study's trials at one journal position,
outside the model's lock (model.py decides when a chart is computed again).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Sequence

from rung.core.study import StudySpec

from ..service import StudyView, TrialView
from .importance import importance

# Chart payloads stay small however big the study: more points than a chart can
# show only slow the page down (docs/dashboard.md says how each is chosen).
MAX_CURVES = 1000
MAX_PARALLEL = 2000
MAX_RUNG_POINTS = 2000


def _thin(items: Sequence[Any], limit: int) -> list[Any]:
    """At most `limit` items spread evenly over the sequence, first and last kept."""
    n = len(items)
    if n <= limit:
        return list(items)
    return [items[round(i * (n - 1) / (limit - 1))] for i in range(limit)]


class ChartData:
    """A study's trials at one journal position, and every chart computed from them."""

    def __init__(
        self, seq: int, view: StudyView, spec: StudySpec, sign: float, levels: list[list[int]],
        trials: list[TrialView],
    ):
        self.seq = seq
        self.view = view
        self.spec = spec
        self.sign = sign
        self.levels = levels
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
