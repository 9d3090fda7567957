"""Methods x benchmarks x seeds, simulated in parallel processes, written as JSON and CSV.

A method is a scheduler kind, alone (with the random searcher: "fifo" is
random search) or as "scheduler:searcher" ("asha:gp", "hyperband:bohb"); names
are looked up in the core registries when a run starts, so a scheduler or
searcher registered there works here by name. Runs made elsewhere (peers in
their own environments) join the same results through `merge_results`. The budget is counted, as in the ASHA paper, in full-fidelity
evaluations of worker time: with `budget` = 60 and 4 workers each run gets
60 * full_cost / 4 units of simulated wall-clock time, enforced both by the
study's own max_wall_seconds and by the simulator's horizon.
"""

from __future__ import annotations

import csv
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from ..core.schedulers import SCHEDULERS
from ..core.searchers import SEARCHERS
from ..core.study import SchedulerSettings, StudySpec
from ..core.types import Budget
from .benchmarks import make_benchmark
from .simulator import Simulator

METHODS = ("fifo", "asha", "hyperband", "asha_stopping", "sh", "sync_hyperband")
LABELS = {
    "fifo": "random search (FIFO)",
    "asha": "ASHA",
    "hyperband": "async Hyperband",
    "asha_stopping": "ASHA (stopping)",
    "sh": "sync SH",
    "sync_hyperband": "sync Hyperband",
    "model_promotion": "model-based promotion",
}


def parse_method(method: str) -> tuple[str, str]:
    """"asha" -> ("asha", "random"), "asha:gp" -> ("asha", "gp"); ValueError for unknown names."""
    scheduler, _, searcher = method.partition(":")
    searcher = searcher or "random"
    if scheduler not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {scheduler!r} in method {method!r}; "
                         f"known: {', '.join(sorted(SCHEDULERS))}")
    if searcher not in SEARCHERS:
        raise ValueError(f"unknown searcher {searcher!r} in method {method!r}; "
                         f"known: {', '.join(sorted(SEARCHERS))}")
    return scheduler, searcher


def method_label(method: str) -> str:
    """A legend label: "ASHA" for "asha" or "asha:random", "ASHA + gp" for "asha:gp",
    "FIFO + gp" for "fifo:gp"; an unknown scheduler keeps its name."""
    scheduler, _, searcher = method.partition(":")
    base = LABELS.get(scheduler)
    if base is None:
        return method
    if searcher in ("", "random"):
        return base
    return f"{'FIFO' if scheduler == 'fifo' else base} + {searcher}"


@dataclass(frozen=True)
class BenchSettings:
    methods: tuple[str, ...] = ("fifo", "asha", "hyperband")
    benchmarks: tuple[str, ...] = ("hartmann6",)
    seeds: int = 20
    workers: int = 4
    budget: float = 60.0  # full-fidelity evaluations of worker time
    r_min: int = 1
    r_max: int = 81
    eta: int = 3
    rung_seeds: int = 1  # keep per-rung results for the first few seeds only (size)


@dataclass(frozen=True)
class Task:
    method: str
    benchmark: str
    seed: int
    settings: BenchSettings


def horizon(settings: BenchSettings, benchmark: str) -> float:
    """Simulated wall-clock time of one run: the budget spread over the workers."""
    bench = make_benchmark(benchmark, settings.r_max, 0, settings.r_min)
    return settings.budget * bench.full_cost / settings.workers


def run_task(task: Task) -> dict[str, Any]:
    """One simulated study; what the server would build from the same spec."""
    s = task.settings
    scheduler, searcher = parse_method(task.method)
    bench = make_benchmark(task.benchmark, s.r_max, task.seed, s.r_min)
    end = horizon(s, task.benchmark)
    spec = StudySpec(
        name=f"{scheduler}-{searcher}-{task.benchmark}-{task.seed}",
        space=bench.space,
        scheduler=SchedulerSettings(scheduler, s.r_min, s.r_max, s.eta),
        searcher=searcher,
        budget=Budget(max_wall_seconds=end),
        seed=task.seed,
    )
    keep_rungs = task.seed < s.rung_seeds
    result = Simulator(spec.build_scheduler(), bench, s.workers, end, keep_rungs).run()
    return {
        "method": task.method,
        "benchmark": task.benchmark,
        "seed": task.seed,
        "horizon": end,
        **result.to_json(),
    }


def run_bench(settings: BenchSettings, processes: int | None = None) -> dict[str, Any]:
    tasks = [
        Task(m, b, seed, settings)
        for b in settings.benchmarks
        for m in settings.methods
        for seed in range(settings.seeds)
    ]
    processes = processes or os.cpu_count() or 1
    if processes == 1:
        runs = [run_task(t) for t in tasks]
    else:
        with ProcessPoolExecutor(processes) as pool:
            runs = list(pool.map(run_task, tasks, chunksize=max(1, len(tasks) // (4 * processes))))
    return {"settings": asdict(settings), "runs": runs}


SHARED_SETTINGS = ("workers", "budget", "r_min", "r_max", "eta")


def merge_results(*parts: dict[str, Any]) -> dict[str, Any]:
    """One results dict from several (rung's runs, a peer's runs), which must share the
    workers, budget and rung levels; methods and benchmarks are the union, in order."""
    if not parts:
        raise ValueError("nothing to merge")
    settings = dict(parts[0]["settings"])
    for part in parts[1:]:
        other = part["settings"]
        differ = [k for k in SHARED_SETTINGS if other[k] != settings[k]]
        if differ:
            raise ValueError(f"cannot merge results with different settings: {', '.join(differ)}")
    runs = [run for part in parts for run in part["runs"]]
    settings["methods"] = list(dict.fromkeys(r["method"] for r in runs))
    settings["benchmarks"] = list(dict.fromkeys(r["benchmark"] for r in runs))
    settings["seeds"] = max(part["settings"]["seeds"] for part in parts)
    return {"settings": settings, "runs": runs}


def write_results(results: dict[str, Any], out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """results.json (everything) and/or trajectories.csv (one row per incumbent change)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if "json" in formats:
        path = out_dir / "results.json"
        path.write_text(json.dumps(results))
        written.append(path)
    if "csv" in formats:
        path = out_dir / "trajectories.csv"
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["method", "benchmark", "seed", "time", "regret"])
            for run in results["runs"]:
                for t, regret in zip(run["times"], run["regrets"]):
                    writer.writerow([run["method"], run["benchmark"], run["seed"], t, regret])
        written.append(path)
    return written
