"""Methods side by side: regret quartiles at fractions of the budget, and the budget each needs.

For every benchmark and method, over its seeds: the 25 %, 50 % and 75 %
quantiles of the incumbent's simple regret at given fractions of the budget,
and the fraction of the budget at which the method's median regret first
reaches the reference method's (random search's) final median regret. Curves
are step functions, read exactly at every time any run's incumbent changed,
so the fractions are exact, not rounded to a plotting grid.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .analysis import curves, quantiles, time_to_reach

FRACTIONS = (0.1, 0.25, 0.5, 1.0)


def event_grid(runs: Sequence[dict], end: float) -> np.ndarray:
    """Every time at which some run's incumbent changed, up to `end`, and `end` itself."""
    times = [t for run in runs for t in run["times"] if t <= end]
    return np.unique(np.array(times + [end], dtype=float))


def median_curve(runs: Sequence[dict], grid: np.ndarray) -> np.ndarray:
    return quantiles(curves(runs, grid), (0.5,))[0]


def budget_to_reach(runs: Sequence[dict], end: float, target: float) -> float | None:
    """First time the median regret is at or below `target`, as a fraction of `end`; None if never."""
    grid = event_grid(runs, end)
    reached = time_to_reach(grid, median_curve(runs, grid), target)
    return None if reached is None else reached / end


def summarize(
    runs: Sequence[dict], reference: str, fractions: Sequence[float] = FRACTIONS
) -> dict[str, dict[str, Any]]:
    """{benchmark: {method: {...}}} for runs of several methods and benchmarks.

    Each method gets `seeds`, `regret` ({fraction: [q25, median, q75]}),
    `budget_to_reference` (None if its median never gets there, or if the
    benchmark has no reference runs) and `seconds_per_run` (median wall-clock
    seconds of the simulation, i.e. the method's own decision cost).
    """
    out: dict[str, dict[str, Any]] = {}
    for benchmark in dict.fromkeys(r["benchmark"] for r in runs):
        mine = [r for r in runs if r["benchmark"] == benchmark]
        end = max(r["horizon"] for r in mine)
        by_method: dict[str, list[dict]] = {}
        for run in mine:
            by_method.setdefault(run["method"], []).append(run)
        target = None
        if reference in by_method:
            target = float(median_curve(by_method[reference], np.array([end]))[0])
        table: dict[str, Any] = {}
        for method, method_runs in by_method.items():
            at = np.array([f * end for f in fractions])
            q = quantiles(curves(method_runs, at))
            walls = [r["wall_seconds"] for r in method_runs if "wall_seconds" in r]
            table[method] = {
                "seeds": len(method_runs),
                "regret": {f"{f:g}": [float(q[k, i]) for k in range(3)]
                           for i, f in enumerate(fractions)},
                "budget_to_reference": (
                    budget_to_reach(method_runs, end, target) if target is not None else None
                ),
                "seconds_per_run": float(np.median(walls)) if walls else None,
            }
        out[benchmark] = {"horizon": end, "reference": reference,
                          "reference_final_median": target, "methods": table}
    return out


def _number(x: float) -> str:
    if math.isinf(x):
        return "–"  # no result yet in enough runs
    if x == 0:
        return "0"
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 else f"{x:.2e}"


