"""examples/custom_training.py runs a whole study against a real server."""

from __future__ import annotations

import subprocess
import sys

from rung.client import Client
from rung.v1 import rung_pb2 as pb
from support import REPO, subprocess_env


def test_custom_training_example_completes_a_study(server, tmp_path):
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "custom_training.py"), "--server", server.address],
        cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    best = [line for line in out.stdout.splitlines() if line.startswith("best:")]
    # A Python value, one short line: not a protobuf dump.
    assert len(best) == 1 and best[0].startswith("best: Incumbent(trial_id=") and len(best[0]) < 200
    with Client(server.address) as client:
        study = client.get_study("custom-mlp")
        trials = client.list_trials("custom-mlp")
    assert study.state == pb.STUDY_DONE and study.trials_started == 12 and study.promotions >= 1
    assert any(o.resource == 9 for t in trials for o in t.observations)
    assert study.incumbent.value < 0.2  # the task is learnable: tuning found a good MLP
