"""`rung worker --gpus all|0,1,...`: one worker process per GPU of this machine.

Each child is the same `rung worker` command without `--gpus`, with
CUDA_VISIBLE_DEVICES set to its GPU (so `--device auto` or `cuda` means that
GPU) and the worker id suffixed with `-gpu<N>`. GPU numbers count the GPUs
this process sees: when CUDA_VISIBLE_DEVICES is already set (by Slurm, say,
to "2,3"), GPU 0 is its first entry. Children run in their own
session, so a Ctrl-C reaches them once, through the launcher: SIGTERM and
SIGINT are passed on to every child, which then hands its job back gracefully.
The launcher exits 0 when every child did, 1 otherwise.
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


def child_command(argv: Sequence[str], gpu: str, worker_id: str) -> list[str]:
    """The worker command line for one GPU: `argv` without the launcher's own flags."""
    kept: list[str] = []
    skip_value = False
    for arg in argv:
        if skip_value:
            skip_value = False
        elif arg in OWN_FLAGS:
            skip_value = True
        elif not arg.startswith(tuple(f"{flag}=" for flag in OWN_FLAGS)):
            kept.append(arg)
    return [sys.executable, "-m", "rung.cli", *kept, "--worker-id", f"{worker_id}-gpu{gpu}"]


def visible_device(gpu: str, visible: str | None) -> str:
    """The CUDA_VISIBLE_DEVICES entry of GPU number `gpu` among those `visible` to this process."""
    if not visible:
        return gpu
    entries = [entry.strip() for entry in visible.split(",")]
    if int(gpu) >= len(entries):
        raise ValueError(f"--gpus {gpu}: CUDA_VISIBLE_DEVICES={visible} makes only {len(entries)} GPU(s) visible")
    return entries[int(gpu)]


def launch(argv: Sequence[str], gpus: Sequence[str], worker_id: str) -> int:
    """Runs one child per GPU until all exit; 0 when every child exited 0."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = [visible_device(gpu, visible) for gpu in gpus]
    children = [
        subprocess.Popen(
            child_command(argv, gpu, worker_id),
            env={**os.environ, "CUDA_VISIBLE_DEVICES": device},
            start_new_session=True,
        )
        for gpu, device in zip(gpus, devices, strict=True)
    ]

    def forward(signum: int, frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    codes = [child.wait() for child in children]
    return 0 if all(code == 0 for code in codes) else 1
