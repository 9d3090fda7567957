"""Record LeNet learning curves on Fashion-MNIST for the `lenet` tabular benchmark.

Every configuration of a fixed grid (learning rate, batch size, momentum, weight
decay, width) is trained with rung's own worker code (`rung.workers.training.
ImageClassification`, the same cosine schedule, seeding and data split a live `rung worker`
uses) for `--epochs` epochs; after each epoch the validation error and the
seconds the epoch took (wall clock and this process's CPU time) are kept.

Resumable: each finished configuration is appended as one JSON line to `--out`
(the first line holds the settings), and a restart skips the configurations
already there, so a crash loses at most the configuration in progress. The grid
is visited in a seeded random order, so a run cut short still covers it evenly.
`--pack` turns the lines into the compressed table rung ships
(`rung/sim/data/lenet_fmnist_curves.json.gz`).

    nice -n 10 python benchmarks/record_lenet_curves.py --out curves.jsonl \\
        --configs 216 --epochs 27 --n-train 2048 --n-val 1024 --threads 1 \\
        --pack src/rung/sim/data/lenet_fmnist_curves.json.gz
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import itertools
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rung.workers.training import ImageClassification, TrainingSettings

from rung.core.space import FiniteRange, SearchSpace

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_records.py
from _records import read_records

GRID = SearchSpace(
    {
        "learning_rate": FiniteRange(1e-3, 10**-0.5, 6, log=True),  # 10^-3, 10^-2.5, ..., 10^-0.5
        "batch_size": FiniteRange(32, 128, 3, log=True, cast_int=True),
        "momentum": FiniteRange(0.0, 0.9, 3),
        "weight_decay": FiniteRange(0.0, 1e-3, 2),
        "width": FiniteRange(0.5, 1.0, 2),  # LeNet's conv channels: 3 and 8, or 6 and 16
    }
)
"""The grid, as ordered finite domains: the `lenet` benchmark's search space, stored with the table."""


def grid_configs(seed: int) -> list[dict[str, Any]]:
    """All grid points, in an order shuffled by `seed`."""
    names = list(GRID.params)
    values = [domain.values() for domain in GRID.params.values()]
    points = [dict(zip(names, point)) for point in itertools.product(*values)]
    order = np.random.default_rng(seed).permutation(len(points))
    return [points[i] for i in order]


def config_key(config: dict[str, Any]) -> str:
    return json.dumps({name: config[name] for name in GRID.params}, sort_keys=True)


def drop_torn_tail(path: Path) -> None:
    """Cut a last line left unfinished by a crash, so the next append starts a line of its own."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def record_curve(objective: ImageClassification, config: dict[str, Any], epochs: int) -> dict[str, Any]:
    """Train `config` from scratch for `epochs` epochs; keep error and seconds of every epoch."""
    errors: list[float] = []
    wall: list[float] = []
    cpu: list[float] = []
    clock = [time.perf_counter(), time.process_time()]

    def on_epoch(epoch: int, val_error: float) -> bool:
        now = [time.perf_counter(), time.process_time()]
        errors.append(val_error)
        wall.append(round(now[0] - clock[0], 4))
        cpu.append(round(now[1] - clock[1], 4))
        clock[:] = now
        return True

    with tempfile.TemporaryDirectory() as tmp:
        objective.train(config, 0, epochs, None, Path(tmp) / "checkpoint.pt", on_epoch)
    return {"config": config, "val_error": errors, "wall_seconds": wall, "cpu_seconds": cpu}


def record(args: argparse.Namespace) -> None:
    settings = {
        "epochs": args.epochs,
        "n_train": args.n_train,
        "n_val": args.n_val,
        "threads": args.threads,
        "seed": args.seed,
        "space": GRID.to_json(),
    }
    header, done = read_records(args.out)
    if header is not None and header["settings"] != json.loads(json.dumps(settings)):
        sys.exit(f"{args.out} was recorded with other settings ({header['settings']}); use another --out")
    if header is not None:
        drop_torn_tail(args.out)
    else:
        machine = {"platform": platform.platform(), "processor": platform.processor(), "torch": torch.__version__}
        with args.out.open("w") as out:
            out.write(json.dumps({"settings": settings, "machine": machine}) + "\n")
    finished = {config_key(r["config"]) for r in done}
    todo = [c for c in grid_configs(args.seed)[: args.configs] if config_key(c) not in finished]
    print(f"{len(finished)} configurations recorded already, {len(todo)} to go", flush=True)
    torch.set_num_threads(args.threads)
    objective = ImageClassification(
        TrainingSettings(
            data_dir=args.data_dir,
            max_epochs=args.epochs,
            n_train=args.n_train,
            n_val=args.n_val,
            device="cpu",
            seed=args.seed,
        )
    )
    for i, config in enumerate(todo, 1):
        started = time.perf_counter()
        curve = record_curve(objective, config, args.epochs)
        with args.out.open("a") as out:
            out.write(json.dumps(curve) + "\n")
        print(
            f"[{i}/{len(todo)}] {config_key(config)} final error {curve['val_error'][-1]:.4f} "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )


def pack(source: Path, target: Path) -> None:
    """Write the recorded curves as the compact table `rung.sim.tabular` reads."""
    header, records = read_records(source)
    if header is None or not records:
        sys.exit(f"{source} holds no recorded curves")
    table = {
        "settings": header["settings"],
        "machine": header.get("machine", {}),
        "packed": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "configs": [[r["config"][name] for name in GRID.params] for r in records],
        "val_error": [r["val_error"] for r in records],
        "cpu_seconds": [r["cpu_seconds"] for r in records],
        "wall_seconds": [r["wall_seconds"] for r in records],
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(target, "wt", compresslevel=9) as out:
        json.dump(table, out, separators=(",", ":"))
    print(f"wrote {len(records)} curves to {target} ({target.stat().st_size} bytes)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("lenet_curves.jsonl"), help="JSON lines, appended to")
    parser.add_argument("--configs", type=int, default=len(grid_configs(0)), help="how many grid points")
    parser.add_argument("--epochs", type=int, default=27)
    parser.add_argument("--n-train", type=int, default=2048)
    parser.add_argument("--n-val", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--seed", type=int, default=0, help="data split, trial seeds and grid order")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "rung-data")
    parser.add_argument("--pack", type=Path, help="then write the compressed table here")
    parser.add_argument("--pack-only", action="store_true", help="only pack what --out holds")
    args = parser.parse_args(argv)
    if not args.pack_only:
        record(args)
    if args.pack is not None:
        pack(args.out, args.pack)


if __name__ == "__main__":
    main()
