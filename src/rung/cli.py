"""The `rung` command: serve, worker, demo, status."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

DEFAULT_DATA = Path("data")


def _serve(args: argparse.Namespace) -> int:
    from rung.server.app import serve

    return serve(Path(args.db), args.host, args.port, args.lease_seconds)


def _worker(args: argparse.Namespace) -> int:
    import torch

    from rung.workers.loop import run_worker
    from rung.workers.training import TrainingSettings

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = TrainingSettings(
        data_dir=Path(args.data_dir),
        max_epochs=args.max_epochs,
        dataset=args.dataset,
        model=args.model,
        n_train=args.n_train or None,
        n_val=args.n_val or None,
        device=args.device,
        amp=args.amp,
        seed=args.data_seed,
    )
    summary = run_worker(args.server, args.study, settings, Path(args.checkpoints), args.worker_id)
    print(
        f"worker done: {summary.jobs} jobs, {summary.epochs_trained} epochs trained, "
        f"{summary.epochs_resumed} epochs skipped by resuming from checkpoints"
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    from rung.status import show_status

    return show_status(args.server, args.study, args.watch)


def _demo(args: argparse.Namespace) -> int:
    from rung.demo import DemoSettings, run_demo

    return run_demo(
        DemoSettings(
            workdir=Path(args.workdir),
            data_dir=Path(args.data_dir),
            workers=args.workers,
            trials=args.trials,
            r_max=args.r_max,
            eta=args.eta,
            n_train=args.n_train,
            n_val=args.n_val,
            seed=args.seed,
        )
    )


def _add_training_flags(p: argparse.ArgumentParser, n_train: int) -> None:
    p.add_argument("--data-dir", default=str(DEFAULT_DATA), help="dataset folder")
    p.add_argument("--n-train", type=int, default=n_train, help="training images (0 = all)")
    p.add_argument("--n-val", type=int, default=1000, help="validation images held out of train")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rung", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the server daemon")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=50051, help="0 picks a free port")
    p.add_argument("--db", default="rung.db", help="SQLite journal file")
    p.add_argument("--lease-seconds", type=float, default=60.0,
                   help="a job whose worker stops heartbeating for this long is resumed elsewhere")
    p.set_defaults(func=_serve)

    p = sub.add_parser("worker", help="train jobs of a study (one process per GPU)")
    p.add_argument("--server", default="127.0.0.1:50051")
    p.add_argument("--study", required=True)
    p.add_argument("--checkpoints", default="checkpoints",
                   help="checkpoint folder (shared by all workers of a study)")
    p.add_argument("--dataset", default="fashion_mnist", choices=["fashion_mnist", "cifar10"])
    p.add_argument("--model", default="lenet", choices=["lenet", "resnet18"])
    p.add_argument("--max-epochs", type=int, required=True,
                   help="the study's r_max (horizon of the learning-rate schedule)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--amp", action="store_true", help="mixed precision on CUDA")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the train/validation split")
    p.add_argument("--worker-id", default=None)
    _add_training_flags(p, n_train=6000)
    p.set_defaults(func=_worker)

    p = sub.add_parser("status", help="show studies, trials, rungs and the incumbent")
    p.add_argument("--server", default="127.0.0.1:50051")
    p.add_argument("--study", default=None)
    p.add_argument("--watch", type=float, default=0.0, metavar="SECONDS",
                   help="refresh every SECONDS until interrupted")
    p.set_defaults(func=_status)

    p = sub.add_parser("demo", help="ASHA tunes LeNet on Fashion-MNIST with local workers")
    p.add_argument("--workdir", default="runs/demo", help="server database and checkpoints")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--trials", type=int, default=24)
    p.add_argument("--r-max", type=int, default=9, help="epochs of a fully trained trial")
    p.add_argument("--eta", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    _add_training_flags(p, n_train=10000)
    p.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
