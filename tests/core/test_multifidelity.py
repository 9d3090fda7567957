"""The joint (configuration, resource) model: the mfgp searcher and the model_promotion scheduler."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from rung.core.errors import InvalidArgument
from rung.core.rungs import report_points, rung_levels
from rung.core.schedulers import ASHA
from rung.core.searchers import MultiFidelityGPSearcher
from rung.core.searchers.mfgp import Encoding
from rung.core.searchers.gp import GaussianProcess
from rung.core.space import Categorical, Float, SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, Decision, JobKind

SPACE = SearchSpace({"a": Float(0.0, 1.0), "b": Float(0.0, 1.0)})
R_MAX = 27


def curve(config: dict, r: int) -> float:
    """A learning-curve family: the final value is a bowl; how fast a config gets there, and
    how much worse it starts, depends on the config too, so early ranks are only partly right."""
    a, b = config["a"], config["b"]
    final = (a - 0.3) ** 2 + (b - 0.7) ** 2
    return final + (0.3 + 0.5 * a * b) * (r ** -(0.4 + b))


def searcher_with_results(rng: np.random.Generator, n_per_level: dict[int, int]) -> tuple:
    """An mfgp searcher fed ASHA-like results: many configs at r=1, the best few higher up."""
    s = MultiFidelityGPSearcher(SPACE, seed=0)
    s.on_resources(1, R_MAX)
    configs = [SPACE.sample(rng) for _ in range(n_per_level[1])]
    for r, n in sorted(n_per_level.items()):
        configs = sorted(configs, key=lambda c: curve(c, r))[:n] if r > 1 else configs
        for c in configs:
            s.on_report(id(c), c, r, curve(c, r))
    return s, configs


def test_pending_configs_send_each_proposal_elsewhere() -> None:
    s, _ = searcher_with_results(np.random.default_rng(1), {1: 12, 3: 4})
    batch = [s.suggest() for _ in range(3)]  # three workers ask before any result comes back
    units = np.array([SPACE.to_unit(c) for c in batch])  # type: ignore[arg-type]
    gaps = [np.linalg.norm(units[i] - units[j]) for i in range(3) for j in range(i + 1, 3)]
    assert min(gaps) > 1e-3
    assert len(s._pending) == 3


def test_joint_model_ranks_unseen_configs_at_r_max_better_than_a_per_rung_model() -> None:
    rng = np.random.default_rng(3)
    s, _ = searcher_with_results(rng, {1: 40, 3: 13, 9: 4, 27: 2})
    joint = s.surrogate()
    assert joint is not None
    held_out = [SPACE.sample(rng) for _ in range(300)]
    units = np.array([SPACE.to_unit(c) for c in held_out])
    truth = [curve(c, R_MAX) for c in held_out]

    # What `gp` would fit: one level, the highest with min_points (= 4) results.
    level = max(r for r, vals in s._levels.items() if len(vals) >= s.min_points)
    x, y = s._level_data(level)
    y = (y - y.mean()) / y.std()
    per_rung = GaussianProcess.fit(x, y, np.array([[np.log(0.3)] * 2 + [0.0, np.log(1e-3)]]),
                                   np.arange(len(y)))
    joint_corr = spearmanr(joint.predict(units, 1.0)[0], truth).statistic
    per_rung_corr = spearmanr(per_rung.predict(units)[0], truth).statistic
    assert joint_corr > per_rung_corr + 0.1
    assert joint_corr > 0.8


def test_model_cost_is_bounded_by_max_points() -> None:
    rng = np.random.default_rng(0)
    s, _ = searcher_with_results(rng, {1: 900, 3: 300, 9: 100})
    units, z, y = s._training_data()
    assert len(y) == s.max_points and units.shape == (s.max_points, 2)
    assert sorted(z)[-100:] == pytest.approx([s.z(9)] * 100)  # highest levels kept whole
    assert s.suggest() is not None


def test_refit_only_when_the_data_has_grown() -> None:
    s, configs = searcher_with_results(np.random.default_rng(2), {1: 20})
    s.suggest()
    theta, fitted_at = s._theta.copy(), s._fit_size  # type: ignore[union-attr]
    s.on_report(10_000, configs[0], 3, curve(configs[0], 3))
    s.suggest()
    assert s._fit_size == fitted_at and np.array_equal(s._theta, theta)  # 21 < 1.2 * 20
    for i, c in enumerate(configs[1:5]):
        s.on_report(20_000 + i, c, 3, curve(c, 3))
    s.suggest()
    assert s._fit_size == 25  # grown by 1.2: refitted


def test_categorical_choices_are_one_hot_for_the_model() -> None:
    space = SearchSpace({"lr": Float(1e-3, 1.0, log=True), "opt": Categorical(("sgd", "adam", "rms"))})
    encode = Encoding(space)
    units = np.array([space.to_unit({"lr": 0.1, "opt": o}) for o in ("sgd", "adam", "rms")])
    features = encode(units)
    assert encode.width == 4 and features.shape == (3, 4)
    assert np.array_equal(features[:, 1:], np.eye(3)) and np.allclose(features[:, 0], units[0, 0])


def test_model_promotion_needs_the_mfgp_searcher() -> None:
    with pytest.raises(InvalidArgument, match="mfgp"):
        StudySpec(name="s", space=SPACE, scheduler=SchedulerSettings("model_promotion", 1, 27, 3))


def run(kind: str, searcher: str, seed: int, trials: int = 40) -> tuple[list, float]:
    """One worker runs a study on `curve`; returns the jobs and the incumbent's final value."""
    spec = StudySpec(name="s", space=SPACE, scheduler=SchedulerSettings(kind, 1, R_MAX, 3),
                     searcher=searcher, budget=Budget(max_trials=trials), seed=seed)
    scheduler = spec.build_scheduler()
    jobs = []
    for step in range(2000):
        job = scheduler.suggest(float(step))
        if job.kind is JobKind.DONE:
            break
        jobs.append(job)
        levels = rung_levels(1, R_MAX, 3)
        for r in report_points(levels, job.resume_from, job.milestone):
            if scheduler.report(job.trial_id, r, curve(job.config, r)) is not Decision.CONTINUE:
                break
    best = min(curve(t.config, R_MAX) for t in scheduler.trials.values()
               if t.checkpoint_resource == R_MAX)
    return jobs, best


