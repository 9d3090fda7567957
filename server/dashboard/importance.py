"""Parameter importance: each parameter's share of the metric's variance, one at a time.

The estimate is the correlation ratio eta^2 = Var(E[y | bin(x)]) / Var(y): the
parameter's values are cut into bins (categorical values are their own bins,
numbers go into up to 10 equal-count bins of the unit scale the searchers use),
and we ask how much of the metric's spread the bin means explain. It is a
first-order (main-effect) sensitivity, like the first-order Sobol index; it
ignores interactions, which fANOVA would attribute, and it is biased upward when
bins hold few trials, so we subtract the share a parameter with no effect would
get by chance ((bins - 1) / (n - 1)) and clip at 0 (the adjusted epsilon^2).
Values are compared at one rung level (the caller chooses), never across
resources, where longer training alone would explain most of the variance.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from rung.core.space import Categorical, SearchSpace

MAX_BINS = 10


def _bins(column: np.ndarray, categorical: bool, n: int) -> np.ndarray:
    if categorical:
        return np.unique(column, return_inverse=True)[1]
    n_bins = max(1, min(MAX_BINS, int(np.sqrt(n))))
    edges = np.quantile(column, np.linspace(0, 1, n_bins + 1)[1:-1])
    return np.searchsorted(edges, column, side="right")


def importance(
    space: SearchSpace, configs: Sequence[Mapping[str, Any]], values: Sequence[float]
) -> list[dict[str, Any]]:
    """Per parameter: {'name', 'importance' (adjusted eta^2 in [0, 1]), 'bins'}, best first."""
    y = np.asarray(values, dtype=float)
    n = len(y)
    units = np.array([space.to_unit(c) for c in configs]) if n else np.zeros((0, 0))
    out = []
    for i, (name, domain) in enumerate(space.params.items()):
        score, n_bins = 0.0, 0
        total = float(np.var(y)) if n else 0.0
        if n >= 3 and total > 0:
            column = units[:, i]
            labels = _bins(column, isinstance(domain, Categorical), n)
            groups = np.unique(labels)
            n_bins = len(groups)
            means = np.array([y[labels == g].mean() for g in groups])
            counts = np.array([(labels == g).sum() for g in groups])
            between = float(np.sum(counts * (means - y.mean()) ** 2) / n)
            chance = (n_bins - 1) / (n - 1)
            score = max(0.0, (between / total - chance) / (1 - chance)) if chance < 1 else 0.0
        out.append({"name": name, "importance": round(score, 4), "bins": n_bins})
    out.sort(key=lambda p: -p["importance"])
    return out
