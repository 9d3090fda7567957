"""Conversions between rung.v1 protobuf messages and core values.

Shared by the server and the client SDK so that both sides read and write the
wire format the same way. Configs travel as typed values; nothing is pickled.
"""

from __future__ import annotations

from typing import Any, Mapping

from rung.core.conditions import Condition
from rung.core.errors import InvalidArgument
from rung.core.objectives import Constraint, Objective
from rung.core.results import ParetoSummary
from rung.core.space import Categorical, Domain, FiniteRange, Float, Int, SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, ConfigValue, Decision, JobKind, Mode, TrialStatus
from rung.v1 import rung_pb2 as pb

MODES = {Mode.MIN: pb.MIN, Mode.MAX: pb.MAX}
CONSTRAINT_OPS = {"<=": pb.LESS_EQUAL, ">=": pb.GREATER_EQUAL}
JOB_KINDS = {
    JobKind.START: pb.START,
    JobKind.RESUME: pb.RESUME,
    JobKind.WAIT: pb.WAIT,
    JobKind.DONE: pb.DONE,
}
DECISIONS = {Decision.CONTINUE: pb.CONTINUE, Decision.PAUSE: pb.PAUSE, Decision.STOP: pb.STOP}
TRIAL_STATUSES = {
    TrialStatus.RUNNING: pb.RUNNING,
    TrialStatus.PAUSED: pb.PAUSED,
    TrialStatus.COMPLETED: pb.COMPLETED,
    TrialStatus.STOPPED: pb.STOPPED,
    TrialStatus.FAILED: pb.FAILED,
}
STUDY_STATES = {"running": pb.STUDY_RUNNING, "done": pb.STUDY_DONE, "stopped": pb.STUDY_STOPPED}
CONFIDENCES = {"low": pb.PRIOR_LOW, "medium": pb.PRIOR_MEDIUM, "high": pb.PRIOR_HIGH}


def value_to_pb(value: ConfigValue) -> pb.Value:
    # bool before int: bool is a subclass of int in Python.
    if isinstance(value, bool):
        return pb.Value(bool_value=value)
    if isinstance(value, int):
        return pb.Value(int_value=value)
    if isinstance(value, float):
        return pb.Value(float_value=value)
    if isinstance(value, str):
        return pb.Value(string_value=value)
    if hasattr(value, "item"):  # numpy scalars
        return value_to_pb(value.item())
    raise InvalidArgument(f"unsupported config value {value!r} of type {type(value).__name__}")


def value_from_pb(msg: pb.Value) -> ConfigValue:
    kind = msg.WhichOneof("kind")
    if kind is None:
        raise InvalidArgument("a config value is empty (no type set)")
    return getattr(msg, kind)


def config_to_pb(config: Mapping[str, ConfigValue]) -> pb.Config:
    return pb.Config(values={k: value_to_pb(v) for k, v in config.items()})


def config_from_pb(msg: pb.Config) -> dict[str, ConfigValue]:
    return {k: value_from_pb(v) for k, v in sorted(msg.values.items())}


def domain_to_pb(name: str, dom: Domain) -> pb.Parameter:
    msg = _domain_to_pb(name, dom)
    if dom.prior is not None:
        msg.prior.CopyFrom(value_to_pb(dom.prior))
        msg.confidence = CONFIDENCES[dom.confidence or "medium"]
    return msg


def _domain_to_pb(name: str, dom: Domain) -> pb.Parameter:
    if isinstance(dom, Float):
        return pb.Parameter(name=name, float_domain=pb.FloatDomain(low=dom.low, high=dom.high, log=dom.log))
    if isinstance(dom, Int):
        return pb.Parameter(name=name, int_domain=pb.IntDomain(low=dom.low, high=dom.high, log=dom.log))
    if isinstance(dom, Categorical):
        return pb.Parameter(
            name=name, categorical=pb.CategoricalDomain(choices=[value_to_pb(c) for c in dom.choices])
        )
    return pb.Parameter(
        name=name,
        finite_range=pb.FiniteRangeDomain(
            low=dom.low, high=dom.high, size=dom.size, log=dom.log, cast_int=dom.cast_int
        ),
    )


def domain_from_pb(msg: pb.Parameter) -> Domain:
    """The domain, with its prior when `prior` is set (its confidence: MEDIUM when unset)."""
    prior: dict[str, Any] = {}
    if msg.HasField("prior"):
        confidence = {v: k for k, v in CONFIDENCES.items()}.get(msg.confidence)
        if confidence is None and msg.confidence != pb.PRIOR_CONFIDENCE_UNSPECIFIED:
            raise InvalidArgument(f"unknown prior confidence {msg.confidence}")
        if msg.prior.WhichOneof("kind") is None:
            raise InvalidArgument("prior is set but holds no value")
        prior = {"prior": value_from_pb(msg.prior), "confidence": confidence}
    elif msg.confidence != pb.PRIOR_CONFIDENCE_UNSPECIFIED:
        raise InvalidArgument("confidence is set without a prior")
    kind = msg.WhichOneof("domain")
    if kind == "float_domain":
        d = msg.float_domain
        return Float(d.low, d.high, d.log, **prior)
    if kind == "int_domain":
        d = msg.int_domain
        return Int(d.low, d.high, d.log, **prior)
    if kind == "categorical":
        return Categorical(tuple(value_from_pb(c) for c in msg.categorical.choices), **prior)
    if kind == "finite_range":
        d = msg.finite_range
        return FiniteRange(d.low, d.high, d.size, d.log, d.cast_int, **prior)
    raise InvalidArgument(f"parameter {msg.name!r} has no domain")


