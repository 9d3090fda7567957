"""Benchmarks: known optima, bias and noise that vanish at full fidelity, cumulative costs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rung.sim.benchmarks import BENCHMARKS, MFHartmann, make_benchmark

R_MAX = 27  # every benchmark takes it; the recorded ones (lenet) end there

LITERATURE_OPTIMA = {"branin": 0.397887, "hartmann3": -3.86278, "hartmann6": -3.32237}


def hartmann_reference(dims: int, x: np.ndarray) -> float:
    """The textbook Hartmann function, written independently of the benchmark's loop."""
    a, p, _ = MFHartmann.TABLES[dims]
    alpha = np.array(MFHartmann.ALPHA)
    inner = np.sum(np.array(a) * (x - 1e-4 * np.array(p)) ** 2, axis=1)
    return float(-np.sum(alpha * np.exp(-inner)))


@pytest.mark.parametrize("name", sorted(LITERATURE_OPTIMA))
def test_value_at_the_known_argmin_is_the_known_optimum(name: str) -> None:
    bench = make_benchmark(name)
    assert bench.evaluate(bench.optimum, bench.r_max) == pytest.approx(LITERATURE_OPTIMA[name], abs=1e-5)


def test_branin_has_three_global_minimizers() -> None:
    bench = make_benchmark("branin")
    for x1, x2 in ((-math.pi, 12.275), (3 * math.pi, 2.475)):
        assert bench.regret({"x1": x1, "x2": x2}) == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_no_sampled_config_beats_the_optimum(name: str) -> None:
    bench = make_benchmark(name, r_max=R_MAX)
    rng = np.random.default_rng(0)
    regrets = [bench.regret(bench.space.sample(rng)) for _ in range(3000)]
    assert min(regrets) >= -1e-9
    assert bench.regret(bench.optimum) == 0.0


@pytest.mark.parametrize("dims", [3, 6])
def test_hartmann_is_the_textbook_function_at_full_fidelity_only(dims: int) -> None:
    bench = MFHartmann(dims, seed=5)
    rng = np.random.default_rng(1)
    for _ in range(50):
        config = bench.space.sample(rng)
        x = np.array([config[k] for k in bench.keys])
        assert bench.evaluate(config, bench.r_max) == pytest.approx(hartmann_reference(dims, x))
        assert bench.evaluate(config, 3) != pytest.approx(hartmann_reference(dims, x))


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_bias_and_noise_vanish_at_full_fidelity(name: str) -> None:
    bench = make_benchmark(name, r_max=R_MAX, seed=7)
    config = bench.space.sample(np.random.default_rng(2))
    assert bench.noise(config, bench.r_max) == 0.0
    assert bench.evaluate(config, bench.r_max) == bench.value(config, bench.r_max)
    low = [abs(bench.evaluate(config, r) - bench.value(config, bench.r_max)) for r in (1, 3, 9)]
    assert max(low) > 0.0


def test_noise_is_a_function_of_seed_config_and_resource() -> None:
    a, b = make_benchmark("hartmann6", seed=1), make_benchmark("hartmann6", seed=2)
    config = a.space.sample(np.random.default_rng(3))
    assert a.evaluate(config, 3) == a.evaluate(dict(config), 3)
    assert a.noise(config, 3) != a.noise(config, 9)
    assert a.noise(config, 3) != b.noise(config, 3)


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_costs_are_cumulative_and_grow_with_resource(name: str) -> None:
    bench = make_benchmark(name, r_max=R_MAX)
    config = bench.space.sample(np.random.default_rng(4))
    costs = [bench.cost(config, r) for r in (0, 1, 3, 9, 27)]
    assert costs[0] == 0.0
    assert all(x < y for x, y in zip(costs, costs[1:]))


def test_cnn_learning_curves_cross() -> None:
    cnn = make_benchmark("cnn")
    fast = {"learning_rate": 0.4, "batch_size": 32, "optimizer": "sgd"}
    slow = {"learning_rate": 0.1, "batch_size": 64, "optimizer": "sgd"}
    assert cnn.value(fast, 3) < cnn.value(slow, 3)
    assert cnn.value(fast, 81) > cnn.value(slow, 81)
