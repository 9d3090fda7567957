"""Any-time and per-rung plots (matplotlib, Agg backend: no display needed).

Any-time: median simple regret across seeds against simulated wall-clock time,
with the 25-75 % band, log-scaled regret. Per rung: every result recorded at a
rung level, by level, coloured by bracket, as the seeds draw them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .analysis import curves, quantiles  # noqa: E402


def plot_anytime(
    runs_by_label: dict[str, Sequence[dict]],
    end: float,
    path: Path,
    title: str,
    xlabel: str = "simulated wall-clock time (full-fidelity evaluations)",
    target: float | None = None,
    legend_outside: bool = False,
) -> Path:
    """Median and 25-75 % band per method; `target` draws a dashed reference level.
    `legend_outside` puts the legend right of the axes, for many methods."""
    grid = np.linspace(0.0, end, 400)[1:]
    fig, ax = plt.subplots(figsize=(9.6, 4.8) if legend_outside else (6.4, 4.2))
    for label, runs in runs_by_label.items():
        lo, med, hi = quantiles(curves(runs, grid))
        shown = np.isfinite(med)
        (line,) = ax.plot(grid[shown], med[shown], label=f"{label} (n={len(runs)})")
        band = shown & np.isfinite(hi)
        ax.fill_between(grid[band], lo[band], hi[band], color=line.get_color(), alpha=0.2)
    if target is not None:
        ax.axhline(target, color="grey", linestyle="--", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("simple regret of the incumbent")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if legend_outside:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    else:
        ax.legend()
    return _save(fig, path)


def plot_rungs(
    results: Sequence[tuple[int, int, float]], path: Path, title: str, ylabel: str = "metric"
) -> Path:
    """`results` are (bracket, resource, value); x is the resource on a log scale, jittered."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    if results:
        data = np.array(results, dtype=float)
        rng = np.random.default_rng(0)
        jitter = np.exp(rng.uniform(-0.08, 0.08, len(data)))
        for bracket in np.unique(data[:, 0]):
            rows = data[data[:, 0] == bracket]
            ax.scatter(
                rows[:, 1] * jitter[data[:, 0] == bracket], rows[:, 2],
                s=8, alpha=0.5, label=f"bracket {int(bracket)}",
            )
        levels = np.unique(data[:, 1])
        ax.set_xscale("log")
        ax.set_xticks(levels, [str(int(v)) for v in levels])
        ax.legend()
    ax.set_xlabel("resource (rung level)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_results(results: dict, out_dir: Path) -> list[Path]:
    """Every figure for a `rung bench` result: one any-time plot per benchmark and,
    for each method whose first seed kept its rungs, one per-rung scatter."""
    from .runner import method_label

    written = []
    for benchmark in results["settings"]["benchmarks"]:
        runs = [r for r in results["runs"] if r["benchmark"] == benchmark]
        by_label: dict[str, list[dict]] = {}
        for run in runs:
            by_label.setdefault(method_label(run["method"]), []).append(run)
        end = max(r["horizon"] for r in runs)
        workers = results["settings"]["workers"]
        title = f"{benchmark}, {workers} workers"
        written.append(plot_anytime(by_label, end, out_dir / f"anytime_{benchmark}.png", title))
        for run in runs:
            if run["rungs"] and run["seed"] == 0:
                points = [(bracket, r, v) for _, bracket, r, v in run["rungs"]]
                name = f"rungs_{benchmark}_{run['method'].replace(':', '+')}.png"
                label = method_label(run["method"])
                written.append(plot_rungs(points, out_dir / name, f"{label} on {benchmark}, seed 0"))
    return written


def plot_trajectory(
    times: Sequence[float], values: Sequence[float], path: Path, title: str, xlabel: str, ylabel: str
) -> Path:
    """One study's incumbent as a step function (a live study has no regret: its optimum is unknown)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    if times:
        ax.step(list(times), list(values), where="post")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return _save(fig, path)
