"""A live or finished study on a server, read through the client SDK for `rung plot`.

The server records no clock per report, so the any-time curve of a live study
runs against the journal sequence number of each report. The incumbent is the
best value at the highest resource reported so far, the rule the schedulers use.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..core.types import Mode


def study_mode(study: Any) -> Mode:
    """The metric's direction from a rung.v1 Study message (MODE_UNSPECIFIED means min)."""
    return Mode.MAX if study.spec.metric.mode == 2 else Mode.MIN


def observations(trials: Sequence[Any]) -> list[tuple[int, int, int, int, float]]:
    """(seq, trial id, bracket, resource, value) of every report, in journal order."""
    rows = [
        (o.seq, t.id, t.bracket, o.resource, o.value) for t in trials for o in t.observations
    ]
    return sorted(rows)


def incumbent_trajectory(
    rows: Sequence[tuple[int, int, int, int, float]], mode: Mode
) -> tuple[list[float], list[float]]:
    """(seq, incumbent value) at each change: best value at the highest resource so far."""
    sign = 1.0 if mode is Mode.MIN else -1.0
    best: tuple[int, float] | None = None  # (-resource, oriented value)
    times: list[float] = []
    values: list[float] = []
    for seq, _, _, resource, value in rows:
        candidate = (-resource, sign * value)
        if best is None or candidate < best:
            best = candidate
            times.append(float(seq))
            values.append(value)
    return times, values
