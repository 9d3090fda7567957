"""`rung worker --gpus-per-trial N`: the supervisor process, and a rank joining its group.

The supervisor re-runs this same command once per rank with `--ddp-rank R
--ddp-dir DIR` (flags hidden from `--help`), so every rank parses the same
training flags as a one-GPU worker would.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rung.core.errors import InvalidArgument

from .common import open_client

RANK_FLAGS = ("--gpus", "--worker-id", "--ddp-rank", "--ddp-dir")


def _rank_device(args: argparse.Namespace, rank: int) -> str:
    """CPU ranks for `--device cpu` (or `auto` without CUDA); otherwise GPU `rank` of the group."""
    import torch

    if args.device == "cpu" or (args.device == "auto" and not torch.cuda.is_available()):
        return "cpu"
    if args.device not in ("auto", "cuda"):
        raise InvalidArgument(
            f"--gpus-per-trial uses GPUs 0..N-1 of CUDA_VISIBLE_DEVICES; --device {args.device} "
            "picks one GPU (use --device cuda, or --device cpu for gloo processes)"
        )
    return f"cuda:{rank}"


def supervise(args: argparse.Namespace) -> int:
    """Runs the ranks of each trial (workers/ddp_supervisor.py); the exit status of the worker."""
    import sys

    import torch

    from rung.client.study import Trial, default_worker_id
    from rung.v1 import rung_pb2 as pb
    from rung.workers.ddp_supervisor import Supervisor
    from rung.workers.launcher import without_flags

    world = args.gpus_per_trial
    if _rank_device(args, 0) != "cpu" and torch.cuda.device_count() < world:
        raise InvalidArgument(
            f"--gpus-per-trial {world} needs {world} visible GPUs, this process sees "
            f"{torch.cuda.device_count()} "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')})"
        )
    worker_id = args.worker_id or default_worker_id()
    kept = without_flags(args.argv, RANK_FLAGS)

    def rank_command(rank: int, folder: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "rung.cli",
            *kept,
            "--ddp-rank",
            str(rank),
            "--ddp-dir",
            str(folder),
            "--worker-id",
            worker_id,
        ]

    def settle(job: dict[str, Any], reason: str | None) -> None:
        with open_client(args, worker=True) as client:
            trial = Trial(
                client.study(job["study"]),
                pb.Job(trial_id=job["trial_id"], lease_id=job["lease_id"]),
            )
            if reason is None:
                trial.release()  # resumes from its last rung's checkpoint
            else:
                trial.fail(reason)

    supervisor = Supervisor(rank_command, world, settle, args.max_failures, env=dict(os.environ))
    return supervisor.run()


def join_group(args: argparse.Namespace) -> Any:
    """This process's `RankGroup`; sets `args.device` to the rank's device."""
    import torch

    from rung.workers.ddp import RankGroup

    if not args.ddp_dir or args.gpus_per_trial < 2:
        raise InvalidArgument("--ddp-rank is set by `rung worker --gpus-per-trial N` for its ranks")
    rank = args.ddp_rank
    args.device = _rank_device(args, rank)
    import signal

    if rank > 0:  # rank 0 decides when to stop; a signal here would only break the group
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
    else:  # a supervisor that dies (SIGKILL) makes rank 0 hand its job back, not hold it
        _signal_when_parent_dies(signal.SIGTERM)
    return RankGroup.join(
        rank, args.gpus_per_trial, Path(args.ddp_dir), torch.device(args.device), args.ddp_timeout
    )


def _signal_when_parent_dies(sig: int) -> None:
    """Linux's PR_SET_PDEATHSIG; elsewhere nothing (the lease then expires instead)."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(sig), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
