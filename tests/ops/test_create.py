"""`rung create`: every scheduler and searcher can be chosen from the command line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from rung.client import RECOMMENDED, Client
from support import rung_command, subprocess_env

SPACE = {
    "lr": {"type": "Float", "low": 0.001, "high": 1.0, "log": True},
    "bs": {"type": "Int", "low": 16, "high": 256},
    "opt": {"type": "Categorical", "choices": ["sgd", "adam"]},
}


def create(server, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    return subprocess.run(
        rung_command("create", *args, "--space", str(space), "--server", server.address),
        capture_output=True, text=True, env=subprocess_env(), timeout=60,
    )


@pytest.mark.parametrize(
    "scheduler, searcher",
    [("asha", "random"), ("hyperband", "bohb"), ("sync_hyperband", "gp"), ("sh", "local"),
     ("fifo", "random"), ("asha_stopping", "random")],
)
def test_create_selects_scheduler_and_searcher(server, tmp_path, scheduler, searcher):
    out = create(server, tmp_path, "cli-study", "--scheduler", scheduler, "--searcher", searcher,
                 "--r-max", "27", "--max-trials", "20", "--initial-config",
                 '{"lr": 0.1, "bs": 64, "opt": "sgd"}')
    assert out.returncode == 0, out.stderr
    with Client(server.address) as client:
        spec = client.get_study("cli-study").spec
        assert (spec.scheduler.kind, spec.searcher.kind, spec.scheduler.r_max) == (scheduler, searcher, 27)
        assert spec.budget.max_trials == 20 and len(spec.searcher.initial_configs) == 1


def test_create_recommended_picks_the_recommended_pair(server, tmp_path):
    out = create(server, tmp_path, "rec", "--recommended", "--r-max", "27", "--max-trials", "9")
    assert out.returncode == 0, out.stderr
    with Client(server.address) as client:
        spec = client.get_study("rec").spec
        assert (spec.scheduler.kind, spec.searcher.kind) == (
            RECOMMENDED["scheduler"], RECOMMENDED["searcher"])
    out = create(server, tmp_path, "rec2", "--recommended", "--searcher", "gp", "--max-trials", "9")
    assert out.returncode == 2 and "--recommended" in out.stderr


def test_create_refuses_bad_input_clearly(server, tmp_path):
    out = create(server, tmp_path, "bad", "--max-trials", "5", "--r-min", "10", "--r-max", "9")
    assert out.returncode == 2 and "r_min" in out.stderr
    out = create(server, tmp_path, "bad", "--max-trials", "5", "--initial-config", "{nope")
    assert out.returncode == 2 and "initial config" in out.stderr
    out = create(server, tmp_path, "bad")  # no budget
    assert out.returncode == 2 and "budget" in out.stderr
