"""A study's Pareto front and hypervolume curve against a brute-force recomputation."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rung.core.objectives import Constraint, Objective, Objectives
from rung.core.pareto import hypervolume
from rung.core.results import MetricsReport, summarize
from rung.core.types import Mode

GOALS = Objectives((Objective("a"), Objective("b", Mode.MAX)), (Constraint("c", "<=", 1.0),))
REF = (10.0, -10.0)  # in the objectives' units: a <= 10, b >= -10

reports = st.lists(
    st.tuples(
        st.integers(0, 5),  # trial
        st.sampled_from([1, 3, 9]),  # resource
        st.integers(0, 6), st.integers(-6, 0), st.integers(0, 2),  # a, b, c
    ),
    min_size=1, max_size=25,
)


def brute(rows):
    """Recomputes everything from scratch after each report."""
    curve, front = [], set()
    for n in range(1, len(rows) + 1):
        seen = rows[:n]
        top = max(r for _, r, *_ in seen)
        latest = {}
        for t, r, a, b, c in seen:
            if r == top:
                latest[t] = (a, b, c)
        feasible = {t: np.array([a, -b], dtype=float) for t, (a, b, c) in latest.items() if c <= 1}
        front = {
            t for t, k in feasible.items()
            if not any((o <= k).all() and (o < k).any() for o in feasible.values())
        }
        hv = hypervolume(np.array([feasible[t] for t in front]).reshape(-1, 2), (10.0, 10.0))
        if not curve or curve[-1] != hv:
            curve.append(hv)
    return front, curve


@settings(deadline=None, max_examples=150)
@given(reports)
def test_front_and_hypervolume_curve_equal_brute_force(rows):
    measured = [
        MetricsReport(seq, float(seq), t, r, {"a": float(a), "b": float(b), "c": float(c)})
        for seq, (t, r, a, b, c) in enumerate(rows)
    ]
    summary = summarize(GOALS, measured, REF)
    front, curve = brute(rows)
    assert {p.trial_id for p in summary.front} == front
    got = [v for _, _, v in summary.hypervolume]
    # The summary records the first value too; brute force starts from the first report as well.
    assert np.allclose(got, curve[: len(got)]) and len(got) == len(curve)
    assert summary.reference_point == REF
