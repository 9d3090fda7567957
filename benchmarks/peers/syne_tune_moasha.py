"""Syne Tune 0.13's MOASHA as a peer of rung's MO-ASHA, through rung's own simulator.

MOASHA (Syne Tune's `syne_tune.optimizer.schedulers.multiobjective.MOASHA`,
non-dominated sorting priority, stopping type) is wrapped in the two calls
rung's simulator makes (`suggest(now)`, `report(trial_id, resource, metrics)`),
so both run on the same `cnn_size` benchmark, the same simulated workers, cost
model and budget; the peer of MOASHA on rung's side is `MO-ASHA (stopping)`.

Syne Tune 0.13 needs numpy < 1.27, so it runs in its own virtual environment,
with rung's source on the path (its simulator and benchmark need only numpy):

    python3 -m venv /tmp/stvenv && /tmp/stvenv/bin/pip install "syne-tune==0.13.0" "numpy<1.27" scipy
    PYTHONPATH=src:benchmarks /tmp/stvenv/bin/python benchmarks/peers/syne_tune_moasha.py \\
        --out docs/multiobjective/syne_tune_moasha.json
    .venv/bin/python benchmarks/multiobjective.py --extra-runs docs/multiobjective/syne_tune_moasha.json
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from syne_tune.backend.trial_status import Trial
from syne_tune.config_space import choice, loguniform, lograndint
from syne_tune.optimizer.schedulers.multiobjective import MOASHA

from rung.core.types import Decision, Job, JobKind
from rung.sim.multiobjective import WIDTHS, CNNSizeSurrogate, HypervolumeTracker
from rung.sim.simulator import Simulator

METHOD = "Syne Tune MOASHA (stopping)"
CONFIG_SPACE = {
    "learning_rate": loguniform(1e-4, 1.0),
    "batch_size": lograndint(16, 512),
    "optimizer": choice(["sgd", "adam", "rmsprop"]),
    "width": lograndint(*WIDTHS),
}


@dataclass
class _TrialState:
    config: dict[str, Any]
    bracket: int = 0


class MOASHAAdapter:
    """rung's scheduler calls on top of a Syne Tune scheduler: one job 0 -> r_max per trial,
    stopped when MOASHA says so at a rung level."""

    def __init__(self, r_min: int, r_max: int, eta: int):
        self.r_min, self.r_max, self.eta = r_min, r_max, eta
        self.peer = MOASHA(CONFIG_SPACE, metrics=["error", "params_m"], mode=["min", "min"],
                           time_attr="epoch", max_t=r_max, grace_period=r_min, reduction_factor=eta)
        self.trials: dict[int, _TrialState] = {}
        self._peer_trials: dict[int, Trial] = {}

    def suggest(self, now: float) -> Job:
        trial_id = len(self.trials)
        config = self.peer.suggest(trial_id).config
        config = {k: v.item() if hasattr(v, "item") else v for k, v in config.items()}
        trial = Trial(trial_id=trial_id, config=config, creation_time=datetime.now())
        with contextlib.redirect_stdout(io.StringIO()):  # it prints a line per trial
            self.peer.on_trial_add(trial)
        self.trials[trial_id] = _TrialState(config)
        self._peer_trials[trial_id] = trial
        return Job(JobKind.START, trial_id, config, 0, self.r_max)

    def report(self, trial_id: int, resource: int, metrics: dict[str, float]) -> Decision:
        trial, result = self._peer_trials[trial_id], {"epoch": resource, **metrics}
        if resource >= self.r_max:
            self.peer.on_trial_complete(trial, result)
            return Decision.STOP
        return Decision.CONTINUE if self.peer.on_trial_result(trial, result) == "CONTINUE" else (
            Decision.STOP
        )

    def incumbent(self) -> None:
        return None  # the hypervolume tracker scores runs, not the incumbent


def run(seed: int, budget: float, workers: int, r_min: int) -> dict[str, Any]:
    random.seed(seed)
    np.random.seed(seed)  # MOASHA samples configs and brackets from numpy's global state
    bench = CNNSizeSurrogate(r_max=81, seed=seed)
    horizon = budget * bench.full_cost / workers
    adapter = MOASHAAdapter(r_min, 81, 3)
    tracker = HypervolumeTracker(bench, adapter)  # type: ignore[arg-type]
    Simulator(adapter, bench, workers, horizon, record_rungs=False, on_report=tracker).run()  # type: ignore[arg-type]
    return {"method": METHOD, "seed": seed, "horizon": horizon,
            "times": tracker.times, "values": tracker.values, "trials": len(adapter.trials)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--budget", type=float, default=30.0)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--r-min", type=int, default=9)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    runs = [run(seed, args.budget, args.workers, args.r_min) for seed in range(args.seeds)]
    with open(args.out, "w") as f:
        json.dump(runs, f)


if __name__ == "__main__":
    main()
