"""Runs peer tasks in the Simulator and stores each in the run cache; the entry point a
comparison calls inside a peer's own virtual environment:

    python -m rung.sim.peers.run --cache DIR --settings JSON --tasks JSON [--processes N]

--settings is a BenchSettings as JSON, --tasks a list of [method, benchmark, seed].
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from ..benchmarks import make_benchmark
from ..cache import RunCache
from ..runner import BenchSettings, horizon
from ..simulator import Simulator
from . import PEERS


def run_peer(method: str, benchmark: str, seed: int, settings: BenchSettings) -> dict[str, Any]:
    """One simulated run of a peer, with the same benchmark seed, workers and horizon as rung's."""
    if method not in PEERS:
        raise ValueError(f"unknown peer {method!r}; known: {', '.join(PEERS)}")
    module = importlib.import_module(PEERS[method][0])
    s = settings
    bench = make_benchmark(benchmark, s.r_max, seed, s.r_min)
    end = horizon(s, benchmark)
    scheduler = module.make(method, bench.space, s.r_min, s.r_max, s.eta, seed)
    started = time.perf_counter()
    result = Simulator(scheduler, bench, s.workers, end, record_rungs=False).run()
    return {
        "method": method,
        "benchmark": benchmark,
        "seed": seed,
        "horizon": end,
        **result.to_json(),
        "trials": len(scheduler.trials),
        "wall_seconds": time.perf_counter() - started,
    }


def _run_and_store(args: tuple[str, str, int, BenchSettings, str]) -> str:
    method, benchmark, seed, settings, cache_root = args
    run = run_peer(method, benchmark, seed, settings)
    path = RunCache(Path(cache_root), vars(settings)).store(run)
    print(f"{method} {benchmark} seed {seed}: {run['wall_seconds']:.1f}s, "
          f"final regret {run['regrets'][-1] if run['regrets'] else float('inf'):.4g}", flush=True)
    return str(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", required=True)
    p.add_argument("--settings", required=True, help="BenchSettings as JSON")
    p.add_argument("--tasks", required=True, help="JSON list of [method, benchmark, seed]")
    p.add_argument("--processes", type=int, default=1)
    args = p.parse_args(argv)
    raw = json.loads(args.settings)
    settings = BenchSettings(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
    jobs = [(m, b, int(s), settings, args.cache) for m, b, s in json.loads(args.tasks)]
    if args.processes <= 1:
        for job in jobs:
            _run_and_store(job)
    else:
        with ProcessPoolExecutor(args.processes) as pool:
            list(pool.map(_run_and_store, jobs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
