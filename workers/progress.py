"""What a worker shows while it trains.

On a terminal, a progress bar per epoch (tqdm, on stderr) and a summary line
after it. Otherwise one JSON object per line on stdout, for log collectors and
scripts (`benchmarks/worker_throughput.py` reads them):

* ``{"event": "job", "time": ..., "trial": 3, "from": 1, "to": 3, "config": {...}, "recorded": {...}}``
  when a job starts (``recorded``: the objective's choices, data path included);
* ``{"event": "epoch", "time": ..., "trial": 3, "epoch": 2, "loss": 0.41, "value": 0.13,
  "images_per_s": 2210.5, "decision": "continue", "cpu_s": 81.2}`` after each epoch's report
  (``cpu_s``: CPU seconds the worker process has used so far, all threads).

``time`` is the Unix time when the line was written: the job line right after
the server handed the job out, the epoch line right after the server answered
the report.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

from tqdm import tqdm

from .objective import Advance

MODES = ("auto", "bar", "json", "off")


class TrialProgress:
    """Progress of one job; this base class shows nothing."""

    @contextmanager
    def epoch(self, epoch: int, examples: int | None) -> Iterator[Advance]:
        """Around the training part of an epoch; yields the per-batch callback."""
        yield lambda n: None

    def epoch_done(self, epoch: int, loss: float, value: float, images_per_s: float) -> None:
        """The epoch's training loss, metric and training speed."""

    def reported(self, epoch: int, decision: str) -> None:
        """The server's answer to the epoch's report."""


QUIET = TrialProgress()


class WorkerProgress:
    """Makes a `TrialProgress` per job; this base class shows nothing."""

    def job(self, trial: int, start: int, end: int, config: Mapping[str, Any], recorded: Mapping[str, Any]) -> TrialProgress:
        return QUIET


class JsonLines(WorkerProgress):
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, event: str, **fields: Any) -> None:
        self.out.write(json.dumps({"event": event, "time": time.time(), **fields}) + "\n")
        self.out.flush()

    def job(self, trial: int, start: int, end: int, config: Mapping[str, Any], recorded: Mapping[str, Any]) -> TrialProgress:
        self.write("job", trial=trial, **{"from": start, "to": end}, config=dict(config), recorded=dict(recorded))
        return _JsonTrial(self, trial)


class _JsonTrial(TrialProgress):
    def __init__(self, lines: JsonLines, trial: int) -> None:
        self.lines = lines
        self.trial = trial
        self.last: dict[str, float] = {}

    def epoch_done(self, epoch: int, loss: float, value: float, images_per_s: float) -> None:
        self.last = {"loss": loss, "value": value, "images_per_s": round(images_per_s, 1)}

    def reported(self, epoch: int, decision: str) -> None:
        self.lines.write(
            "epoch", trial=self.trial, epoch=epoch, **self.last, decision=decision,
            cpu_s=round(time.process_time(), 3),
        )


class Bars(WorkerProgress):
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def job(self, trial: int, start: int, end: int, config: Mapping[str, Any], recorded: Mapping[str, Any]) -> TrialProgress:
        tqdm.write(f"trial {trial}: epochs {start + 1}..{end} of {dict(config)}", file=self.out)
        return _BarTrial(self.out, trial, end)


class _BarTrial(TrialProgress):
    def __init__(self, out: TextIO, trial: int, end: int) -> None:
        self.out = out
        self.trial = trial
        self.end = end

    @contextmanager
    def epoch(self, epoch: int, examples: int | None) -> Iterator[Advance]:
        desc = f"trial {self.trial} epoch {epoch}/{self.end}"
        with tqdm(total=examples, desc=desc, unit="img", unit_scale=True, leave=False, file=self.out) as bar:
            yield bar.update

    def epoch_done(self, epoch: int, loss: float, value: float, images_per_s: float) -> None:
        tqdm.write(
            f"trial {self.trial} epoch {epoch}/{self.end}: loss {loss:.4f}, metric {value:.4f}, "
            f"{images_per_s:,.0f} images/s",
            file=self.out,
        )


def make_progress(mode: str, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> WorkerProgress:
    """`auto`: bars when stderr is a terminal, JSON lines otherwise."""
    if mode not in MODES:
        raise ValueError(f"progress mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "auto":
        mode = "bar" if stderr.isatty() else "json"
    if mode == "bar":
        return Bars(stderr)
    if mode == "json":
        return JsonLines(stdout)
    return WorkerProgress()
