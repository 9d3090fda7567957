"""Multi-fidelity Bayesian optimization: one Gaussian process over (configuration, resource).

Every result at every resource level trains one GP on the configuration's
unit-cube encoding (categoricals one-hot) plus a resource coordinate z = log(r / r_min) / log(r_max /
r_min) in [0, 1]. The Matern 5/2 kernel has its own length scale for z, fitted
by marginal likelihood like the others: a long one says low-resource results
predict full-resource ones well, a short one that they do not. So the model
learns from every rung at once, as MOBSTER (Klein et al. 2020) and freeze-thaw
BO do, where `gp` and `bohb` fit one level at a time.

A new configuration maximizes expected improvement *at r_max* over the best
predicted full-resource value among the configurations tried so far.
One proposal in four (`random_fraction`) is random instead, as in BOHB: a cheap
hedge for benchmarks where the model misleads (on the CNN surrogate, whose best
configurations sit next to a divergence cliff, it lowered the median final
regret from 0.0117 to 0.0107 over 5 seeds, and cost nothing measurable on
Hartmann 3 and Branin). Configurations still waiting for their first result are
constant liars at r_max
(valued at the best result so far), so parallel workers are sent elsewhere.
With priors, draws from the prior join the candidates and the choice among them
goes by expected improvement x prior ** (beta / n) (πBO, see `priors`); the
expected improvement returned with it, which `model_promotion` weighs against
paused trials, stays unweighted.
With several objectives or constraints the model learns one ParEGO
scalarization per proposal, infeasible results ranked last (see
`multiobjective.py`).

Cost is bounded by design, because the server decides inside an RPC and replay
re-runs every decision: the GP sees at most `max_points` results (the highest
resources first, then an even spread over the rest, picked from a sorted index
in O(max_points), not by sorting every result at every decision);
hyperparameters are refitted only when the data has grown by the factor
`refit_growth` since the last fit, on at most `fit_points` results, and once
that subset is full (a likelihood evaluation is no longer cheap) within
`fit_evals` evaluations per start, so no decision pays for a fit run to
convergence (65 ms at 1,000 results before); in between only the Cholesky
factor is recomputed. Fitting draws no random numbers and its cap is a count,
so the model is a pure function of the results and the last hyperparameters,
and is cached between the scheduler's questions and the proposal of one decision.
"""

from __future__ import annotations

import bisect
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from ..errors import InvalidArgument
from ..space import SearchSpace
from ..types import Config
from .gp import GaussianProcess
from .model_based import (
    ModelBasedSearcher, candidate_points, category_counts, expected_improvement,
)
from .multiobjective import feasibility_ranked, parego_weights, scalarize

# Start of the first hyperparameter fit: log length scales (configuration, then
# resource), log signal variance, log noise variance.
DEFAULT_LOG_LENGTH = math.log(0.3)
DEFAULT_LOG_RESOURCE_LENGTH = math.log(1.0)
DEFAULT_LOG_SIGNAL = 0.0
DEFAULT_LOG_NOISE = math.log(1e-3)


class Encoding:
    """Model inputs from unit-cube configurations: a categorical parameter becomes one
    column per choice (one-hot), so the GP learns each choice's effect and its interactions
    instead of reading an arbitrary order into the choices; the others stay as they are."""

    def __init__(self, space: SearchSpace):
        self.counts = category_counts(space)

    def __call__(self, units: np.ndarray) -> np.ndarray:
        if not self.counts.any():
            return units
        columns = []
        for j, k in enumerate(self.counts):
            if k:
                index = np.minimum((units[:, j] * k).astype(int), k - 1)
                columns.append(np.eye(k)[index])
            else:
                columns.append(units[:, j : j + 1])
        return np.hstack(columns)

    @property
    def width(self) -> int:
        return int(sum(k if k else 1 for k in self.counts))


