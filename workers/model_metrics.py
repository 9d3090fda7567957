"""Model size and inference latency, reported beside validation error for multi-objective studies.

`rung worker --model-metrics` makes the CNN objective report, at every epoch,
{"error": validation error, "params": parameter count, "latency_ms": median
wall time of one forward pass on a batch of one image}, so a study can trade
accuracy against size or speed (objectives or constraints on these names).
Latency is measured once per job, before training: a few untimed passes,
then the median of timed ones.
"""

from __future__ import annotations

import statistics
import time
from typing import Sequence

import torch
from torch import nn

WARMUP, REPEATS = 3, 20


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def inference_latency_ms(model: nn.Module, input_shape: Sequence[int], device: torch.device) -> float:
    """Median milliseconds of a batch-of-one forward pass (CUDA synchronized)."""
    was_training = model.training
    model.eval()
    x = torch.zeros((1, *input_shape), device=device)
    times = []
    for i in range(WARMUP + REPEATS):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        model(x)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= WARMUP:
            times.append((time.perf_counter() - start) * 1000.0)
    model.train(was_training)
    return statistics.median(times)


def model_metrics(model: nn.Module, input_shape: Sequence[int], device: torch.device) -> dict[str, float]:
    return {
        "params": float(parameter_count(model)),
        "latency_ms": inference_latency_ms(model, input_shape, device),
    }
