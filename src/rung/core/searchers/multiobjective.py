"""How model-based searchers learn from several objectives and constraints.

Objectives: ParEGO's random scalarization (Knowles, 2006). At each proposal the
objectives are scaled to [0, 1] over the results at the model's level and
combined with weights drawn uniformly from the simplex by the augmented
Chebyshev function max_i(w_i f_i) + 0.05 sum_i(w_i f_i); a minimizer of any such
function is Pareto optimal, and fresh weights each time spread proposals over
the front.

Constraints: the GP searcher multiplies its acquisition by the probability of
feasibility under one GP per constraint slack; the density searcher (BOHB)
ranks infeasible results after every feasible one, by violation, so they fall
into its "bad" density.
"""

from __future__ import annotations

import numpy as np

RHO = 0.05  # weight of the linear term of the augmented Chebyshev scalarization


def parego_weights(rng: np.random.Generator, n_objectives: int) -> np.ndarray:
    """Weights drawn uniformly from the simplex."""
    return rng.dirichlet(np.ones(n_objectives))


def scalarize(keys: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Augmented Chebyshev values of the rows of `keys` (lower is better), scaled per column."""
    low, high = keys.min(axis=0), keys.max(axis=0)
    z = (keys - low) / np.where(high > low, high - low, 1.0)
    weighted = z * weights
    return weighted.max(axis=1) + RHO * weighted.sum(axis=1)


def feasibility_ranked(values: np.ndarray, violations: np.ndarray) -> np.ndarray:
    """One number per result that sorts every feasible result (by value) before every infeasible
    one (by violation): values are at most 1 + RHO after `scalarize`, infeasible ones get 2 or more."""
    worst = violations.max()
    penalty = 2.0 + violations / (worst if worst > 0 else 1.0)
    return np.where(violations > 0, penalty, values)
