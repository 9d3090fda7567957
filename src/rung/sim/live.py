"""A live or finished study on a server, read through the client SDK for `rung plot`.

The any-time curve runs against wall-clock seconds since the study was created
(the server stamps every report as it arrives). The incumbent is the best value
at the highest resource reported so far, the rule the schedulers use.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..core.types import Mode


def study_mode(study: Any) -> Mode:
    """The metric's direction from a rung.v1 Study message (MODE_UNSPECIFIED means min)."""
    return Mode.MAX if study.spec.metric.mode == 2 else Mode.MIN


Row = tuple[int, float, int, int, int, float]  # seq, at, trial id, bracket, resource, value


def observations(trials: Sequence[Any]) -> list[Row]:
    """(seq, at, trial id, bracket, resource, value) of every rung result, in journal order.

    Only results at a milestone of one of the trial's jobs count (the rung levels,
    as the schedulers rank them); the epochs in between are progress reports.
    """
    rows = [
        (o.seq, o.at, t.id, t.bracket, o.resource, o.value)
        for t in trials
        for o in t.observations
        if o.resource in {s.milestone for s in t.segments}
    ]
    return sorted(rows)


def incumbent_trajectory(
    rows: Sequence[Row], mode: Mode, start: float
) -> tuple[list[float], list[float]]:
    """(seconds since `start`, incumbent value) at each change: best at the highest resource."""
    sign = 1.0 if mode is Mode.MIN else -1.0
    best: tuple[int, float] | None = None  # (-resource, oriented value)
    times: list[float] = []
    values: list[float] = []
    for _, at, _, _, resource, value in rows:
        candidate = (-resource, sign * value)
        if best is None or candidate < best:
            best = candidate
            times.append(at - start)
            values.append(value)
    return times, values
