"""The GP's fast numerics against the straightforward formulas, and the bounds on its cost."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rung.core.searchers import MultiFidelityGPSearcher
from rung.core.searchers import gp as gp_module
from rung.core.searchers.gp import GaussianProcess, _neg_log_likelihood
from rung.core.searchers.model_based import expected_improvement
from rung.core.space import Float, SearchSpace

SQRT5 = math.sqrt(5.0)
SPACE = SearchSpace({"a": Float(0.0, 1.0), "b": Float(0.0, 1.0)})


def matern(sq: np.ndarray, signal: float) -> np.ndarray:
    r = np.sqrt(sq)
    return signal * (1.0 + SQRT5 * r + 5.0 / 3.0 * sq) * np.exp(-SQRT5 * r)


def pair_sq_diffs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-parameter squared differences of every pair of rows, m x n x d."""
    return (a[:, None, :] - b[None, :, :]) ** 2


def reference_predict(
    x: np.ndarray, y: np.ndarray, theta: np.ndarray, xs: np.ndarray, jitter: float = 1e-8
) -> tuple[np.ndarray, np.ndarray]:
    lengths, signal, noise = np.exp(theta[:-2]), math.exp(theta[-2]), math.exp(theta[-1])
    k = matern(pair_sq_diffs(x, x) @ lengths**-2, signal) + (noise + jitter) * np.eye(len(x))
    k_inv = np.linalg.inv(k)
    ks = matern(pair_sq_diffs(xs, x) @ lengths**-2, signal)
    var = signal - np.einsum("ij,jk,ik->i", ks, k_inv, ks)
    return ks @ k_inv @ y, np.sqrt(np.maximum(var, 1e-12))


def reference_nll(theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    lengths, signal, noise = np.exp(theta[:-2]), math.exp(theta[-2]), math.exp(theta[-1])
    k = matern(pair_sq_diffs(x, x) @ lengths**-2, signal) + (noise + 1e-8) * np.eye(len(x))
    _, logdet = np.linalg.slogdet(k)
    return float(0.5 * y @ np.linalg.solve(k, y) + 0.5 * logdet + 0.5 * len(y) * math.log(2 * math.pi))


def data(seed: int, n: int = 60, d: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, d))
    y = np.sin(3 * x).sum(1) + 0.05 * rng.normal(size=n)
    theta = np.concatenate([np.log(rng.uniform(0.2, 1.5, d)), [0.0, math.log(1e-3)]])
    return x, (y - y.mean()) / y.std(), theta


@pytest.mark.parametrize("seed", range(3))
def test_prediction_equals_the_straightforward_formulas(seed: int) -> None:
    x, y, theta = data(seed)
    rng = np.random.default_rng(10 + seed)
    xs = np.vstack([rng.random((200, x.shape[1])), x[:5], x[:5] + 1e-7])  # at and next to data
    gp = GaussianProcess.condition(x, y, theta)
    mean, std = gp.predict(xs)
    ref_mean, ref_std = reference_predict(x, y, theta, xs)
    assert np.abs(mean - ref_mean).max() < 1e-9
    assert np.abs(std**2 - ref_std**2).max() < 1e-9
    assert np.abs(gp.mean(xs) - mean).max() < 1e-12


@pytest.mark.parametrize("seed", range(3))
def test_likelihood_and_gradient_equal_the_straightforward_formulas(seed: int) -> None:
    x, y, theta = data(seed, n=40)
    x = x - x.mean(0)
    nll, grad = _neg_log_likelihood(theta, x, y)
    assert nll == pytest.approx(reference_nll(theta, x, y), abs=1e-9)
    h = 1e-6
    numeric = [(reference_nll(theta + h * e, x, y) - reference_nll(theta - h * e, x, y)) / (2 * h)
               for e in np.eye(len(theta))]
    assert grad == pytest.approx(numeric, rel=1e-5, abs=1e-6)


def test_a_refit_stays_within_its_likelihood_evaluations(monkeypatch: pytest.MonkeyPatch) -> None:
    x, y, theta = data(0, n=64, d=7)
    calls = 0
    original = gp_module._neg_log_likelihood

    def counted(*args):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return original(*args)

    monkeypatch.setattr(gp_module, "_neg_log_likelihood", counted)
    start = np.zeros(9)
    nll, best = gp_module._fit_hyperparameters(x, y, start, max_evals=7)
    assert calls == 7
    assert nll <= original(start, x - x.mean(0), y)[0]  # never worse than where it started
    calls = 0
    unbounded = gp_module._fit_hyperparameters(x, y, start, max_evals=None)
    assert calls > 7 and unbounded[0] <= nll


