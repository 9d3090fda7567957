"""The trial table: its sortable columns, updated trial by trial, sorted and filtered with numpy."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from rung.core.errors import InvalidArgument
from rung.core.space import Categorical
from rung.core.study import StudySpec
from rung.core.types import TrialStatus

from ..service import TrialView

SORT_KEYS = ("id", "status", "bracket", "resource", "value", "observations")
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
