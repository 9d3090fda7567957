"""Any-time curves across seeds: step functions on a common time grid, medians, time to reach."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def on_grid(times: Sequence[float], values: Sequence[float], grid: np.ndarray) -> np.ndarray:
    """The step function (times, values) read at each grid point; +inf before its first step."""
    if not times:
        return np.full(grid.shape, math.inf)
    index = np.searchsorted(np.asarray(times), grid, side="right") - 1
    out = np.asarray(values, dtype=float)[np.maximum(index, 0)]
    out[index < 0] = math.inf
    return out


def curves(runs: Sequence[dict], grid: np.ndarray) -> np.ndarray:
    """One row per run (each with 'times' and 'regrets'), read on `grid`."""
    return np.array([on_grid(r["times"], r["regrets"], grid) for r in runs])


def quantiles(rows: np.ndarray, qs: Sequence[float] = (0.25, 0.5, 0.75)) -> np.ndarray:
    """Per-column quantiles (midpoint rule, so the median of an even count is the usual one).

    +inf (no result yet) counts as the worst value, as it should: the median is
    finite only once more than half of the runs have a result.
    """
    ordered = np.sort(rows, axis=0)
    n = ordered.shape[0]
    out = []
    for q in qs:
        pos = q * (n - 1)
        lo, hi = ordered[math.floor(pos)], ordered[math.ceil(pos)]
        out.append(np.where(lo == hi, lo, (lo + hi) / 2))
    return np.array(out)


def time_to_reach(grid: np.ndarray, curve: np.ndarray, target: float) -> float | None:
    """The first grid time at which `curve` is at or below `target`, or None."""
    hits = np.nonzero(curve <= target)[0]
    return float(grid[hits[0]]) if hits.size else None
