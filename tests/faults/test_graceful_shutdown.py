"""SIGTERM to a worker mid-job: it finishes the epoch, checkpoints it, reports,
hands the job back (Release) and exits 0; another worker resumes the trial from
that epoch — not from the last rung, and without waiting for a lease to expire."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from rung.client import Client
from rung.v1 import rung_pb2 as pb
from support import ServerProcess
from worker_fleet import R_MAX, STUDY, kill_in_promoted_segment, start_worker, stop_all, wait_exit


@pytest.mark.parametrize("checkpoints", ["server", "directory"])
def test_sigterm_hands_the_job_back_with_a_fresh_checkpoint(
    tmp_path: Path, fmnist_dir: Path, checkpoints: str
) -> None:
    # A long lease: a resume that came from lease expiry would take minutes, not seconds.
    server = ServerProcess(tmp_path / "rung.db", lease_seconds=600).start()
    workers = {}
    try:
        with Client(server.address, retry_seconds=30) as client:
            client.create_study("graceful", **STUDY)
            where = "server" if checkpoints == "server" else str(tmp_path / "shared")
            logs = {w: tmp_path / f"worker-{w}.log" for w in ("A", "B")}
            workers = {
                w: start_worker(server.address, "graceful", fmnist_dir, w, where, logs[w])
                for w in ("A", "B")
            }
            # Two epochs to go: a worker told to stop during its last epoch finishes the
            # segment, and there is nothing left to hand back.
            trial_id, stopped = kill_in_promoted_segment(
                lambda: client.list_trials("graceful"), workers, sig=signal.SIGTERM, epochs_left=2
            )
            wait_exit(workers[stopped], logs[stopped], timeout=120)  # exit code 0
            survivor = "B" if stopped == "A" else "A"
            wait_exit(workers[survivor], logs[survivor])

            trial = next(t for t in client.list_trials("graceful") if t.id == trial_id)
            assert client.get_study("graceful").state == pb.STUDY_DONE
            assert trial.status == pb.COMPLETED
            (released,) = [s for s in trial.segments if s.lost]
            after = trial.segments[list(trial.segments).index(released) + 1]
            assert released.worker_id == stopped and after.worker_id == survivor
            # The hand-back checkpoint is at the last epoch it reported, past the rung.
            reported = [o.resource for o in trial.observations if released.seq < o.seq < after.seq]
            assert after.resume_from == max(reported) > released.resume_from
            assert after.milestone == R_MAX
            assert any(f.startswith("released by its worker") for f in trial.failures)
            assert not any("lease expired" in f for f in trial.failures)
    finally:
        stop_all(list(workers.values()))
        server.terminate()
