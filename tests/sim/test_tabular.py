"""The `lenet` tabular benchmark: the shipped table, exact replay, and the simulator on top."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget
from rung.sim.benchmarks import make_benchmark
from rung.sim.cli import add_bench_parser
from rung.sim.simulator import Simulator
from rung.sim.tabular import LENET_TABLE, TabularBenchmark, load_table

EPOCHS = 27


@pytest.fixture(scope="module")
def bench() -> TabularBenchmark:
    made = make_benchmark("lenet", r_max=EPOCHS, seed=0, r_min=1)
    assert isinstance(made, TabularBenchmark)
    return made


def test_the_shipped_table_is_the_whole_grid_for_every_epoch() -> None:
    table = load_table(LENET_TABLE)
    grid_size = math.prod(domain.size for domain in table.space.params.values())
    assert len(table.configs) == grid_size
    assert table.val_error.shape == (grid_size, EPOCHS)
    assert table.cumulative_seconds.shape == (grid_size, EPOCHS + 1)
    assert ((table.val_error >= 0) & (table.val_error <= 1)).all()
    assert table.settings["epochs"] == EPOCHS


def test_every_config_the_space_can_produce_is_in_the_table(bench: TabularBenchmark) -> None:
    rng = np.random.default_rng(0)
    for _ in range(2000):
        config = bench.space.sample(rng)
        bench.table.row(config)  # raises ValueError if absent
    corners = [bench.space.from_unit(np.full(len(bench.space.params), u)) for u in (0.0, 0.999999)]
    for config in corners:
        bench.table.row(config)


def test_values_and_costs_replay_the_recording(bench: TabularBenchmark) -> None:
    table = bench.table
    for i in (0, len(table.configs) // 2, len(table.configs) - 1):
        config = table.configs[i]
        assert [bench.evaluate(config, r) for r in range(1, EPOCHS + 1)] == table.val_error[i].tolist()
        assert all(bench.noise(config, r) == 0.0 for r in range(1, EPOCHS + 1))
        costs = [bench.cost(config, r) for r in range(EPOCHS + 1)]
        assert costs[0] == 0.0
        assert all(x < y for x, y in zip(costs, costs[1:]))


def test_configs_travelling_as_floats_find_their_row(bench: TabularBenchmark) -> None:
    config = dict(bench.table.configs[3])
    as_floats = {name: float(value) for name, value in config.items()}
    assert bench.value(as_floats, 5) == bench.value(config, 5)


def test_configs_off_the_grid_and_resources_out_of_range_are_refused(bench: TabularBenchmark) -> None:
    config = dict(bench.table.configs[0])
    with pytest.raises(ValueError, match="not in the recorded table"):
        bench.value({**config, "learning_rate": 0.02}, 3)
    with pytest.raises(ValueError, match="outside"):
        bench.value(config, EPOCHS + 1)
    with pytest.raises(ValueError, match="epochs 1..27"):
        make_benchmark("lenet", r_max=81)


def test_regret_is_final_error_above_the_best_final_error(bench: TabularBenchmark) -> None:
    final = bench.table.val_error[:, -1]
    assert bench.regret(bench.optimum) == 0.0
    assert bench.optimum_value == final.min()
    regrets = [bench.regret(config) for config in bench.table.configs]
    assert regrets == pytest.approx((final - final.min()).tolist())
    assert bench.full_cost == bench.cost(bench.optimum, EPOCHS)


def test_asha_runs_on_the_recorded_curves(bench: TabularBenchmark) -> None:
    spec = StudySpec(
        name="lenet", space=bench.space, scheduler=SchedulerSettings("asha", 1, EPOCHS, 3),
        budget=Budget(max_trials=60), seed=1,
    )
    first = Simulator(spec.build_scheduler(), bench, n_workers=4).run()
    again = Simulator(spec.build_scheduler(), bench, n_workers=4).run()
    assert first.to_json() == again.to_json()
    assert first.jobs >= 60 and first.regrets
    assert first.regrets[-1] <= first.regrets[0]
    assert all(r >= 0 for r in first.regrets)
    assert {r for _, _, r, _ in first.rungs} >= {1, 3, 9, 27}


def test_rung_bench_refuses_an_r_max_beyond_the_recording(tmp_path, capsys) -> None:
    parser = argparse.ArgumentParser(prog="rung")
    add_bench_parser(parser.add_subparsers(required=True))
    args = parser.parse_args(["bench", "--benchmarks", "lenet", "--r-max", "81", "--out", str(tmp_path)])
    assert args.func(args) == 2
    assert "epochs 1..27" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
