"""`rung demo`: the main job on the embedded default.

A `rung serve` subprocess with a SQLite file in the work folder, local
`rung worker` subprocesses, and an ASHA study tuning LeNet on Fashion-MNIST
(learning rate and batch size, validation error minimized). Progress is printed
while it runs; the summary says what resuming from checkpoints saved.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from scipy import stats

from rung.client import Client
from rung.server.launch import spawn_server
from rung.status import format_config, segment_progress
from rung.v1 import rung_pb2 as pb

STUDY = "demo"
PROGRESS_SECONDS = 5.0


@dataclass(frozen=True)
class DemoSettings:
    workdir: Path
    data_dir: Path
    workers: int = 2
    trials: int = 32
    r_max: int = 27
    eta: int = 3
    scheduler: str = "asha"
    searcher: str = "random"
    n_train: int = 20000
    n_val: int = 1000
    seed: int = 0


def start_server(db: Path, lease_seconds: float = 30.0) -> tuple[subprocess.Popen[str], str]:
    """Starts `rung serve` on a free loopback port (its log next to the database).

    In a session of its own: a Ctrl-C in the terminal reaches the demo, which then stops
    the server with one SIGTERM; the server would take the terminal's SIGINT and that
    SIGTERM as two signals, and a second signal ends it without a graceful stop."""
    args = ["--host", "127.0.0.1", "--port", "0", "--db", str(db), "--lease-seconds", str(lease_seconds)]
    return spawn_server(args, db.with_suffix(".log"), start_new_session=True)


def _all_exited(procs: Sequence[subprocess.Popen[bytes]], timeout: float) -> bool:
    """Waits up to `timeout` seconds in all for every process to exit."""
    deadline = time.monotonic() + timeout
    try:
        for proc in procs:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return False
    return True


def epochs_saved(trials: Sequence[pb.Trial]) -> tuple[int, int]:
    """(epochs trained, epochs retraining from scratch would have needed) over all jobs."""
    trained = scratch = 0
    for t in trials:
        for seg, reached in segment_progress(t):
            trained += reached - seg.resume_from
            scratch += reached
    return trained, scratch


def run_demo(s: DemoSettings) -> int:
    from rung.workers.data import prepare_fashion_mnist

    shutil.rmtree(s.workdir, ignore_errors=True)
    s.workdir.mkdir(parents=True)
    prepare_fashion_mnist(s.data_dir)  # once, before several workers read it
    server, address = start_server(s.workdir / "rung.db")
    workers: list[subprocess.Popen[bytes]] = []
    started = time.monotonic()
    try:
        client = Client(address)
        client.create_study(
            STUDY,
            space={"learning_rate": stats.loguniform(1e-2, 1.0), "batch_size": stats.randint(32, 256)},
            initial_configs=[{"learning_rate": 0.1, "batch_size": 128}],
            scheduler=s.scheduler, searcher=s.searcher,
            r_min=1, r_max=s.r_max, eta=s.eta, max_trials=s.trials, seed=s.seed,
        )
        print(f"rung demo: server {address}, {s.workers} workers, {s.scheduler} eta={s.eta} "
              f"r_max={s.r_max}, {s.searcher} searcher, "
              f"{s.trials} trials, LeNet on Fashion-MNIST ({s.n_train} train / {s.n_val} val images)",
              flush=True)
        threads = max(1, 2 // s.workers)
        for i in range(s.workers):
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "rung.cli", "worker", "--server", address, "--study", STUDY,
                 "--max-epochs", str(s.r_max), "--checkpoints", str(s.workdir / "checkpoints"),
                 "--data-dir", str(s.data_dir), "--n-train", str(s.n_train), "--n-val", str(s.n_val),
                 "--threads", str(threads), "--worker-id", f"local-{i}", "--device", "auto",
                 "--progress", "off"],  # the demo prints its own progress
            ))
        while not _all_exited(workers, PROGRESS_SECONDS):
            study = client.get_study(STUDY)
            best = f", best error {study.incumbent.value:.4f} at r={study.incumbent.resource}" if study.has_incumbent else ""
            print(f"[{time.monotonic() - started:5.0f}s] trials {study.trials_started}/{s.trials}, "
                  f"running {study.trials_running}, promotions {study.promotions}{best}", flush=True)
        failed = [w.returncode for w in workers if w.returncode != 0]
        if failed:
            print(f"rung demo: {len(failed)} worker(s) failed", file=sys.stderr)
            return 1
        summarize(client.get_study(STUDY), client.list_trials(STUDY), time.monotonic() - started)
        client.close()
        return 0
    finally:
        for w in workers:
            if w.poll() is None:
                w.terminate()
        server.terminate()
        server.wait(timeout=30)


def summarize(study: pb.Study, trials: Sequence[pb.Trial], seconds: float) -> None:
    resumed = sum(1 for t in trials for seg in t.segments if seg.resume_from > 0)
    trained, scratch = epochs_saved(trials)
    print(f"\nrung demo finished in {seconds:.0f}s")
    if study.has_incumbent:
        inc = study.incumbent
        print(f"  best config: {format_config(inc.config)} (trial {inc.trial_id})")
        print(f"  validation error: {inc.value:.4f} after {inc.resource} epochs")
    print(f"  trials started: {study.trials_started}, promotions: {study.promotions} "
          f"({resumed} jobs resumed from a checkpoint)")
    print(f"  epochs trained: {trained}; retraining promoted trials from scratch would take "
          f"{scratch}: resuming saved {scratch - trained} epochs ({(scratch - trained) / max(1, scratch):.0%})")