def markdown_table(
    benchmark_summary: dict[str, Any], label: Callable[[str], str] = str,
    fractions: Sequence[float] = FRACTIONS,
) -> str:
    """One benchmark's summary as a markdown table: median [q25, q75] per budget fraction."""
    head = ["method", "seeds"]
    head += [f"regret at {f:.0%} of budget" for f in fractions]
    head += ["budget to reach random search's final median", "s / run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method, row in benchmark_summary["methods"].items():
        cells = [label(method), str(row["seeds"])]
        for f in fractions:
            lo, med, hi = row["regret"][f"{f:g}"]
            cells.append(f"{_number(med)} [{_number(lo)}, {_number(hi)}]")
        reached = row["budget_to_reference"]
        if benchmark_summary["reference_final_median"] is None:
            cells.append("no reference runs")
        else:
            cells.append("not reached" if reached is None else f"{reached:.2f}")
        seconds = row["seconds_per_run"]
        cells.append("" if seconds is None else f"{seconds:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def head_to_head(
    summary: dict[str, dict[str, Any]], method: str, peer: str,
    fractions: Sequence[float] = FRACTIONS,
) -> str:
    """`method` against `peer` on every benchmark that has both, as a markdown table: the two
    medians at each fraction, whether `method`'s is at most `peer`'s at every fraction, and
    whether it is at most half of `peer`'s at the end (the claims the comparison checks)."""
    head = ["benchmark", "seeds"] + [f"{f:.0%}" for f in fractions]
    head += ["at most the peer's at every point", "at most half at 100 %"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for benchmark, table in summary.items():
        rows = table["methods"]
        if method not in rows or peer not in rows:
            continue
        mine = [rows[method]["regret"][f"{f:g}"][1] for f in fractions]
        theirs = [rows[peer]["regret"][f"{f:g}"][1] for f in fractions]
        cells = [benchmark, f"{rows[method]['seeds']} / {rows[peer]['seeds']}"]
        cells += [f"{_number(a)} / {_number(b)}" for a, b in zip(mine, theirs)]
        cells.append("yes" if all(a <= b for a, b in zip(mine, theirs)) else "**no**")
        cells.append("yes" if mine[-1] <= theirs[-1] / 2 else "no")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _rivals(rows: dict[str, Any], method: str, rivals: Sequence[str], min_seeds: int) -> list[str]:
    """The rivals of `method` that ran on this benchmark with at least `min_seeds` seeds."""
    return [r for r in rivals if r != method and r in rows and rows[r]["seeds"] >= min_seeds]


def safe_default_table(
    summary: dict[str, dict[str, Any]], method: str, rivals: Sequence[str], min_seeds: int,
    fractions: Sequence[float] = FRACTIONS,
) -> str:
    """Whether `method` is never the wrong choice: at each fraction, its median against the
    lowest median among `rivals` (peers and baselines with at least `min_seeds` seeds), the
    cell in bold where it is higher, and per benchmark the points where it is at most that."""
    head = ["benchmark"] + [f"{f:.0%}" for f in fractions] + ["points at most the best rival's"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    kept = 0
    total = 0
    for benchmark, table in summary.items():
        rows = table["methods"]
        others = _rivals(rows, method, rivals, min_seeds)
        if method not in rows or not others:
            continue
        cells, ok = [benchmark], 0
        for f in fractions:
            key = f"{f:g}"
            best = min(others, key=lambda r: rows[r]["regret"][key][1])
            mine, theirs = rows[method]["regret"][key][1], rows[best]["regret"][key][1]
            text = f"{_number(mine)} / {_number(theirs)} `{best}`"
            ok += mine <= theirs
            cells.append(text if mine <= theirs else f"**{text}**")
        cells.append(f"{ok} of {len(fractions)}")
        kept, total = kept + ok, total + len(fractions)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(f"| all | {' | '.join('' for _ in fractions)} | {kept} of {total} |")
    return "\n".join(lines) + "\n"


def points_at_most(
    summary: dict[str, dict[str, Any]], method: str, rivals: Sequence[str], min_seeds: int,
    fractions: Sequence[float] = FRACTIONS,
) -> tuple[int, int]:
    """(points where `method`'s median is at most every rival's, points compared): over the
    benchmarks where it and some rival with at least `min_seeds` seeds both ran."""
    kept = total = 0
    for table in summary.values():
        rows = table["methods"]
        others = _rivals(rows, method, rivals, min_seeds)
        if method not in rows or not others:
            continue
        for f in fractions:
            key = f"{f:g}"
            theirs = min(rows[r]["regret"][key][1] for r in others)
            kept += rows[method]["regret"][key][1] <= theirs
            total += 1
    return kept, total


def default_candidates_table(
    summary: dict[str, dict[str, Any]], candidates: Sequence[str], peers: Sequence[str],
    baselines: Sequence[str], min_seeds: int,
) -> str:
    """Each candidate for the default: the points where its median is at most the best
    rival's (peers and baselines), and at most the baselines', with its fewest seeds."""
    lines = ["| method | seeds | points at most the best rival's | points at most the baselines' |",
             "|---|---:|---:|---:|"]
    for method in candidates:
        seeds = [t["methods"][method]["seeds"] for t in summary.values() if method in t["methods"]]
        if not seeds:
            continue
        rival = points_at_most(summary, method, [*peers, *baselines], min_seeds)
        base = points_at_most(summary, method, baselines, min_seeds)
        lines.append(f"| `{method}` | {min(seeds)} | {rival[0]} of {rival[1]} | "
                     f"{base[0]} of {base[1]} |")
    return "\n".join(lines) + "\n"