def space_to_pb(space: SearchSpace) -> list[pb.Parameter]:
    params = [domain_to_pb(n, d) for n, d in space.params.items()]
    for p in params:
        cond = space.conditions.get(p.name)
        if cond is not None:
            p.condition.CopyFrom(
                pb.ParameterCondition(parent=cond.parent, values=[value_to_pb(v) for v in cond.values])
            )
    return params


def space_from_pb(params: Any) -> SearchSpace:
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise InvalidArgument("parameter names in the search space must be unique")
    out, conditions = {}, {}
    for p in params:
        try:
            out[p.name] = domain_from_pb(p)
            if p.HasField("condition"):
                values = tuple(value_from_pb(v) for v in p.condition.values)
                conditions[p.name] = Condition(p.condition.parent, values)
        except InvalidArgument as exc:
            raise InvalidArgument(f"parameter {p.name!r}: {exc}") from None
    return SearchSpace(out, conditions)


def metrics_from_pb(metrics: Mapping[str, float]) -> dict[str, float]:
    if not metrics:  # a single-objective Report: its value is in `value`
        return {}
    return {k: float(v) for k, v in sorted(metrics.items())}


def _mode_from_pb(mode: int) -> Mode:
    found = {pb.MIN: Mode.MIN, pb.MAX: Mode.MAX, pb.MODE_UNSPECIFIED: Mode.MIN}.get(mode)
    if found is None:
        raise InvalidArgument(f"unknown metric mode {mode}")
    return found


def _constraint_from_pb(msg: pb.Constraint) -> Constraint:
    op = {v: k for k, v in CONSTRAINT_OPS.items()}.get(msg.op)
    if op is None:
        raise InvalidArgument(f"constraint on {msg.metric!r}: set op to LESS_EQUAL or GREATER_EQUAL")
    return Constraint(msg.metric, op, msg.bound)


def spec_to_pb(spec: StudySpec) -> pb.StudySpec:
    s = spec.scheduler
    return pb.StudySpec(
        name=spec.name,
        space=space_to_pb(spec.space),
        metric=pb.Metric(name=spec.metric, mode=MODES[spec.mode]),
        scheduler=pb.SchedulerSpec(
            kind=s.kind, r_min=s.r_min, r_max=s.r_max, eta=s.eta, brackets=s.brackets
        ),
        searcher=pb.SearcherSpec(
            kind=spec.searcher, initial_configs=[config_to_pb(c) for c in spec.initial_configs]
        ),
        budget=pb.Budget(
            max_trials=spec.budget.max_trials,
            max_resource=spec.budget.max_resource,
            max_wall_seconds=spec.budget.max_wall_seconds,
        ),
        seed=spec.seed,
        objectives=[] if spec.is_scalar else [
            pb.Metric(name=o.name, mode=MODES[o.mode]) for o in spec.objectives
        ],
        constraints=[
            pb.Constraint(metric=c.metric, op=CONSTRAINT_OPS[c.op], bound=c.bound)
            for c in spec.constraints
        ],
        reference_point=list(spec.reference_point),
    )


def spec_from_pb(msg: pb.StudySpec) -> StudySpec:
    """Reads a spec; unset fields take the documented defaults (ASHA, random, eta 3)."""
    mode = _mode_from_pb(msg.metric.mode)
    s = msg.scheduler
    defaults = SchedulerSettings()
    return StudySpec(
        name=msg.name,
        space=space_from_pb(msg.space),
        metric=msg.metric.name or "error",
        mode=mode,
        scheduler=SchedulerSettings(
            kind=s.kind or defaults.kind,
            r_min=s.r_min or defaults.r_min,
            r_max=s.r_max or defaults.r_max,
            eta=s.eta or defaults.eta,
            brackets=s.brackets,
        ),
        searcher=msg.searcher.kind or "random",
        initial_configs=tuple(config_from_pb(c) for c in msg.searcher.initial_configs),
        budget=Budget(
            max_trials=msg.budget.max_trials,
            max_resource=msg.budget.max_resource,
            max_wall_seconds=msg.budget.max_wall_seconds,
        ),
        seed=msg.seed,
        objectives=tuple(Objective(m.name, _mode_from_pb(m.mode)) for m in msg.objectives),
        constraints=tuple(_constraint_from_pb(c) for c in msg.constraints),
        reference_point=tuple(msg.reference_point),
    )


def pareto_to_pb(
    summary: ParetoSummary, configs: Mapping[int, Mapping[str, ConfigValue]], msg: pb.Study
) -> None:
    """Fills a Study's front, hypervolume curve and reference point."""
    msg.pareto_front.extend(
        pb.ParetoPoint(
            trial_id=p.trial_id,
            config=config_to_pb(configs[p.trial_id]),
            resource=p.resource,
            metrics=dict(p.metrics),
        )
        for p in summary.front
    )
    msg.hypervolume.extend(pb.HypervolumePoint(seq=s, at=at, value=v) for s, at, v in summary.hypervolume)
    msg.reference_point.extend(summary.reference_point)