def full_scoring(gp: GaussianProcess, xs: np.ndarray, best: float, weights, accept, limit=100):
    """What `best_improvement` replaces: score every row, take the first accepted of the best."""
    mean, std = gp.predict(xs)
    ei = expected_improvement(mean, std, best)
    score = ei if weights is None else ei * weights
    for i in np.argsort(-score, kind="stable")[:limit]:
        if accept(int(i)):
            return int(i), float(ei[i])
    return None


@pytest.mark.parametrize("seed", range(4))
def test_pruned_acquisition_gives_the_full_scorings_answer(seed: int) -> None:
    x, y, theta = data(seed)
    rng = np.random.default_rng(20 + seed)
    gp = GaussianProcess.condition(x, y, theta)
    xs = np.vstack([rng.random((600, x.shape[1])), x[:20] + rng.normal(0, 0.05, (20, x.shape[1]))])
    weights = None if seed % 2 else rng.uniform(0.2, 1.0, len(xs))
    rejected = set(rng.choice(len(xs), 30, replace=False).tolist())
    for accept in (lambda i: True, lambda i: i not in rejected):
        found = gp.best_improvement(xs, y.min(), weights, accept)
        expected = full_scoring(gp, xs, y.min(), weights, accept)
        assert found is not None and expected is not None
        assert found[0] == expected[0] and found[1] == pytest.approx(expected[1], rel=1e-9)
    assert gp.best_improvement(xs, y.min(), weights, lambda i: False) is None


def test_pruned_acquisition_keeps_the_limit_on_rank() -> None:
    x, y, theta = data(5)
    gp = GaussianProcess.condition(x, y, theta)
    xs = np.random.default_rng(5).random((300, x.shape[1]))
    order = np.argsort(-expected_improvement(*gp.predict(xs), y.min()), kind="stable")
    only = int(order[10])  # the 11th best is the only one accepted
    assert gp.best_improvement(xs, y.min(), None, lambda i: i == only, limit=10) is None
    assert gp.best_improvement(xs, y.min(), None, lambda i: i == only, limit=11)[0] == only


def test_training_rows_are_the_sorted_selection_whatever_the_report_order() -> None:
    rng = np.random.default_rng(0)
    s = MultiFidelityGPSearcher(SPACE, seed=0, max_points=20, fit_points=10)
    s.on_resources(1, 27)
    reports = [(t, r) for t in range(60) for r in (1, 3, 9) if r == 1 or t % (r + 1) == 0]
    for i in rng.permutation(len(reports)):
        t, r = reports[i]
        s.on_report(t, {"a": t / 60, "b": r / 27}, r, float(t + r))
    rows = sorted(((r, t) for t, r in reports), key=lambda row: (-row[0], -row[1]))
    picks = np.linspace(0, len(rows) - 11, 10).astype(int)
    chosen = rows[:10] + [rows[10 + i] for i in picks]
    _, z, values = s._training_data()
    assert values.tolist() == [float(t + r) for r, t in chosen]
    copy = MultiFidelityGPSearcher(SPACE, seed=0, max_points=20, fit_points=10)
    copy.load_state_dict(json.loads(json.dumps(s.state_dict())))
    assert copy._training_data()[2].tolist() == values.tolist()


def test_decisions_are_identical_across_a_state_dict_round_trip() -> None:
    """The model is refitted (state) at some decisions and only re-conditioned at others; a
    searcher restored from a snapshot taken at any point decides exactly as the original."""
    rng = np.random.default_rng(1)
    s = MultiFidelityGPSearcher(SPACE, seed=3, fit_points=8, max_points=30, random_fraction=0.0)
    s.on_resources(1, 27)
    trial = 0
    for step in range(40):
        snapshot = json.dumps(s.state_dict())
        config = s.suggest()
        restored = MultiFidelityGPSearcher(
            SPACE, seed=3, fit_points=8, max_points=30, random_fraction=0.0)
        restored.on_resources(1, 27)
        restored.load_state_dict(json.loads(snapshot))
        assert restored.suggest() == config
        assert json.dumps(restored.state_dict()) == json.dumps(s.state_dict())
        assert config is not None
        for r in (1, 3) if step % 3 == 0 else (1,):
            s.on_report(trial, config, r, float(np.sin(5 * config["a"]) + config["b"] / r
                                               + 0.01 * rng.normal()))
        trial += 1

