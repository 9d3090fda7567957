"""`rung bench` and `rung plot`: argparse subcommands that src/rung/cli.py wires in."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .benchmarks import BENCHMARKS, make_benchmark
from .runner import METHODS, BenchSettings, parse_method, run_bench, write_results


def _names(known: Any) -> Any:
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {', '.join(known)}")
        return names

    return parse


def _methods(text: str) -> tuple[str, ...]:
    """Scheduler kinds, each alone or as "scheduler:searcher"."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("no method given")
    for name in names:
        try:
            parse_method(name)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return names


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "bench",
        help="simulate methods x benchmarks x seeds and plot any-time performance",
        description="Runs every method on every benchmark for every seed in the discrete-event "
        "simulator (parallel processes), writes results.json / trajectories.csv and PNG plots.",
    )
    p.add_argument("--methods", type=_methods, default=("fifo", "asha", "hyperband"),
                   help=f"comma-separated scheduler kinds ({', '.join(METHODS)}), each alone "
                   "(random searcher; fifo = random search) or as scheduler:searcher, e.g. asha:gp")
    p.add_argument("--benchmarks", type=_names(tuple(BENCHMARKS)), default=("hartmann6",),
                   help=f"comma-separated ({', '.join(BENCHMARKS)})")
    p.add_argument("--seeds", type=int, default=20, help="seeds per method and benchmark (50 for more)")
    p.add_argument("--workers", type=int, default=4, help="simulated workers")
    p.add_argument("--budget", type=float, default=60.0,
                   help="budget in full-fidelity evaluations of worker time")
    p.add_argument("--r-min", type=int, default=1)
    p.add_argument("--r-max", type=int, default=81)
    p.add_argument("--eta", type=int, default=3)
    p.add_argument("--processes", type=int, default=0, help="parallel processes (0 = one per core)")
    p.add_argument("--format", choices=("json", "csv", "both"), default="both")
    p.add_argument("--out", default="runs/bench", help="folder for results and plots")
    p.add_argument("--plots", help="folder for the PNG plots (default: --out)")
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=_bench)
    return p


def _bench(args: argparse.Namespace) -> int:
    from .plots import plot_results

    for name in args.benchmarks:  # e.g. recorded curves end at some r_max: say so before any run
        try:
            make_benchmark(name, args.r_max, 0, args.r_min)
        except ValueError as exc:
            print(f"rung bench: {exc}", file=sys.stderr)
            return 2
    settings = BenchSettings(
        methods=args.methods, benchmarks=args.benchmarks, seeds=args.seeds, workers=args.workers,
        budget=args.budget, r_min=args.r_min, r_max=args.r_max, eta=args.eta,
    )
    started = time.perf_counter()
    results = run_bench(settings, args.processes or None)
    elapsed = time.perf_counter() - started
    out = Path(args.out)
    formats = ("json", "csv") if args.format == "both" else (args.format,)
    written = write_results(results, out, formats)
    if not args.no_plots:
        written += plot_results(results, Path(args.plots) if args.plots else out)
    jobs = sum(r["jobs"] for r in results["runs"])
    print(f"{len(results['runs'])} runs, {jobs} simulated jobs in {elapsed:.1f}s")
    for path in written:
        print(f"wrote {path}")
    return 0


def add_plot_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "plot",
        help="any-time and per-rung plots of a study on a server, or of `rung bench` results",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--server", help="HOST:PORT of a rung server (with --study)")
    source.add_argument("--results", help="results.json written by `rung bench`")
    p.add_argument("--study", help="study name on the server")
    p.add_argument("--out", default="runs/plots", help="folder for the PNG files")
    p.set_defaults(func=_plot)
    return p


def _plot(args: argparse.Namespace) -> int:
    from .plots import plot_results

    out = Path(args.out)
    if args.results:
        written = plot_results(json.loads(Path(args.results).read_text()), out)
    elif not args.study:
        print("rung plot: --server needs --study")
        return 2
    else:
        written = _plot_study(args.server, args.study, out)
    for path in written:
        print(f"wrote {path}")
    return 0


def _plot_study(address: str, name: str, out: Path) -> list[Path]:
    from rung.client import Client

    from .live import incumbent_trajectory, observations, study_mode
    from .plots import plot_rungs, plot_trajectory

    with Client(address, retry_seconds=10.0) as client:
        study = client.get_study(name)
        trials = client.list_trials(name)
        rows = observations(trials)
    metric = study.spec.metric.name or "metric"
    times, values = incumbent_trajectory(rows, study_mode(study), study.created_at)
    return [
        plot_trajectory(times, values, out / f"anytime_{name}.png", f"study {name}: incumbent",
                        "seconds since the study was created", metric),
        plot_rungs([(b, r, v) for _, _, _, b, r, v in rows], out / f"rungs_{name}.png",
                   f"study {name}: results by resource", metric),
        *_plot_pareto(study, trials, out),
    ]


def _plot_pareto(study: Any, trials: Any, out: Path) -> list[Path]:
    """The front and hypervolume curve of a study with several objectives or constraints."""
    if not (study.spec.objectives or study.spec.constraints):
        return []
    from .pareto_plots import plot_front, plot_hypervolume

    name = study.spec.name
    return [plot_front(study, trials, out / f"pareto_{name}.png"),
            plot_hypervolume(study, out / f"hypervolume_{name}.png")]
