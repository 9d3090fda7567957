"""The ranking every scheduler uses, Pareto fronts and hypervolume, against brute force."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rung.core.objectives import Outcome
from rung.core.pareto import hypervolume, pareto_front, rank

small = st.integers(0, 6).map(float)  # few distinct values: many ties and duplicates
points = st.integers(1, 3).flatmap(
    lambda d: st.lists(st.tuples(*[small] * d), min_size=1, max_size=12)
)


def brute_front(pts: list[tuple[float, ...]]) -> list[int]:
    def dominates(a, b):
        return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))

    return [i for i, p in enumerate(pts) if not any(dominates(q, p) for q in pts)]


def brute_hypervolume(pts: list[tuple[float, ...]], ref: tuple[float, ...]) -> float:
    """Sums the grid cells (between consecutive coordinates) that some point dominates."""
    axes = [sorted({p[k] for p in pts} | {ref[k]}) for k in range(len(ref))]
    total = 0.0
    for cell in itertools.product(*[range(len(a) - 1) for a in axes]):
        lows = [axes[k][i] for k, i in enumerate(cell)]
        if any(all(p[k] <= lows[k] for k in range(len(ref))) for p in pts):
            total += float(np.prod([axes[k][i + 1] - axes[k][i] for k, i in enumerate(cell)]))
    return total


@settings(deadline=None)
@given(points)
def test_pareto_front_equals_brute_force(pts):
    assert pareto_front(np.array(pts)) == brute_front(pts)


@settings(max_examples=60, deadline=None)
@given(points)
def test_hypervolume_equals_brute_force(pts):
    ref = tuple(7.0 for _ in pts[0])
    assert np.isclose(hypervolume(np.array(pts), ref), brute_hypervolume(pts, ref))


def test_hypervolume_ignores_points_beyond_the_reference():
    assert hypervolume(np.array([[1.0, 5.0], [3.0, 2.0]]), (4.0, 4.0)) == 2.0
    assert hypervolume(np.empty((0, 2)), (1.0, 1.0)) == 0.0


@settings(deadline=None)
@given(st.lists(small, min_size=1, max_size=20))
def test_single_objective_rank_is_value_then_report_order(values):
    """The special case the schedulers relied on before: exactly sorted by (value, report order)."""
    expected = sorted(range(len(values)), key=lambda i: (values[i], i))
    assert rank([Outcome((v,)) for v in values]) == expected


@settings(deadline=None)
@given(st.lists(st.tuples(small, small, st.integers(-2, 2).map(float)), min_size=1, max_size=12))
def test_feasible_first_then_smaller_violation_then_fronts(rows):
    outcomes = [Outcome((a, b), (s,)) for a, b, s in rows]
    order = rank(outcomes)
    assert sorted(order) == list(range(len(rows)))
    violations = [outcomes[i].violation for i in order]
    assert violations == sorted(violations)
    # Within one violation group, no result ranks below one it dominates... the front order holds:
    for pos, i in enumerate(order):
        for j in order[pos + 1:]:
            if outcomes[i].violation == outcomes[j].violation:
                a, b = outcomes[j].keys, outcomes[i].keys
                assert not (all(x <= y for x, y in zip(a, b)) and a != b)


def test_epsilon_net_spreads_the_top_of_a_front():
    # Front {A (0.4, 30), B (0.45, 5), C (0.9, 1)}, D (0.7, 20) dominated by B.
    outcomes = [Outcome(k) for k in [(0.4, 30.0), (0.45, 5.0), (0.9, 1.0), (0.7, 20.0)]]
    # A first (best first objective), then C, the farthest from A once scaled, then B.
    assert rank(outcomes) == [0, 2, 1, 3]


@settings(deadline=None)
@given(st.lists(st.tuples(small, small), min_size=1, max_size=30))
def test_two_objective_sweep_gives_the_fronts_of_repeated_peeling(pts):
    """The O(n log n) sweep used for one and two objectives against peeling by brute force."""
    from rung.core.pareto import nondominated_fronts

    left, fronts = list(range(len(pts))), []
    while left:
        front = [i for i in left if i in {left[j] for j in brute_front([pts[k] for k in left])}]
        fronts.append(front)
        left = [i for i in left if i not in front]
    assert nondominated_fronts(np.array(pts)) == fronts
