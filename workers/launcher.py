"""`rung worker --gpus all|0,1,...`: one worker process per GPU of this machine.

Each child is the same `rung worker` command without `--gpus`, with
CUDA_VISIBLE_DEVICES set to its GPU (so `--device auto` or `cuda` means that
GPU) and the worker id suffixed with `-gpu<N>`. GPU numbers count the GPUs
this process sees: when CUDA_VISIBLE_DEVICES is already set (by Slurm, say,
to "2,3"), GPU 0 is its first entry. Children run in their own
session, so a Ctrl-C reaches them once, through the launcher: SIGTERM and
SIGINT are passed on to every child, which then hands its job back gracefully.
The launcher exits 0 when every child did, 1 otherwise.

With `--gpus-per-trial N` each child gets N GPUs (CUDA_VISIBLE_DEVICES lists
them, the worker id ends in `-gpu0+1`) and runs N ranks per trial
(`ddp_supervisor`). A GPU count that N does not divide is an error, not GPUs
left idle in silence: name the GPUs to use (`--gpus 0,1,2,3`) instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence

OWN_FLAGS = ("--gpus", "--worker-id")


def parse_gpus(spec: str, device_count: Callable[[], int]) -> list[str]:
    """GPU indices from "all" (none on a machine without CUDA) or a list such as "0,2"."""
    if spec == "all":
        return [str(i) for i in range(device_count())]
    gpus = [part.strip() for part in spec.split(",")]
    if not gpus or not all(g.isdigit() for g in gpus) or len(set(gpus)) != len(gpus):
        raise ValueError(f"--gpus takes 'all' or distinct GPU indices like 0,1; got {spec!r}")
    return gpus


def group_gpus(gpus: Sequence[str], per_trial: int) -> list[list[str]]:
    """The GPUs cut into groups of `per_trial`, one group per worker."""
    if per_trial < 1:
        raise ValueError(f"--gpus-per-trial must be >= 1, got {per_trial}")
    if len(gpus) % per_trial:
        usable = len(gpus) - len(gpus) % per_trial
        hint = f"; list the GPUs to use, e.g. --gpus {','.join(gpus[:usable])}" if usable else ""
        raise ValueError(
            f"--gpus-per-trial {per_trial} does not divide the {len(gpus)} GPU(s) of --gpus "
            f"({','.join(gpus)}){hint}"
        )
    return [list(gpus[i : i + per_trial]) for i in range(0, len(gpus), per_trial)]


def without_flags(argv: Sequence[str], flags: Sequence[str]) -> list[str]:
    """`argv` without `flags` and their values (`--flag VALUE` or `--flag=VALUE`)."""
    kept: list[str] = []
    skip_value = False
    for arg in argv:
        if skip_value:
            skip_value = False
        elif arg in flags:
            skip_value = True
        elif not arg.startswith(tuple(f"{flag}=" for flag in flags)):
            kept.append(arg)
    return kept


def child_command(argv: Sequence[str], gpu: str, worker_id: str) -> list[str]:
    """The worker command line for one GPU (or group, "0+1"), without the launcher's flags."""
    kept = without_flags(argv, OWN_FLAGS)
    return [sys.executable, "-m", "rung.cli", *kept, "--worker-id", f"{worker_id}-gpu{gpu}"]


def visible_device(gpu: str, visible: str | None) -> str:
    """The CUDA_VISIBLE_DEVICES entry of GPU number `gpu` among those `visible` to this process."""
    if not visible:
        return gpu
    entries = [entry.strip() for entry in visible.split(",")]
    if int(gpu) >= len(entries):
        raise ValueError(f"--gpus {gpu}: CUDA_VISIBLE_DEVICES={visible} makes only {len(entries)} GPU(s) visible")
    return entries[int(gpu)]


def _visible(group: Sequence[str], visible: str | None) -> str:
    return ",".join(visible_device(gpu, visible) for gpu in group)


def launch(argv: Sequence[str], gpus: Sequence[str], worker_id: str, per_trial: int = 1) -> int:
    """One child per GPU (per group of `per_trial` GPUs) until all exit; 0 when all exited 0."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    children = [
        subprocess.Popen(
            child_command(argv, "+".join(group), worker_id),
            env={**os.environ, "CUDA_VISIBLE_DEVICES": _visible(group, visible)},
            start_new_session=True,
        )
        for group in group_gpus(gpus, per_trial)
    ]

    def forward(signum: int, frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    codes = [child.wait() for child in children]
    return 0 if all(code == 0 for code in codes) else 1