def test_model_promotion_follows_asha_until_the_model_is_ready_then_decides_by_it() -> None:
    jobs, _ = run("model_promotion", "mfgp", seed=5)
    asha_jobs, _ = run("asha", "mfgp", seed=5)
    ready = 4  # min_points for two parameters: ASHA's rule decides until 4 configs have results
    assert jobs[:ready] == asha_jobs[:ready]
    assert jobs != asha_jobs
    resumes = [j for j in jobs if j.kind is JobKind.RESUME]
    assert resumes and all(j.milestone in (3, 9, 27) for j in resumes)


def test_model_based_methods_find_better_configs_than_random_asha() -> None:
    grid = np.linspace(0.0, 1.0, 401)
    optimum = min(curve({"a": a, "b": b}, R_MAX) for a in grid for b in grid)
    seeds = range(3)
    random_asha = np.median([run("asha", "random", s)[1] - optimum for s in seeds])
    for kind in ("asha", "model_promotion"):
        regret = np.median([run(kind, "mfgp", s)[1] - optimum for s in seeds])
        assert regret < random_asha / 2, kind


def test_asha_is_still_the_paper_rule_with_mfgp() -> None:
    """The searcher only picks new configs: promotions under `asha` follow the rule."""
    spec = StudySpec(name="s", space=SPACE, scheduler=SchedulerSettings("asha", 1, R_MAX, 3),
                     searcher="mfgp", budget=Budget(max_trials=20))
    assert isinstance(spec.build_scheduler(), ASHA)


@pytest.mark.parametrize("kind", ["hyperband", "asha_stopping", "fifo"])
def test_mfgp_drives_every_scheduler_kind_to_the_end(kind: str) -> None:
    spec = StudySpec(name="s", space=SPACE, scheduler=SchedulerSettings(kind, 1, R_MAX, 3),
                     searcher="mfgp", budget=Budget(max_trials=15), seed=3)
    scheduler = spec.build_scheduler()
    for step in range(1000):
        job = scheduler.suggest(float(step))
        if job.kind is JobKind.DONE:
            break
        levels = rung_levels(1, R_MAX, 3, scheduler.trial(job.trial_id).bracket)
        for r in report_points(levels, job.resume_from, job.milestone):
            if scheduler.report(job.trial_id, r, curve(job.config, r)) is not Decision.CONTINUE:
                break
    assert job.kind is JobKind.DONE and len(scheduler.trials) == 15
    assert scheduler.searcher.surrogate() is not None  # the model was in use


def test_model_promotion_answers_wait_without_touching_its_state() -> None:
    """The hedge's coin is scheduler state: a WAIT (not journaled) must not move it, or a
    replayed study would toss differently from the live one."""
    spec = StudySpec(name="s", space=SPACE, scheduler=SchedulerSettings("model_promotion", 1, R_MAX, 3),
                     searcher="mfgp", budget=Budget(max_trials=12), seed=4)
    scheduler = spec.build_scheduler()
    running = []
    waits = 0
    for step in range(400):
        before = scheduler.state_dict()
        job = scheduler.suggest(float(step))
        if job.kind is JobKind.DONE:
            break
        if job.kind is JobKind.WAIT:
            assert scheduler.state_dict() == before
            waits += 1
        else:
            running.append(job)
        if job.kind is JobKind.WAIT or len(running) == 3:  # three workers busy: one finishes
            done = running.pop(0)
            levels = rung_levels(1, R_MAX, 3)
            for r in report_points(levels, done.resume_from, done.milestone):
                if scheduler.report(done.trial_id, r, curve(done.config, r)) is not Decision.CONTINUE:
                    break
    assert waits > 0 and scheduler.searcher.model_ready()
