"""User priors on parameters: a default value and a confidence, as distributions on [0, 1].

A parameter may carry `prior=` (the value the user believes in) and
`confidence=` ("low", "medium" or "high"; "medium" when only `prior` is given).
Every domain is searched in its unit-interval encoding (log-scaled for log
domains, see `space`), and the prior is a distribution there, as in NePS and
PriorBand:

- ordered domains (Float, Int, FiniteRange): a normal distribution centred on
  the prior's unit coordinate, truncated to [0, 1], with standard deviation
  0.5 (low), 0.25 (medium) or 0.125 (high) of the (log-)range;
- Categorical: the prior choice weighs 2 (low), 4 (medium) or 6 (high) times
  as much as each other choice.

Parameters without a prior stay uniform. Densities are relative to the uniform
one (log 0 = no preference), so a space without priors has log density 0 everywhere.

Samples come from one uniform number per parameter put through the inverse
CDF, so a prior draw costs the searcher's RNG exactly what a uniform draw does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InvalidArgument

CONFIDENCES = ("low", "medium", "high")
DEFAULT_CONFIDENCE = "medium"
ORDERED_STD = {"low": 0.5, "medium": 0.25, "high": 0.125}  # in the unit (log-)range
CATEGORICAL_WEIGHT = {"low": 2.0, "medium": 4.0, "high": 6.0}  # vs 1 for each other choice
_BELOW_ONE = float(np.nextafter(1.0, 0.0))


def prior_field() -> Any:
    """The `prior` and `confidence` fields of a domain: keyword-only, unset by default."""
    return field(default=None, kw_only=True)


def set_prior(dom: Any, read: Callable[[Any], Any]) -> None:
    """Checks and stores a (frozen) domain's prior, canonical by `read`, and its confidence."""
    confidence = check_confidence(dom.prior, dom.confidence)
    if dom.prior is not None:
        object.__setattr__(dom, "prior", read(dom.prior))
    object.__setattr__(dom, "confidence", confidence)


def check_confidence(prior: Any, confidence: Any) -> str | None:
    """The canonical confidence: None without a prior, "medium" when left out."""
    if prior is None:
        if confidence is not None:
            raise InvalidArgument(f"confidence {confidence!r} is set without a prior")
        return None
    if confidence is None:
        return DEFAULT_CONFIDENCE
    if confidence not in CONFIDENCES:
        raise InvalidArgument(
            f"unknown prior confidence {confidence!r}: use {', '.join(CONFIDENCES)}"
        )
    return str(confidence)


def check_numeric_prior(prior: Any, low: float, high: float, log: bool) -> float:
    """A number inside [low, high], finite, and > 0 on a log domain."""
    if isinstance(prior, bool) or not isinstance(prior, (int, float, np.integer, np.floating)):
        raise InvalidArgument(f"prior must be a number, got {prior!r}")
    value = float(prior)
    if not math.isfinite(value):
        raise InvalidArgument(f"prior must be finite, got {value}")
    if log and value <= 0:
        raise InvalidArgument(f"prior on a log-scale domain must be > 0, got {value}")
    if not low <= value <= high:
        raise InvalidArgument(f"prior {value} is outside [{low}, {high}]")
    return value


def check_integer_prior(prior: Any, low: int, high: int, log: bool) -> int:
    value = check_numeric_prior(prior, low, high, log)
    if not value.is_integer():
        raise InvalidArgument(f"prior must be an integer, got {prior!r}")
    return int(value)


def prior_among(validate: Callable[[Any], Any], prior: Any) -> Any:
    """The prior as `validate` (a domain's check of a config value) reads it, or its error."""
    try:
        return validate(prior)
    except InvalidArgument as exc:
        raise InvalidArgument(f"prior {exc}") from None


