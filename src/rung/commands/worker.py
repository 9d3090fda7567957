"""`rung worker`: its flags (what to train, on which data path), and the worker loop they start."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rung.core.errors import InvalidArgument

from .common import add_connection_flags, add_training_flags, open_client


def add_worker_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """`rung worker`: train jobs of a study (one process per GPU)."""
    p = sub.add_parser("worker", help="train jobs of a study (one process per GPU)")
    add_connection_flags(p)
    p.add_argument("--study", required=True)
    p.add_argument("--checkpoints", default="checkpoints",
                   help="checkpoint folder shared by all workers of a study, or `server` to "
                        "keep checkpoints on the server (no shared filesystem needed)")
    p.add_argument("--objective", default="cnn", metavar="cnn|dropout_mlp|MODULE:FACTORY",
                   help="what to train: the built-in CNN (--model on --dataset), the seeds' "
                        "dropout MLP, or your own factory by import path, e.g. "
                        "mypkg.train:make_objective (see docs/workers.md)")
    p.add_argument("--objective-option", action="append", default=[], metavar="KEY=VALUE",
                   help="passed to your objective as settings.options (repeatable)")
    p.add_argument("--dataset", default="fashion_mnist", choices=["fashion_mnist", "cifar10"])
    p.add_argument("--model", default="lenet", choices=["lenet", "resnet18"])
    p.add_argument("--max-epochs", type=int, required=True,
                   help="the study's r_max (horizon of the learning-rate schedule)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--amp", action="store_true", help="mixed precision on CUDA")
    p.add_argument("--model-metrics", action="store_true",
                   help="report params and latency_ms beside error (multi-objective studies)")
    p.add_argument("--download", action="store_true",
                   help="let torchvision download CIFAR-10 if it is missing (start one worker "
                        "with it first; Fashion-MNIST falls back to a download by itself)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the train/validation split")
    p.add_argument("--worker-id", default=None)
    p.add_argument("--gpus", default=None, metavar="all|0,1,...",
                   help="start one worker process per GPU (CUDA_VISIBLE_DEVICES set for each); "
                        "without a GPU, `all` runs one worker on the CPU")
    p.add_argument("--gpus-per-trial", type=int, default=1, metavar="N",
                   help="train each trial on N GPUs with DistributedDataParallel, one process "
                        "per rank (with --device cpu: N gloo processes); with --gpus, one such "
                        "worker per N GPUs")
    p.add_argument("--ddp-timeout", type=float, default=300.0, metavar="SECONDS",
                   help="how long a rank waits in a collective before it gives up (a rank that "
                        "dies is noticed at once; this bounds one that hangs)")
    p.add_argument("--ddp-rank", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--ddp-dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--progress", default="auto", choices=["auto", "bar", "json", "off"],
                   help="a bar per epoch on a terminal, JSON lines otherwise (auto)")
    p.add_argument("--max-failures", type=int, default=3, metavar="N",
                   help="stop after N trials in a row failed with an error other than divergence "
                        "or out-of-memory (0 = never)")
    add_training_flags(p, n_train=6000)
    _add_data_path_flags(p)
    p.set_defaults(func=_worker)


def _worker(args: argparse.Namespace) -> int:
    import torch

    from rung.workers.loop import run_worker

    if args.gpus_per_trial < 1:
        raise InvalidArgument(f"--gpus-per-trial must be >= 1, got {args.gpus_per_trial}")
    if args.gpus:
        from rung.client.study import default_worker_id
        from rung.workers.launcher import launch, parse_gpus

        try:
            gpus = parse_gpus(args.gpus, torch.cuda.device_count)
            if gpus:
                worker_id = args.worker_id or default_worker_id()
                return launch(args.argv, gpus, worker_id, args.gpus_per_trial)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        print(f"rung worker --gpus {args.gpus}: this machine has no CUDA device; "
              "running one worker on the CPU instead", file=sys.stderr)
        args.device = "cpu"
        args.argv = [*args.argv, "--device", "cpu"]  # for the ranks of --gpus-per-trial
    if args.gpus_per_trial > 1 and args.ddp_rank is None:
        from .worker_ddp import supervise

        return supervise(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    group = None
    if args.ddp_rank is not None:
        from .worker_ddp import join_group

        group = join_group(args)
    objective, progress = _worker_objective(args)
    if group is not None and group.rank > 0:
        from rung.workers.ddp import run_follower

        run_follower(objective, group)
        return 0
    client = open_client(args, worker=True)
    summary = run_worker(
        client, args.study, objective, args.checkpoints, args.worker_id, progress,
        args.max_failures, group,
    )
    print(
        f"worker done: {summary.jobs} jobs, {summary.epochs_trained} epochs trained, "
        f"{summary.epochs_resumed} epochs skipped by resuming from checkpoints, "
        f"{summary.failed} trials failed"
    )
    return 0


def _worker_objective(args: argparse.Namespace) -> tuple[Any, Any]:
    """The objective (`--objective`, built from the training flags) and the progress display."""
    from rung.workers.datapath import DataPathOptions
    from rung.workers.objective import TrainingSettings, load_objective_factory
    from rung.workers.progress import make_progress

    try:
        options = dict(_key_value(text) for text in args.objective_option)
        factory = load_objective_factory(args.objective)
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
            download=args.download,
            model_metrics=args.model_metrics,
            data_path=DataPathOptions(
                loader_workers=args.loader_workers,
                pin_memory=args.pin_memory,
                persistent_workers=args.persistent_workers,
                prefetch_factor=args.prefetch_factor,
                gpu_prefetch=args.gpu_prefetch,
                on_device=args.data_on_device,
                augment=args.augment,
                channels_last=args.channels_last,
                compile=args.compile,
            ),
            options=options,
            rank=args.ddp_rank or 0,
            world_size=args.gpus_per_trial if args.ddp_rank is not None else 1,
        )
        objective = factory(settings)
        if settings.world_size > 1 and not getattr(objective, "supports_ddp", False):
            raise ValueError(
                f"--objective {args.objective} cannot train a trial on {settings.world_size} "
                "processes: its Objective must set supports_ddp = True and train "
                "context.wrap_model(model) on context.shard(...) of each batch (docs/workers.md)"
            )
        progress = make_progress(args.progress if settings.rank == 0 else "off")
        return objective, progress
    except ValueError as exc:  # bad flags, an unknown objective, a CUDA device that is not there
        raise InvalidArgument(str(exc)) from None


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--objective-option takes KEY=VALUE, got {text!r}")
    return key, value


def _add_data_path_flags(p: argparse.ArgumentParser) -> None:
    """How batches reach the model; every choice is recorded with each trial."""
    g = p.add_argument_group("data path (recorded with each trial)")
    g.add_argument("--loader-workers", type=int, default=0, help="DataLoader processes")
    g.add_argument("--pin-memory", action=argparse.BooleanOptionalAction, default=True,
                   help="page-locked batches for asynchronous copies (CUDA)")
    g.add_argument("--persistent-workers", action="store_true",
                   help="keep loader processes across epochs and trials")
    g.add_argument("--prefetch-factor", type=int, default=None,
                   help="batches each loader process prepares ahead")
    g.add_argument("--gpu-prefetch", action=argparse.BooleanOptionalAction, default=True,
                   help="copy the next batch to the GPU while the current one trains (CUDA)")
    g.add_argument("--data-on-device", action="store_true",
                   help="hold the training set on the GPU as tensors (small data sets)")
    g.add_argument("--augment", action="store_true",
                   help="random crop and flip, computed where the batch is")
    g.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    g.add_argument("--compile", action="store_true", help="torch.compile the model")
