"""`rung demo`: ASHA tunes LeNet on Fashion-MNIST with a local server and workers (rung.demo)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_study_flags, add_training_flags, scheduler_and_searcher


def add_demo_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """`rung demo`: a server and local workers tune LeNet."""
    p = sub.add_parser("demo", help="ASHA tunes LeNet on Fashion-MNIST with local workers")
    p.add_argument("--workdir", default="runs/demo", help="server database and checkpoints")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--trials", type=int, default=32)
    p.add_argument("--r-max", type=int, default=27, help="epochs of a fully trained trial")
    add_study_flags(p)
    add_training_flags(p, n_train=20000)
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from rung.demo import DemoSettings, run_demo

    scheduler, searcher = scheduler_and_searcher(args)
    return run_demo(
        DemoSettings(
            workdir=Path(args.workdir),
            data_dir=Path(args.data_dir),
            workers=args.workers,
            trials=args.trials,
            r_max=args.r_max,
            eta=args.eta,
            scheduler=scheduler,
            searcher=searcher,
            n_train=args.n_train,
            n_val=args.n_val,
            seed=args.seed,
        )
    )
