"""Worker loss: a worker SIGKILLed mid-trial, and another resumes that trial from its checkpoint.

Two real `rung worker` processes share a study on a server whose leases last
3 seconds. The worker training the promoted segment (1 -> 4) is killed after it
reported epoch 2, past the checkpoint at 1. Once the lease expires, the other
worker must get that trial, resume it from the checkpoint at 1 (not from 0,
not from the lost epochs), and the study must complete. With `server`
checkpoints the workers share no folder at all; with a directory they share one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest

from rung.client import Client
from rung.v1 import rung_pb2 as pb
from rung.workers.checkpoint import read_checkpoint
from support import ServerProcess
from worker_fleet import (
    R_MAX,
    STUDY,
    assert_resumed_by_another_worker,
    kill_in_promoted_segment,
    start_worker,
    stop_all,
    wait_exit,
)


def stored_refs(server: ServerProcess, study: str) -> set[str]:
    """References of the blobs in the server's checkpoint folder (<db>.checkpoints)."""
    root = Path(f"{server.db}.checkpoints") / study
    return {
        f"server:{study}/{blob.parent.name}/{blob.stem[1:].replace('-', '@', 1)}"
        for blob in root.glob("*/r*.pt")
    }


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.parametrize("checkpoints", ["server", "directory"])
def test_a_killed_workers_trial_is_resumed_by_another_from_its_checkpoint(
    tmp_path: Path, fmnist_dir: Path, checkpoints: str
) -> None:
    server = ServerProcess(
        tmp_path / "rung.db", ["--checkpoint-sweep-seconds", "0.5"], lease_seconds=3
    ).start()
    workers = {}
    try:
        with Client(server.address, retry_seconds=30) as client:
            client.create_study("loss", **STUDY)
            where = "server" if checkpoints == "server" else str(tmp_path / "shared")
            logs = {w: tmp_path / f"worker-{w}.log" for w in ("A", "B")}
            workers = {
                w: start_worker(server.address, "loss", fmnist_dir, w, where, logs[w])
                for w in ("A", "B")
            }
            trial_id, killed = kill_in_promoted_segment(lambda: client.list_trials("loss"), workers)
            survivor = "B" if killed == "A" else "A"
            wait_exit(workers[survivor], logs[survivor])  # exits once the study is done

            trials = client.list_trials("loss")
            resumed = assert_resumed_by_another_worker(trials, trial_id, killed)
            assert resumed.worker_id == survivor
            assert client.get_study("loss").state == pb.STUDY_DONE
            refs = {t.checkpoint for t in trials}
            assert all(r.startswith("server:") == (checkpoints == "server") for r in refs), refs
            best = client.study("loss").export_best_checkpoint(tmp_path / "best.pt")
            assert best.id == trial_id  # the only trial that reached r_max
            assert read_checkpoint(tmp_path / "best.pt")["epoch"] == R_MAX
            if checkpoints == "server":  # retention leaves exactly what can still be loaded
                wait_until(lambda: stored_refs(server, "loss") == refs, "retention sweep")
    finally:
        stop_all(list(workers.values()))
        server.terminate()
