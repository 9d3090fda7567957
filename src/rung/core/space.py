"""Search spaces: typed domains, sampling, validation and a JSON form.

Users may write domains as rung objects (`Float(1e-3, 1, log=True)`), as
scipy.stats frozen distributions the way the seeds do (`stats.loguniform(1e-2, 1)`,
`stats.randint(32, 256)`, `stats.uniform(0, 1)`), or as a list of choices.
Every domain maps to and from the unit interval, which model-based searchers use.

A parameter may carry a `Condition` on another (see `conditions`): it is then
active only for some values of its parent, and absent from configurations
where it is inactive. In the unit-cube encoding an inactive parameter takes the
fixed value `INACTIVE_UNIT` (the middle), so every config has d coordinates.

A domain may carry a user prior (`prior=` a value, `confidence=` "low", "medium"
or "high"): a distribution on its unit interval, see `priors`. Domains without
one, and their JSON form, are as they were before priors existed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Union

import numpy as np

from .conditions import Condition, canonical, check_conditions
from .errors import InvalidArgument
from .priors import (
    Shape, check_integer_prior, check_numeric_prior, prior_among, prior_field, set_prior, shape_of,
)
from .types import Config, ConfigValue

INACTIVE_UNIT = 0.5  # unit-cube coordinate of an inactive parameter


def _check_bounds(low: float, high: float, log: bool, what: str) -> None:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InvalidArgument(f"{what}: bounds must be finite, got [{low}, {high}]")
    if low > high:
        raise InvalidArgument(f"{what}: low {low} is above high {high}")
    if log and low <= 0:
        raise InvalidArgument(f"{what}: a log-scale domain needs low > 0, got {low}")


@dataclass(frozen=True)
class Float:
    low: float
    high: float
    log: bool = False
    prior: float | None = prior_field()
    confidence: str | None = prior_field()

    def __post_init__(self) -> None:
        _check_bounds(self.low, self.high, self.log, "float domain")
        set_prior(self, lambda p: check_numeric_prior(p, self.low, self.high, self.log))

    def from_unit(self, u: float) -> float:
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return float(min(self.high, max(self.low, math.exp(lo + u * (hi - lo)))))
        return float(self.low + u * (self.high - self.low))

    def to_unit(self, value: ConfigValue) -> float:
        if self.log:  # two close bounds can have the same logarithm: an empty span too
            lo, hi, x = math.log(self.low), math.log(self.high), math.log(float(value))
        else:
            lo, hi, x = self.low, self.high, float(value)
        return 0.5 if hi == lo else (x - lo) / (hi - lo)

    def validate(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidArgument(f"expected a number, got {value!r}")
        if not self.low <= value <= self.high:
            raise InvalidArgument(f"{value} is outside [{self.low}, {self.high}]")
        return float(value)


@dataclass(frozen=True)
class Int:
    low: int  # inclusive
    high: int  # inclusive
    log: bool = False
    prior: int | None = prior_field()
    confidence: str | None = prior_field()

    def __post_init__(self) -> None:
        if not (isinstance(self.low, (int, np.integer)) and isinstance(self.high, (int, np.integer))):
            raise InvalidArgument("int domain: bounds must be integers")
        _check_bounds(self.low, self.high, self.log, "int domain")
        set_prior(self, lambda p: check_integer_prior(p, self.low, self.high, self.log))

    def from_unit(self, u: float) -> int:
        # Widen by half a step on each side so the end points are as likely as the rest.
        if self.log:
            lo, hi = math.log(self.low - 0.4999), math.log(self.high + 0.4999)
            value = math.exp(lo + u * (hi - lo))
        else:
            value = (self.low - 0.4999) + u * (self.high - self.low + 0.9998)
        return int(min(self.high, max(self.low, round(value))))

    def to_unit(self, value: ConfigValue) -> float:
        if self.log:
            lo, hi = math.log(self.low - 0.4999), math.log(self.high + 0.4999)
            return (math.log(float(value)) - lo) / (hi - lo)
        return (float(value) - (self.low - 0.4999)) / (self.high - self.low + 0.9998)

    def validate(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise InvalidArgument(f"expected an integer, got {value!r}")
        if not self.low <= value <= self.high:
            raise InvalidArgument(f"{value} is outside [{self.low}, {self.high}]")
        return int(value)


@dataclass(frozen=True)
class Categorical:
    choices: tuple[ConfigValue, ...]
    prior: ConfigValue | None = prior_field()
    confidence: str | None = prior_field()

    def __post_init__(self) -> None:
        if not self.choices:
            raise InvalidArgument("categorical domain: needs at least one choice")
        for c in self.choices:
            if not isinstance(c, (str, int, float, bool)):
                raise InvalidArgument(f"categorical domain: unsupported choice {c!r}")
            if isinstance(c, float) and not math.isfinite(c):
                raise InvalidArgument(f"categorical domain: choices must be finite, got {c}")
        if len(set(self.choices)) != len(self.choices):
            raise InvalidArgument("categorical domain: choices must be distinct")
        set_prior(self, lambda p: prior_among(self.validate, p))

    def from_unit(self, u: float) -> ConfigValue:
        return self.choices[min(len(self.choices) - 1, int(u * len(self.choices)))]

    def to_unit(self, value: ConfigValue) -> float:
        return (self.choices.index(value) + 0.5) / len(self.choices)

    def validate(self, value: Any) -> ConfigValue:
        for c in self.choices:
            if type(c) is type(value) and c == value:
                return c
        raise InvalidArgument(f"{value!r} is not one of {list(self.choices)}")


# The grid is rebuilt for every sample: a bound keeps a hostile spec from exhausting memory.
MAX_FINITE_RANGE_SIZE = 100_000


@dataclass(frozen=True)
class FiniteRange:
    """`size` evenly spaced values from low to high (log-spaced if `log`)."""

    low: float
    high: float
    size: int
    log: bool = False
    cast_int: bool = False
    prior: ConfigValue | None = prior_field()
    confidence: str | None = prior_field()

    def __post_init__(self) -> None:
        _check_bounds(self.low, self.high, self.log, "finite range")
        if not isinstance(self.size, int) or not 1 <= self.size <= MAX_FINITE_RANGE_SIZE:
            raise InvalidArgument(
                f"finite range: size must be an integer from 1 to {MAX_FINITE_RANGE_SIZE}, "
                f"got {self.size!r}"
            )
        set_prior(self, lambda p: prior_among(
            self.validate, check_numeric_prior(p, self.low, self.high, self.log)
        ))

    def values(self) -> list[ConfigValue]:
        if self.log:
            grid = np.geomspace(self.low, self.high, self.size)
        else:
            grid = np.linspace(self.low, self.high, self.size)
        return [int(round(v)) if self.cast_int else float(v) for v in grid]

    def from_unit(self, u: float) -> ConfigValue:
        return self.values()[min(self.size - 1, int(u * self.size))]

    def to_unit(self, value: ConfigValue) -> float:
        return (self.values().index(value) + 0.5) / self.size

    def validate(self, value: Any) -> ConfigValue:
        for v in self.values():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isclose(
                v, value, rel_tol=1e-9, abs_tol=1e-12
            ):
                return v
        raise InvalidArgument(f"{value!r} is not one of {self.values()}")


Domain = Union[Float, Int, Categorical, FiniteRange]
_DOMAIN_TYPES = (Float, Int, Categorical, FiniteRange)


def _from_scipy(dist: Any) -> Domain:
    """Reads a scipy.stats frozen distribution as the seeds write them."""
    name = dist.dist.name
    low, high = (float(x) for x in dist.support())
    if name in ("loguniform", "reciprocal"):
        return Float(low, high, log=True)
    if name == "uniform":
        return Float(low, high)
    if name == "randint":
        return Int(int(low), int(high))
    raise InvalidArgument(
        f"unsupported scipy distribution {name!r}: use uniform, loguniform or randint"
    )


def to_domain(value: Any) -> Domain:
    """Accepts a rung domain, a scipy frozen distribution, or a list/tuple of choices."""
    if isinstance(value, _DOMAIN_TYPES):
        return value
    if hasattr(value, "dist") and hasattr(value, "support"):
        return _from_scipy(value)
    if isinstance(value, (list, tuple)):
        return Categorical(tuple(value))
    raise InvalidArgument(
        f"cannot read {value!r} as a domain: use Float, Int, Categorical, FiniteRange, "
        "a scipy.stats distribution or a list of choices"
    )


class SearchSpace:
    """An ordered mapping from parameter names to domains, with optional conditions."""

    def __init__(
        self, params: Mapping[str, Any], conditions: Mapping[str, Any] | None = None
    ):
        if not params:
            raise InvalidArgument("the search space is empty")
        self.params: dict[str, Domain] = {}
        for name, dom in params.items():
            if not isinstance(name, str) or not name:
                raise InvalidArgument(f"parameter names must be non-empty strings, got {name!r}")
            try:
                self.params[name] = to_domain(dom)
            except InvalidArgument as exc:
                raise InvalidArgument(f"parameter {name!r}: {exc}") from None
        read = {child: Condition.from_json(c) for child, c in (conditions or {}).items()}
        self._order = check_conditions(self.params, read)
        self.conditions: dict[str, Condition] = {
            child: canonical(child, c, self.params[c.parent]) for child, c in read.items()
        }
        self.has_priors = any(dom.prior is not None for dom in self.params.values())
        self._prior_shape: Shape | None = None

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SearchSpace)
            and self.params == other.params
            and self.conditions == other.conditions
        )

    def __repr__(self) -> str:
        if self.conditions:
            return f"SearchSpace({self.params!r}, conditions={self.conditions!r})"
        return f"SearchSpace({self.params!r})"

    def active(self, config: Mapping[str, Any]) -> set[str]:
        """The parameters whose conditions hold for `config` (parents before children)."""
        on: set[str] = set()
        for name in self._order:
            cond = self.conditions.get(name)
            if cond is None or (cond.parent in on and cond.holds(config.get(cond.parent))):
                on.add(name)
        return on

    def sample(self, rng: np.random.Generator) -> dict[str, ConfigValue]:
        return self.from_unit(rng.random(len(self.params)))

    def from_unit(self, u: "np.ndarray | list[float]") -> dict[str, ConfigValue]:
        full = {name: dom.from_unit(float(x)) for (name, dom), x in zip(self.params.items(), u)}
        if not self.conditions:
            return full
        on = self.active(full)
        return {name: v for name, v in full.items() if name in on}

    def to_unit(self, config: Config) -> np.ndarray:
        return np.array([
            dom.to_unit(config[name]) if name in config else INACTIVE_UNIT
            for name, dom in self.params.items()
        ])

    def validate(self, config: Mapping[str, Any]) -> dict[str, ConfigValue]:
        """Returns the config with canonical types, or raises InvalidArgument.

        A config holds exactly the active parameters: those whose conditions hold.
        """
        extra = set(config) - set(self.params)
        if extra:
            raise InvalidArgument(
                f"config does not match the search space (unknown {sorted(extra)})"
            )
        out: dict[str, ConfigValue] = {}
        missing = []
        for name in self._order:
            cond = self.conditions.get(name)
            if cond is not None and not (cond.parent in out and cond.holds(out[cond.parent])):
                if name in config:
                    raise InvalidArgument(
                        f"parameter {name!r} is inactive here (its condition: {cond.parent!r} "
                        f"in {list(cond.values)}) and must be left out"
                    )
                continue
            if name not in config:
                missing.append(name)
                continue
            try:
                out[name] = self.params[name].validate(config[name])
            except InvalidArgument as exc:
                raise InvalidArgument(f"parameter {name!r}: {exc}") from None
        if missing:
            raise InvalidArgument(
                f"config does not match the search space (missing {sorted(missing)}, unknown [])"
            )
        return {name: out[name] for name in self.params if name in out}

    # ------------------------------------------------------------------ priors

    @property
    def prior_shape(self) -> Shape:
        """The priors as distributions on the unit cube (see `priors`); uniform where unset."""
        if self._prior_shape is None:
            self._prior_shape = shape_of(list(self.params.values()))
        return self._prior_shape

    def sample_prior(self, rng: np.random.Generator) -> dict[str, ConfigValue]:
        """A config drawn from the priors (uniform where unset), with as many draws as `sample`."""
        return self.from_unit(self.prior_shape.ppf(rng.random((1, len(self.params))))[0])

    def prior_config(self) -> dict[str, ConfigValue]:
        """Every prior's value; parameters without a prior take the middle of their range."""
        full = {
            name: dom.prior if dom.prior is not None else dom.from_unit(0.5)
            for name, dom in self.params.items()
        }
        on = self.active(full) if self.conditions else set(full)
        return {name: v for name, v in full.items() if name in on}

    def prior_log_pdf(self, units: np.ndarray) -> np.ndarray:
        """Log prior density (relative to uniform) of unit-cube rows; a conditional parameter
        counts only in rows where its condition holds."""
        units = np.asarray(units, dtype=float).reshape(-1, len(self.params))
        shape = self.prior_shape
        names = list(self.params)
        if not any(names[j] in self.conditions for j in np.flatnonzero(shape.on)):
            return shape.log_pdf(units)
        active = np.array([
            [name in on for name in names] for on in (self.active(self.from_unit(u)) for u in units)
        ]).reshape(units.shape)
        return shape.log_pdf(units, active)

    # ------------------------------------------------------------------ JSON

    def to_json(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name, dom in self.params.items():
            body = {
                k: (list(v) if isinstance(v, tuple) else v)
                for k, v in vars(dom).items()
                if k not in ("prior", "confidence") or v is not None  # old specs stay as they were
            }
            out[name] = {"type": type(dom).__name__, **body}
            if name in self.conditions:
                out[name]["condition"] = self.conditions[name].to_json()
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Mapping[str, Any]]) -> "SearchSpace":
        types = {t.__name__: t for t in _DOMAIN_TYPES}
        params: dict[str, Domain] = {}
        conditions: dict[str, Any] = {}
        for name, body in data.items():
            if not isinstance(body, Mapping):
                raise InvalidArgument(f"parameter {name!r}: expected an object, got {body!r}")
            kwargs = dict(body)
            if "condition" in kwargs:
                conditions[name] = kwargs.pop("condition")
            kind = types.get(kwargs.pop("type", None))
            if kind is None:
                raise InvalidArgument(f"parameter {name!r}: unknown domain type {body.get('type')!r}")
            if "choices" in kwargs:
                kwargs["choices"] = tuple(kwargs["choices"])
            try:
                params[name] = kind(**kwargs)
            except (TypeError, InvalidArgument) as exc:
                raise InvalidArgument(f"parameter {name!r}: {exc}") from None
        return cls(params, conditions)
