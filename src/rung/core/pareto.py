"""Ranking results with several objectives and constraints; Pareto fronts and hypervolume.

`rank` is the one ranking every scheduler uses inside a rung:

1. Feasibility first: results are grouped by their total constraint violation,
   smallest first, so every feasible result (violation 0) ranks above every
   infeasible one, and an infeasible result with a smaller violation above one
   with a larger violation.
2. Within a group, non-dominated sorting: front 1 (results no other result in
   the group dominates) before front 2, and so on.
3. Within a front, the epsilon-net order of MO-ASHA (Schmucker et al., 2021):
   first the result best in the first objective, then repeatedly the result
   farthest (Euclidean, objectives scaled to [0, 1] over the ranked results)
   from those already picked, so the top of a front spreads over it.
   Remaining ties go to the earlier report.

With one objective and no constraints this is the order by (value, report
order) that the schedulers used before: fronts are the distinct values, and
within a front every distance is 0, so the earlier report wins.

Every function here treats lower as better: pass `Outcome.keys`.
"""

from __future__ import annotations

from typing import Sequence

import bisect

import numpy as np

from .objectives import Outcome


def dominance_matrix(points: np.ndarray) -> np.ndarray:
    """d[i, j] is True when point i dominates point j (no worse anywhere, better somewhere)."""
    p = np.asarray(points, dtype=float)
    no_worse = (p[:, None, :] <= p[None, :, :]).all(axis=-1)
    better = (p[:, None, :] < p[None, :, :]).any(axis=-1)
    return no_worse & better


def nondominated_fronts(points: np.ndarray) -> list[list[int]]:
    """Indices of the points by non-dominated front, best front first, each in index order."""
    n = len(points)
    if n == 0:
        return []
    p = np.asarray(points, dtype=float)
    if p.shape[1] <= 2:
        return _fronts_by_sweep(p)
    dom = dominance_matrix(p)
    dominated_by = dom.sum(axis=0)  # how many points dominate each point
    left = np.ones(n, dtype=bool)
    fronts = []
    while left.any():  # peel: O(n**2) in all, as in NSGA-II's fast non-dominated sort
        idx = np.flatnonzero(left & (dominated_by == 0))
        fronts.append(idx.tolist())
        left[idx] = False
        dominated_by = dominated_by - dom[idx].sum(axis=0)
    return fronts


def _fronts_by_sweep(p: np.ndarray) -> list[list[int]]:
    """Non-dominated fronts of one or two objectives in O(n log n) (rungs grow to thousands).

    Points are taken in lexicographic order, so every point's dominators come
    before it. Front f keeps the lexicographically smallest (second, first)
    coordinates of its members: a point is dominated by some member of front f
    exactly when that pair is smaller than its own, and the pairs grow from
    front to front, so the point joins the first front whose pair is not smaller.
    """
    if p.shape[1] == 1:
        p = np.hstack([p, np.zeros_like(p)])
    order = np.lexsort((p[:, 1], p[:, 0]))
    tails: list[tuple[float, float]] = []
    fronts: list[list[int]] = []
    for i in order.tolist():
        key = (p[i, 1], p[i, 0])
        f = bisect.bisect_left(tails, key)
        if f == len(tails):
            tails.append(key)
            fronts.append([i])
        else:
            tails[f] = key
            fronts[f].append(i)
    return [sorted(front) for front in fronts]


def pareto_front(points: np.ndarray) -> list[int]:
    """Indices of the non-dominated points, in index order."""
    fronts = nondominated_fronts(points)
    return fronts[0] if fronts else []


def epsilon_net_order(points: np.ndarray, scale: np.ndarray) -> list[int]:
    """Greedy farthest-point order of the points (rows), starting at the best first coordinate."""
    n = len(points)
    if n <= 1:
        return list(range(n))
    z = np.asarray(points, dtype=float) / scale
    first = int(np.lexsort((np.arange(n), z[:, 0]))[0])
    if n == 2:
        return [first, 1 - first]
    dist = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(axis=-1))
    order = [first]
    nearest = dist[first].copy()
    nearest[first] = -np.inf
    for _ in range(n - 1):
        pick = int(nearest.argmax())  # argmax returns the first maximum: earlier report wins
        order.append(pick)
        np.minimum(nearest, dist[pick], out=nearest)
        nearest[order] = -np.inf
    return order


def rank(outcomes: Sequence[Outcome], top: int | None = None) -> list[int]:
    """Indices of the outcomes best first (see the module docstring); index order breaks ties.

    With `top`, only the first `top` places are guaranteed: fronts that start
    after them are left in index order, which saves the epsilon-net's cost.
    """
    if not outcomes:
        return []
    keys = np.array([o.keys for o in outcomes], dtype=float)
    span = keys.max(axis=0) - keys.min(axis=0)
    scale = np.where(span > 0, span, 1.0)
    violations = np.array([o.violation for o in outcomes])
    order: list[int] = []
    for v in np.unique(violations):  # sorted ascending: feasible (0) first
        group = np.flatnonzero(violations == v)
        for front in nondominated_fronts(keys[group]):
            members = group[front]
            if top is not None and len(order) >= top:
                order.extend(members.tolist())
            else:
                order.extend(members[epsilon_net_order(keys[members], scale)].tolist())
    return order


def hypervolume(points: np.ndarray, reference: Sequence[float]) -> float:
    """Volume dominated by the points and bounded by the reference point (lower is better).

    Exact: a sweep in two dimensions, slicing along the last objective above
    (fine for the front sizes and the few objectives of a study).
    """
    ref = np.asarray(reference, dtype=float)
    p = np.asarray(points, dtype=float).reshape(-1, len(ref))
    p = p[(p < ref).all(axis=1)]
    if len(p) == 0:
        return 0.0
    p = p[pareto_front(p)]
    if len(ref) == 1:
        return float(ref[0] - p[:, 0].min())
    if len(ref) == 2:
        p = p[np.argsort(p[:, 0])]
        ys = np.minimum.accumulate(p[:, 1])
        widths = np.diff(np.append(p[:, 0], ref[0]))
        return float(np.sum(widths * (ref[1] - ys)))
    p = p[np.argsort(p[:, -1])]
    total = 0.0
    for i in range(len(p)):
        upper = p[i + 1, -1] if i + 1 < len(p) else ref[-1]
        if upper > p[i, -1]:
            total += (upper - p[i, -1]) * hypervolume(p[: i + 1, :-1], ref[:-1])
    return total