@dataclass(frozen=True)
class JointSurrogate:
    """The fitted GP, predicting standardized values at (unit-cube config, z)."""

    gp: GaussianProcess
    encode: Encoding
    best: float  # lowest predicted mean at r_max among the configurations it was fitted on
    leaders: np.ndarray  # those configurations (unit cube), best predicted first (at most five)

    def inputs(self, units: np.ndarray, z: float | np.ndarray) -> np.ndarray:
        """The model's inputs: each row's encoding and resource coordinate z."""
        zs = np.broadcast_to(np.asarray(z, dtype=float), (len(units),))
        return np.column_stack([self.encode(units), zs])

    def predict(self, units: np.ndarray, z: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation (standardized) of each row at resource z."""
        return self.gp.predict(self.inputs(units, z))

    def improvement(self, units: np.ndarray, z: float | np.ndarray = 1.0) -> np.ndarray:
        """Expected improvement over `best` of each row's value at resource z."""
        mean, std = self.predict(units, z)
        return expected_improvement(mean, std, self.best)


class MultiFidelityGPSearcher(ModelBasedSearcher):
    """Proposes the configuration with the highest expected improvement at r_max under a
    joint GP over (configuration, resource); `surrogate()` serves the model to schedulers."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        initial_configs: Sequence[Config] = (),
        *,
        n_random: int = 600,
        n_local: int = 400,
        local_step: float = 0.05,
        max_points: int = 200,
        fit_points: int = 64,
        refit_growth: float = 1.2,
        fit_evals: int = 20,
        random_fraction: float = 0.25,
        min_points: int | None = None,
    ):
        super().__init__(space, seed, initial_configs, min_points=min_points)
        if n_random < 0 or n_local < 0 or n_random + n_local == 0:
            raise InvalidArgument("mfgp searcher: needs n_random + n_local > 0")
        if not 2 <= fit_points <= max_points:
            raise InvalidArgument(
                f"mfgp searcher: need 2 <= fit_points <= max_points, got {fit_points}, {max_points}"
            )
        if not refit_growth >= 1.0:
            raise InvalidArgument(f"mfgp searcher: refit_growth must be >= 1, got {refit_growth}")
        if fit_evals < 1:
            raise InvalidArgument(f"mfgp searcher: fit_evals must be >= 1, got {fit_evals}")
        if not 0.0 <= random_fraction < 1.0:
            raise InvalidArgument(
                f"mfgp searcher: random_fraction must be in [0, 1), got {random_fraction}"
            )
        self.random_fraction = random_fraction
        self.n_random, self.n_local, self.local_step = n_random, n_local, local_step
        self.max_points, self.fit_points, self.refit_growth = max_points, fit_points, refit_growth
        self.fit_evals = fit_evals
        self.r_min, self.r_max = 1, 1
        self._encode = Encoding(space)
        self._theta: np.ndarray | None = None  # hyperparameters of the last fit
        self._fit_size = 0  # results there were at the last fit (before the max_points cap)
        self._version = 0  # bumped whenever results or pending configs change
        self._cached: tuple[int, JointSurrogate] | None = None  # (version, model); not state
        self._uniform = False  # inside `uniform_proposals`; not state
        # (-resource, -trial_id) of every result, sorted: `_training_data` picks from it in
        # O(max_points), where sorting all results at every decision cost 7 ms at 10,000
        self._order: list[tuple[int, int]] = []

    def on_resources(self, r_min: int, r_max: int) -> None:
        self.r_min, self.r_max = r_min, r_max

    # ------------------------------------------------------------------ contract

    def suggest(self) -> dict[str, Any] | None:
        fit = (self._theta, self._fit_size)
        config = super().suggest()
        if config is None:  # the scheduler waits: leave no trace, the model's fit included
            (self._theta, self._fit_size), self._cached = fit, None
        return config

    def mark_proposed(self, config: dict[str, Any]) -> None:
        super().mark_proposed(config)
        self._version += 1

    def on_report(self, trial_id: int, config: Config, resource: int, value: float) -> None:
        new = trial_id not in self._levels.get(resource, {})
        super().on_report(trial_id, config, resource, value)
        if new:
            bisect.insort(self._order, (-resource, -trial_id))
        self._version += 1

    def on_trial_failed(self, trial_id: int, config: Config) -> None:
        super().on_trial_failed(trial_id, config)
        self._version += 1

    def state_dict(self) -> dict[str, Any]:
        theta = None if self._theta is None else self._theta.tolist()
        return {**super().state_dict(), "theta": theta, "fit_size": self._fit_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._theta = None if state["theta"] is None else np.array(state["theta"])
        self._fit_size = state["fit_size"]
        self._order = sorted((-r, -t) for r, vals in self._levels.items() for t in vals)
        self._cached = None

    # ------------------------------------------------------------------ the model

    def z(self, resource: int | np.ndarray) -> np.ndarray:
        """Resource on the model's scale: 0 at r_min, 1 at r_max, logarithmic in between."""
        if self.r_max <= self.r_min:
            return np.ones_like(np.asarray(resource, dtype=float))
        return np.log(np.asarray(resource, dtype=float) / self.r_min) / math.log(
            self.r_max / self.r_min
        )

    def model_ready(self) -> bool:
        """Whether `surrogate()` has a model: `min_points` configurations have a result and
        the user-given initial configs are used. Cheap: fits nothing."""
        return len(self._configs) >= self.min_points and not self._initial

    @contextmanager
    def uniform_proposals(self) -> Iterator[None]:
        """New configurations drawn uniformly at random, not by the model, while inside."""
        self._uniform = True
        try:
            yield
        finally:
            self._uniform = False

    def surrogate(self) -> JointSurrogate | None:
        """The joint model on the current results and pending configs; None before `min_points`
        configurations have a result or while user-given initial configs remain to be proposed.
        May refit hyperparameters (state)."""
        if not self.model_ready():
            return None
        if self._cached is not None and self._cached[0] == self._version:
            return self._cached[1]
        units, z, y = self._training_data()
        pending = self._pending_units()
        x = np.column_stack([
            self._encode(np.vstack([units, pending])),
            np.concatenate([z, np.ones(len(pending))]),  # constant liars at r_max
        ])
        y = np.concatenate([y, np.full(len(pending), y.min())])
        y = (y - y.mean()) / (y.std() or 1.0)
        n_results = len(self._order)
        if self._theta is None or n_results >= self.refit_growth * self._fit_size:
            subset = np.unique(np.linspace(0, len(y) - 1, min(len(y), self.fit_points)).astype(int))
            small = len(subset) < self.fit_points  # cheap: fit fully
            gp = GaussianProcess.fit(x, y, self._starts(self._encode.width), subset,
                                     max_evals=None if small else self.fit_evals)
            self._theta, self._fit_size = gp.theta, n_results
        else:
            gp = GaussianProcess.condition(x, y, self._theta)
        observed = np.unique(units, axis=0)
        final = gp.mean(np.column_stack([self._encode(observed), np.ones(len(observed))]))
        order = np.argsort(final, kind="stable")
        model = JointSurrogate(gp, self._encode, float(final[order[0]]), observed[order[:5]])
        self._cached = (self._version, model)
        return model

    def propose(self, model: JointSurrogate) -> tuple[dict[str, Any], float] | None:
        """The fresh candidate with the highest expected improvement at r_max, and that value;
        `mark_proposed` commits it."""
        candidates = candidate_points(
            self._rng, model.leaders, self.n_random, self.n_local, self.local_step
        )
        if self.space.has_priors:
            extra = self._prior_candidates(max(1, self.n_random // 4))
            candidates = np.vstack([candidates, extra])
        found = model.gp.best_improvement(
            model.inputs(candidates, 1.0), model.best,
            self._prior_weights(candidates, len(self._configs)),
            lambda i: self._is_fresh(self.space.from_unit(candidates[i])),
        )
        if found is None:
            return None
        return self.space.from_unit(candidates[found[0]]), found[1]

    def _model_level(self) -> int | None:
        return self.r_max if len(self._configs) >= self.min_points else None

    def _propose(self, level: int) -> dict[str, Any] | None:
        if self._uniform:
            return None  # the caller asked for a random configuration
        if self._rng.random() < self.random_fraction:
            return None  # a random configuration, for robustness where the model misleads
        model = self.surrogate()
        proposal = self.propose(model) if model is not None else None
        return proposal[0] if proposal is not None else None

    def _training_data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit-cube configs, resource coordinates z and values of at most `max_points` results:
        the highest resources (newest first) fill half, an even spread of the others the rest."""
        keys = self._order
        if len(keys) > self.max_points:
            half = self.max_points // 2
            picks = np.linspace(0, len(keys) - half - 1, self.max_points - half).astype(int)
            keys = keys[:half] + [keys[half + i] for i in picks.tolist()]
        rows = [(-r, -t, self._levels[-r][-t]) for r, t in keys]
        units = np.array([self._units[t] for _, t, _ in rows])
        return units, self.z(np.array([r for r, _, _ in rows])), self._values(rows)

    def _values(self, rows: list[tuple[int, int, float]]) -> np.ndarray:
        """The values to model, lower is better. With several objectives or constraints: one
        ParEGO scalarization (weights drawn once per model) per level, infeasible results ranked
        after every feasible one by violation, as `gp` does on its one level."""
        if not self._outcomes:
            return np.array([v for _, _, v in rows])
        by_level: dict[int, dict[int, float]] = {}
        weights = None
        for r, outcomes in self._outcomes.items():
            keys = np.array([o.keys for o in outcomes.values()], dtype=float)
            if weights is None:
                weights = parego_weights(self._rng, keys.shape[1])
            violations = np.array([o.violation for o in outcomes.values()])
            ranked = feasibility_ranked(scalarize(keys, weights), violations)
            by_level[r] = dict(zip(outcomes, ranked.tolist()))
        return np.array([by_level[r][t] for r, t, _ in rows])

    def _starts(self, d: int) -> np.ndarray:
        """The last fit's hyperparameters, when there is one, and the default."""
        default = np.array(
            [DEFAULT_LOG_LENGTH] * d
            + [DEFAULT_LOG_RESOURCE_LENGTH, DEFAULT_LOG_SIGNAL, DEFAULT_LOG_NOISE]
        )
        return default[None, :] if self._theta is None else np.vstack([self._theta, default])
