"""rung's methods and its peers on the same simulated benchmarks, budget and workers.

    .venv/bin/python benchmarks/compare.py --seeds 20 --seeds-for synetune:bayesopt=5

(every benchmark and method by default; --benchmarks and --methods narrow it.)

Every method runs in rung's discrete-event simulator (4 workers, rung levels
r = 1, 3, 9, 27, a budget of 60 full-fidelity evaluations of worker time, the
same benchmark seeds). rung's methods ("scheduler:searcher") run here; peers run
through the adapters in rung.sim.peers, Syne Tune, NePS, SMAC3 and DEHB each in its
own virtual environment (`make peers-venv`), Optuna in this one. Each run is cached
as one JSON file under --cache, so a rerun does only what is missing and new rung
methods can be added without rerunning the peers: a long comparison can be run in
the background and stopped at any time, and the next run goes on from the cache. Writes results.json (all
runs), summary.json and anytime_<benchmark>.png to --out, and the tables to
--doc (text below its notes marker is kept when the file is rewritten).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # runs are parallel processes already; peers inherit it
sys.path.insert(0, str(REPO / "src"))  # run from a checkout without installing

import matplotlib
from cycler import cycler

from rung.core.study import RECOMMENDED
from rung.sim.benchmarks import BENCHMARKS
from rung.sim.cache import RunCache
from rung.sim.compare import (
    default_candidates_table, head_to_head, markdown_table, safe_default_table, summarize,
)
from rung.sim.peers import PEER_VENVS, PEERS
from rung.sim.plots import plot_anytime
from rung.sim.runner import BenchSettings, Task, method_label, parse_method, run_task

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_report.py, also when imported
from _report import Fragment, add_write_docs_flag, write_readme_block

RUNG_METHODS = ("fifo:random", "asha:random", "hyperband:random", "asha:gp", "hyperband:gp",
                "asha:bohb", "hyperband:bohb", "asha_stopping:gp", "asha:mfgp", "hyperband:mfgp",
                "model_promotion:mfgp")
PEER_METHODS = ("synetune:bayesopt", "synetune:random", "optuna:tpe_hyperband", "optuna:gp",
                "optuna:gp_hyperband", "neps:priorband", "neps:priorband_bo", "neps:asha",
                "neps:default", "smac:hyperband_rf", "dehb")
# Synthetic functions, the CNN surrogate, and curves recorded from real training.
DEFAULT_BENCHMARKS = ("hartmann3", "hartmann6", "branin", "cnn", "lenet", "mlp-digits",
                      "mlp-breast_cancer", "mlp-wine", "mlp-fashion_mnist")
REFERENCE = "fifo:random"
RECOMMENDED_METHOD = f"{RECOMMENDED['scheduler']}:{RECOMMENDED['searcher']}"
BASELINES = ("asha:random", "fifo:random")  # a safe default is at most these at every point
CANDIDATES = tuple(m for m in RUNG_METHODS if m not in BASELINES)  # rung's other methods
MIN_RIVAL_SEEDS = 5  # a rival's median over fewer seeds is too noisy to judge by


# Ten colours, solid then dashed: up to twenty methods stay apart in one plot.
matplotlib.rcParams["axes.prop_cycle"] = (
    cycler(linestyle=["-", "--"]) * cycler(color=matplotlib.colormaps["tab10"].colors))


def label(method: str) -> str:
    return PEERS[method][1] if method in PEERS else method_label(method)


def check_methods(names: list[str]) -> None:
    for name in names:
        if name not in PEERS:
            parse_method(name)  # ValueError names what is unknown


def peer_python(method: str) -> Path:
    """The peer's own venv where its pins clash with rung's lock (PEER_VENVS), else this one."""
    family = method.partition(":")[0]
    if family in PEER_VENVS:
        python = REPO / PEER_VENVS[family] / "bin" / "python"
        if not python.exists():
            sys.exit(f"{python} is missing: run `make peers-venv` first")
        return python
    if importlib.util.find_spec(family) is None:
        sys.exit(f"{method} needs the {method.partition(':')[0]} package: run `make peers-venv`")
    return Path(sys.executable)


def _timed_rung_run(task: Task) -> dict:
    started = time.perf_counter()
    run = run_task(task)
    run["wall_seconds"] = time.perf_counter() - started
    return run


def run_rung(tasks: list[tuple[str, str, int]], settings: BenchSettings, cache: RunCache,
             processes: int) -> None:
    with ProcessPoolExecutor(processes) as pool:
        futures = [pool.submit(_timed_rung_run, Task(m, b, s, settings)) for m, b, s in tasks]
        for future in as_completed(futures):
            run = future.result()
            cache.store(run)
            print(f"{run['method']} {run['benchmark']} seed {run['seed']}: "
                  f"{run['wall_seconds']:.1f}s", flush=True)


def run_peers(tasks: list[tuple[str, str, int]], settings: BenchSettings, cache_root: Path,
              processes: int) -> None:
    by_python: dict[Path, list[tuple[str, str, int]]] = {}
    for task in tasks:
        by_python.setdefault(peer_python(task[0]), []).append(task)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    for python, mine in by_python.items():
        command = [str(python), "-m", "rung.sim.peers.run", "--cache", str(cache_root),
                   "--settings", json.dumps(asdict(settings)), "--tasks", json.dumps(mine),
                   "--processes", str(processes)]
        subprocess.run(command, check=True, env=env)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--benchmarks", default=",".join(DEFAULT_BENCHMARKS),
                   help=f"comma-separated, any of: {', '.join(BENCHMARKS)}")
    p.add_argument("--methods", default=",".join(RUNG_METHODS + PEER_METHODS),
                   help="comma-separated rung methods (scheduler:searcher) and peers "
                   f"({', '.join(PEERS)})")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--seeds-for", default="synetune:bayesopt=5",
                   help="fewer seeds for slow methods: METHOD=N,... (stated in the tables)")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--budget", type=float, default=60.0,
                   help="full-fidelity evaluations of worker time")
    p.add_argument("--r-min", type=int, default=1)
    p.add_argument("--r-max", type=int, default=27)
    p.add_argument("--eta", type=int, default=3)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--cache", type=Path, default=REPO / "benchmarks" / "results" / "compare_cache")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "compare")
    p.add_argument("--doc", type=Path, default=REPO / "docs" / "compare.md")
    p.add_argument("--cached-only", action="store_true",
                   help="run nothing: report on what the cache holds")
    add_write_docs_flag(p)
    args = p.parse_args()

    benchmarks = [b for b in args.benchmarks.split(",") if b]
    unknown = [b for b in benchmarks if b not in BENCHMARKS]
    if unknown:
        p.error(f"unknown benchmarks {unknown}; known: {', '.join(BENCHMARKS)}")
    methods = [m for m in args.methods.split(",") if m]
    try:
        check_methods(methods)
    except ValueError as exc:
        p.error(str(exc))
    seeds = {m: args.seeds for m in methods}
    for item in filter(None, args.seeds_for.split(",")):
        name, _, count = item.partition("=")
        if name in seeds:
            seeds[name] = min(args.seeds, int(count))

    settings = BenchSettings(methods=tuple(methods), benchmarks=tuple(benchmarks),
                             seeds=args.seeds, workers=args.workers, budget=args.budget,
                             r_min=args.r_min, r_max=args.r_max, eta=args.eta, rung_seeds=0)
    cache = RunCache(args.cache, asdict(settings))
    wanted = [(m, b, s) for b in benchmarks for m in methods for s in range(seeds[m])]
    # seed by seed, so an interrupted run leaves every method and benchmark some seeds
    missing = sorted(cache.missing(wanted), key=lambda t: (t[2], benchmarks.index(t[1])))
    if missing and not args.cached_only:
        print(f"{len(wanted) - len(missing)} runs cached, {len(missing)} to run", flush=True)
        rung_tasks = [t for t in missing if t[0] not in PEERS]
        if rung_tasks:
            run_rung(rung_tasks, settings, cache, args.processes)
        peer_tasks = [t for t in missing if t[0] in PEERS]
        if peer_tasks:
            run_peers(peer_tasks, settings, args.cache, args.processes)

    runs = [run for key in wanted if (run := cache.load(*key)) is not None]
    if not runs:
        sys.exit("no runs in the cache for these settings")
    # --cached-only changes what runs, not what the tables say: the command reproduces them
    command = "benchmarks/compare.py " + shlex.join(a for a in sys.argv[1:] if a != "--cached-only")
    summary = write_report(runs, replace(settings, seeds=max(seeds.values())), args.out, args.doc,
                           command)
    if args.write_docs:  # the safe-default table, for the pages that quote it and the README
        rivals = [m for m in PEER_METHODS if m != RECOMMENDED_METHOD] + list(BASELINES)
        out = Fragment("compare")
        out.print(f"The recommended method (`{RECOMMENDED_METHOD}`): its median simple regret / "
                  "the lowest median among the peers and the baselines "
                  f"(`{'`, `'.join(BASELINES)}`) with at least {MIN_RIVAL_SEEDS} seeds at that "
                  f"fraction of the budget, and which method that is; bold where it is higher. "
                  f"{len(runs)} runs from the cache.")
        out.print()
        out.print(safe_default_table(summary, RECOMMENDED_METHOD, rivals, MIN_RIVAL_SEEDS))
        typed = ".venv/bin/python " + command
        out.write(command=typed)
        write_readme_block("compare", out.text(typed))
    return 0


NOTES_MARKER = "<!-- notes: everything below is kept when benchmarks/compare.py rewrites this file -->"


def write_report(runs: list[dict], settings: BenchSettings, out: Path, doc: Path,
                 command: str) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(runs, REFERENCE)
    (out / "results.json").write_text(json.dumps({"settings": asdict(settings), "runs": runs}))
    (out / "summary.json").write_text(json.dumps(
        {"settings": asdict(settings), "benchmarks": summary}, indent=1))
    sections = []
    for benchmark, table in summary.items():
        mine = [r for r in runs if r["benchmark"] == benchmark]
        by_label: dict[str, list[dict]] = {}
        for run in mine:
            by_label.setdefault(label(run["method"]), []).append(run)
        title = f"{benchmark}, {settings.workers} workers, budget {settings.budget:g}"
        plot = plot_anytime(by_label, table["horizon"], out / f"anytime_{benchmark}.png", title,
                            target=table["reference_final_median"], legend_outside=True)
        link = os.path.relpath(plot, doc.parent)
        target = table["reference_final_median"]
        shown = "no fifo:random runs" if target is None else f"{target:.4g}"
        sections.append(f"### {benchmark}\n\nRandom search's final median regret: {shown}\n\n"
                        f"{markdown_table(table, lambda m: f'{label(m)} (`{m}`)')}\n![{benchmark}]({link})\n")
    doc.parent.mkdir(parents=True, exist_ok=True)
    notes = ""
    if doc.exists() and NOTES_MARKER in doc.read_text():
        notes = doc.read_text().split(NOTES_MARKER, 1)[1]
    header = (
        "# rung and its peers in the simulator\n\n"
        "Generated by\n\n"
        f"    .venv/bin/python {command}\n\n"
        f"({len(runs)} runs, each cached in benchmarks/results/compare_cache/.) "
        f"{settings.workers} simulated workers, rung levels {settings.r_min}..{settings.r_max} "
        f"(eta {settings.eta}), a budget of {settings.budget:g} full-fidelity evaluations of "
        "worker time. Cells: median simple regret [25 %, 75 % quantiles] over the seeds "
        "(– while fewer than half of the runs have a result); the budget column is the first "
        "fraction of the budget at which the method's median regret is at or below random "
        "search's (fifo:random) final median. s / run: median wall-clock seconds of one "
        "simulated run, the method's own decision cost on a shared 2-core machine.\n\n"
    )
    rivals = [m for m in PEER_METHODS if m != RECOMMENDED_METHOD] + list(BASELINES)
    versus = (
        f"### Is the recommended method (`{RECOMMENDED_METHOD}`) ever the wrong choice?\n\n"
        "Its median simple regret / the lowest median among the peers and the two baselines "
        f"(`{'`, `'.join(BASELINES)}`) with at least {MIN_RIVAL_SEEDS} seeds, and which method "
        "that is; bold where the recommended method's is higher.\n\n"
        f"{safe_default_table(summary, RECOMMENDED_METHOD, rivals, MIN_RIVAL_SEEDS)}\n"
        "### Each of rung's methods as the default\n\n"
        "The (benchmark, budget) points where the method's median regret is at most that of "
        "every peer and baseline with at least "
        f"{MIN_RIVAL_SEEDS} seeds, and at most the baselines' alone; seeds: its fewest on "
        "any benchmark.\n\n"
        f"{default_candidates_table(summary, CANDIDATES, PEER_METHODS, BASELINES, MIN_RIVAL_SEEDS)}\n"
        "### Head to head, peer by peer\n\n"
        "Median simple regret at each fraction of the budget, rung / peer (seeds: rung / "
        "peer), and the two claims the comparison checks on every benchmark.\n\n"
    )
    for peer in PEER_METHODS:
        if any(peer in t["methods"] for t in summary.values()):
            versus += f"#### {label(peer)} (`{peer}`)\n\n"
            versus += f"{head_to_head(summary, RECOMMENDED_METHOD, peer)}\n"
    doc.write_text(header + versus + "\n".join(sections) + "\n" + NOTES_MARKER + (notes or "\n"))
    print(f"wrote {out}/results.json, summary.json, {len(summary)} plots and {doc}")
    return summary


if __name__ == "__main__":
    raise SystemExit(main())
