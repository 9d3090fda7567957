"""The `mlp-<dataset>` benchmarks: the recorded curves, the surrogate's held-out error, simulations."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget
from rung.sim.benchmarks import BENCHMARKS, make_benchmark
from rung.sim.mlp_curves import DATASETS, MLP_SPACE, MLPBenchmark, MLPCurves, load_curves
from rung.sim.runner import BenchSettings, Task, horizon, run_task
from rung.sim.simulator import Simulator

EPOCHS = 27
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "record_mlp_curves.py"
# Held-out mean absolute error of the surrogate (all epochs), measured when the curves were
# recorded, with a margin: digits 0.041, breast_cancer 0.055, wine 0.072, fashion_mnist 0.040.
HELD_OUT_MAE = {"digits": 0.055, "breast_cancer": 0.07, "wine": 0.09, "fashion_mnist": 0.055}


@pytest.mark.parametrize("dataset", DATASETS)
def test_the_recorded_curves_load_and_are_errors(dataset: str) -> None:
    curves = load_curves(dataset)
    assert len(curves.configs) >= 1000
    assert curves.val_error.shape == (len(curves.configs), EPOCHS)
    assert ((curves.val_error >= 0) & (curves.val_error <= 1)).all()
    assert (np.diff(curves.cumulative_seconds, axis=1) >= 0).all() and (curves.cumulative_seconds > 0).all()
    assert len(curves.repeats) >= 100 and all(r.shape == (3, EPOCHS) for r in curves.repeats.values())
    assert curves.settings["dataset"] == dataset and curves.settings["epochs"] == EPOCHS
    assert curves.settings["space"] == json.loads(json.dumps(MLP_SPACE.to_json()))
    assert all(MLP_SPACE.validate(config) == config for config in curves.configs[:50])
    assert (curves.seed_std > 0).all()  # seeds matter, so the benchmark has noise to add


@pytest.mark.parametrize("dataset", DATASETS)
def test_the_surrogate_predicts_held_out_curves(dataset: str) -> None:
    curves = load_curves(dataset)
    order = np.random.default_rng(0).permutation(len(curves.configs))
    held_out, kept = order[:200], order[200:]
    predicted, seconds = curves.surrogate(kept).predict(curves.units[held_out])
    truth = curves.val_error[held_out]
    mae = float(np.abs(predicted - truth).mean())
    constant = float(np.abs(curves.val_error[kept].mean(axis=0) - truth).mean())
    assert mae < HELD_OUT_MAE[dataset]
    assert mae < 0.6 * constant  # far better than predicting the average curve
    assert ((predicted >= 0) & (predicted <= 1)).all() and (np.diff(seconds, axis=1) >= 0).all()


@pytest.mark.parametrize("name", [f"mlp-{d}" for d in DATASETS])
def test_registered_and_deterministic_for_a_seed(name: str) -> None:
    assert name in BENCHMARKS
    a, b, other = (make_benchmark(name, r_max=EPOCHS, seed=s) for s in (3, 3, 4))
    rng = np.random.default_rng(1)
    configs = [MLP_SPACE.sample(rng) for _ in range(20)]
    for config in configs:
        assert [a.evaluate(config, r) for r in (1, 3, 9, 27)] == [b.evaluate(config, r) for r in (1, 3, 9, 27)]
        assert all(0.0 <= a.evaluate(config, r) <= 1.0 for r in range(1, EPOCHS + 1))
        assert a.value(config, 9) == other.value(config, 9) and a.noise(config, EPOCHS) == 0.0
    assert any(a.evaluate(c, 3) != other.evaluate(c, 3) for c in configs)


def test_the_optimum_is_the_surrogates_minimum() -> None:
    bench = make_benchmark("mlp-digits", r_max=EPOCHS)
    assert isinstance(bench, MLPBenchmark)
    assert bench.regret(bench.optimum) == 0.0
    rng = np.random.default_rng(2)
    assert min(bench.regret(MLP_SPACE.sample(rng)) for _ in range(2000)) >= 0.0
    assert all(bench.regret(c) >= 0.0 for c in bench.curves.configs)
    assert bench.optimum_value < 0.1  # digits are easy for a well-tuned MLP
    with pytest.raises(ValueError, match="epochs 1..27"):
        make_benchmark("mlp-digits", r_max=81)


@pytest.mark.parametrize("scheduler", ["fifo", "asha"])
def test_a_simulated_study_runs_and_its_regret_falls(scheduler: str) -> None:
    bench = make_benchmark("mlp-digits", r_max=EPOCHS, seed=1)
    spec = StudySpec(name="mlp", space=bench.space, scheduler=SchedulerSettings(scheduler, 1, EPOCHS, 3),
                     budget=Budget(max_trials=40), seed=1)
    first = Simulator(spec.build_scheduler(), bench, n_workers=4).run()
    again = Simulator(spec.build_scheduler(), bench, n_workers=4).run()
    assert first.to_json() == again.to_json()
    assert first.regrets and all(r >= 0 for r in first.regrets)
    assert first.regrets[-1] < first.regrets[0]


def test_regret_decreases_with_budget_over_seeds() -> None:
    settings = BenchSettings(methods=("asha",), benchmarks=("mlp-breast_cancer",), seeds=5,
                             workers=4, budget=20.0, r_min=1, r_max=EPOCHS, eta=3, rung_seeds=0)
    end = horizon(settings, "mlp-breast_cancer")
    at_quarter, at_end = [], []
    for seed in range(5):
        run = run_task(Task("asha", "mlp-breast_cancer", seed, settings))
        times, regrets = np.array(run["times"]), np.array(run["regrets"])
        at_quarter.append(regrets[times <= end / 4][-1] if (times <= end / 4).any() else np.inf)
        at_end.append(regrets[-1])
    assert np.median(at_end) < np.median(at_quarter)


def test_the_recording_script_records_resumes_and_packs(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("record_mlp_curves", SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out, packed = tmp_path / "curves.jsonl", tmp_path / "mlp_iris.json.gz"
    args = ["--dataset", "iris", "--repeats", "1", "--epochs", "4", "--out", str(out)]
    script.main([*args, "--configs", "2"])
    script.main([*args, "--configs", "3", "--pack", str(packed)])  # resumes: only the third
    lines = out.read_text().splitlines()
    assert len(lines) == 4 and [json.loads(line)["index"] for line in lines[1:]] == [0, 1, 2]
    with gzip.open(packed, "rt") as text:
        curves = MLPCurves(json.load(text))
    assert curves.val_error.shape == (3, 4) and list(curves.repeats) == [0]
    assert curves.repeats[0].shape == (3, 4)