@dataclass(frozen=True)
class Shape:
    """Per parameter (columns of the unit cube): which carry a prior, and its form.

    `counts` is the number of choices of a categorical (0 if ordered), `center` the
    unit coordinate of the believed value, `spread` the standard deviation (ordered)
    or the weight of the believed choice (categorical).
    """

    on: np.ndarray  # bool, d
    counts: np.ndarray  # int, d
    center: np.ndarray  # float, d
    spread: np.ndarray  # float, d

    def moved_to(self, center: np.ndarray, fill: str | None = "low") -> Shape:
        """The same form around `center`; parameters without a prior get confidence `fill`
        (None: they stay uniform). PriorBand's incumbent-local distribution: the prior,
        moved to the incumbent."""
        if fill is None:
            return Shape(self.on, self.counts, np.asarray(center, float), self.spread)
        spread = np.where(
            self.on,
            self.spread,
            np.where(self.counts > 0, CATEGORICAL_WEIGHT[fill], ORDERED_STD[fill]),
        )
        return Shape(np.ones_like(self.on), self.counts, np.asarray(center, float), spread)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Maps uniform draws (n x d) to draws from this shape; columns without a prior stay."""
        from scipy.special import ndtr, ndtri  # here: scipy.special slows every start-up

        out = np.array(u, dtype=float, copy=True)
        for j in np.flatnonzero(self.on):
            k, c, s = int(self.counts[j]), float(self.center[j]), float(self.spread[j])
            if k:
                probs = _choice_probs(k, c, s)
                index = np.searchsorted(np.cumsum(probs), out[:, j], side="right")
                out[:, j] = (np.minimum(index, k - 1) + 0.5) / k
            else:
                lo, hi = ndtr(-c / s), ndtr((1.0 - c) / s)
                x = c + s * ndtri(lo + out[:, j] * (hi - lo))
                out[:, j] = np.clip(x, 0.0, _BELOW_ONE)
        return out

    def log_pdf(self, x: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """Log density relative to uniform at the rows of `x` (n x d); `active` (n x d, bool)
        leaves out parameters whose condition does not hold in a row."""
        from scipy.special import ndtr

        total = np.zeros(len(x))
        for j in np.flatnonzero(self.on):
            k, c, s = int(self.counts[j]), float(self.center[j]), float(self.spread[j])
            if k:
                probs = _choice_probs(k, c, s)
                index = np.minimum((x[:, j] * k).astype(int), k - 1)
                term = np.log(k * probs[index])
            else:
                z = (x[:, j] - c) / s
                mass = ndtr((1.0 - c) / s) - ndtr(-c / s)
                term = -0.5 * z * z - math.log(s * math.sqrt(2.0 * math.pi) * mass)
            total += term if active is None else np.where(active[:, j], term, 0.0)
        return total


def shape_of(domains: Sequence[Any]) -> Shape:
    """The priors of a space's domains (in order) as one `Shape`."""
    counts = np.array([len(d.choices) if hasattr(d, "choices") else 0 for d in domains])
    spread = np.array([
        0.0 if d.confidence is None else (CATEGORICAL_WEIGHT if k else ORDERED_STD)[d.confidence]
        for d, k in zip(domains, counts)
    ])
    return Shape(
        np.array([d.prior is not None for d in domains]),
        counts,
        np.array([d.to_unit(d.prior) if d.prior is not None else 0.5 for d in domains]),
        spread,
    )


def _choice_probs(k: int, center: float, weight: float) -> np.ndarray:
    probs = np.ones(k)
    probs[min(k - 1, int(center * k))] = weight
    return probs / probs.sum()


# πBO (Hvarfner et al. 2022): acquisition x prior ** (PIBO_BETA / n) after n results, so a
# prior guides the first proposals and is forgotten as data accumulates (the paper's
# beta = budget / 10, here for a budget of about 100 full evaluations).
PIBO_BETA = 10.0


def pibo_weights(log_prior: np.ndarray, n_results: int, beta: float = PIBO_BETA) -> np.ndarray:
    """prior ** (beta / n), scaled so the largest is 1 (a common factor ranks nothing)."""
    exponent = beta / max(1, n_results)
    return np.exp(exponent * (log_prior - log_prior.max()))
