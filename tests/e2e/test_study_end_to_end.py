"""The spine, end to end with real parts: a `rung serve` subprocess with a SQLite
journal, two `rung worker` subprocesses training LeNet on a slice of
Fashion-MNIST, promoted trials resuming from checkpoints, and a SIGKILL of the
server in the middle of the study."""

from __future__ import annotations

import subprocess
import time

from scipy import stats

from rung.client import Client
from rung.core.rungs import rung_levels
from rung.v1 import rung_pb2 as pb
from support import rung_command, subprocess_env, verify_asha_history

ETA, R_MAX, TRIALS = 3, 9, 12


def start_workers(address, fmnist_dir, checkpoints, n=2):
    return [
        subprocess.Popen(
            rung_command(
                "worker", "--server", address, "--study", "e2e", "--max-epochs", str(R_MAX),
                "--checkpoints", str(checkpoints), "--data-dir", str(fmnist_dir),
                "--n-train", "256", "--n-val", "64", "--threads", "1", "--device", "cpu",
                "--worker-id", f"w{i}",
            ),
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(n)
    ]


def wait_for_observations(client, workers, count, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for w in workers:
            assert w.poll() is None, w.communicate()[0]
        trials = client.list_trials("e2e")
        if sum(len(t.observations) for t in trials) >= count:
            return trials
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} reports after {timeout}s")


def test_asha_study_with_two_workers_survives_a_server_kill(server, fmnist_dir, tmp_path):
    client = Client(server.address)
    client.create_study(
        "e2e",
        space={"learning_rate": stats.loguniform(1e-2, 0.5), "batch_size": stats.randint(16, 64)},
        r_min=1, r_max=R_MAX, eta=ETA, max_trials=TRIALS, seed=3,
    )
    workers = start_workers(server.address, fmnist_dir, tmp_path / "checkpoints")
    try:
        acknowledged = wait_for_observations(client, workers, 8)
        server.kill()  # SIGKILL: whatever was acknowledged must already be on disk
        server.start()  # same port, same database
        outputs = [w.communicate(timeout=300)[0] for w in workers]
    finally:
        for w in workers:
            w.kill()
    for w, out in zip(workers, outputs):
        assert w.returncode == 0, out

    study = client.get_study("e2e")
    trials = client.list_trials("e2e")
    assert study.state == pb.STUDY_DONE
    assert study.trials_started == TRIALS
    assert all(t.status in (pb.PAUSED, pb.COMPLETED) for t in trials)

    final = {(t.id, o.resource): o.value for t in trials for o in t.observations}
    for t in acknowledged:
        for o in t.observations:
            assert final[(t.id, o.resource)] == o.value, "an acknowledged report was lost"

    promotions = verify_asha_history(trials, ETA, rung_levels(1, R_MAX, ETA))
    assert promotions == study.promotions >= 1
    assert any(t.status == pb.COMPLETED and t.observations[-1].resource == R_MAX for t in trials)
    assert {s.worker_id for t in trials for s in t.segments} == {"w0", "w1"}
    # Promoted trials resumed from the checkpoint of their last rung instead of retraining.
    resumed = [s for t in trials for s in t.segments if s.resume_from > 0]
    assert resumed and all(s.resume_from in (1, 3) for s in resumed)
    assert all(t.checkpoint.endswith(f"r{t.checkpoint_resource}.pt") for t in trials)
    assert "epochs skipped by resuming" in "".join(outputs)
    client.close()
