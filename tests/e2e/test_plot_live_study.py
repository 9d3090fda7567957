"""`rung plot --server --study` reads a live study through the SDK and draws both plots."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from scipy import stats

from rung.client import Client, Decision
from rung.sim.cli import add_plot_parser


def test_plot_a_live_study(server: Any, tmp_path: Path) -> None:
    with Client(server.address) as client:
        study = client.create_study("live", {"lr": stats.loguniform(1e-3, 1)}, r_max=3, max_trials=4)
        for trial in study.trials(worker_id="w"):
            for r in trial.epochs():
                if trial.report(r, trial.config["lr"] / r) is not Decision.CONTINUE:
                    break
    parser = argparse.ArgumentParser(prog="rung")
    add_plot_parser(parser.add_subparsers(required=True))
    args = parser.parse_args(["plot", "--server", server.address, "--study", "live", "--out", str(tmp_path)])
    assert args.func(args) == 0
    for name in ("anytime_live.png", "rungs_live.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
