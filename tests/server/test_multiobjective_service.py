"""The service with several objectives, constraints and conditions: wire and JSON forms,
report validation, idempotent retries, and a restart that rebuilds the same front."""

from __future__ import annotations

import numpy as np
import pytest

from rung import wire
from rung.core.conditions import Condition
from rung.core.errors import InvalidArgument
from rung.core.objectives import Constraint, Objective
from rung.core.space import Float, Int, SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, Decision, JobKind, Mode
from rung.server.service import StudyService
from rung.server.storage import MemoryJournal
from rung.v1 import rung_pb2 as pb
from server_support import FakeClock

SPEC = StudySpec(
    name="mo",
    space=SearchSpace(
        {"x": Float(0.0, 1.0), "layers": Int(1, 3), "units_3": Int(8, 64)},
        {"units_3": Condition.within("layers", [3])},
    ),
    objectives=(Objective("error"), Objective("accuracy_proxy", Mode.MAX)),
    constraints=(Constraint("memory_mb", "<=", 40.0),),
    reference_point=(1.0, 0.0),
    scheduler=SchedulerSettings("asha", 1, 9, 3),
    budget=Budget(max_trials=25),
    seed=4,
)


def metrics(config: dict, r: int) -> dict[str, float]:
    x = config["x"]
    return {"error": x + 1.0 / r, "accuracy_proxy": x * x, "memory_mb": 10.0 * config["layers"] + 20 * x}


def drive(service: StudyService, clock: FakeClock) -> None:
    for step in range(200):
        issued = service.suggest("mo", "w", f"r{step}")
        if issued.job.kind is JobKind.DONE:
            return
        job = issued.job
        assert ("units_3" in job.config) == (job.config["layers"] == 3)
        for r in range(job.resume_from + 1, job.milestone + 1):
            m = metrics(job.config, r)
            decision, _ = service.report("mo", job.trial_id, issued.lease_id, r, 0.0, "", metrics=m)
            service.report("mo", job.trial_id, issued.lease_id, r, 0.0, "", metrics=m)  # a retry
            clock.advance(1.0)
            if decision is not Decision.CONTINUE:
                break


def test_spec_round_trips_through_json_and_protobuf():
    assert StudySpec.from_json(SPEC.to_json()) == SPEC
    assert wire.spec_from_pb(wire.spec_to_pb(SPEC)) == SPEC
    plain = StudySpec(name="p", space=SearchSpace({"x": Float(0, 1)}))
    assert set(plain.to_json()) == {
        "name", "space", "metric", "mode", "scheduler", "searcher", "initial_configs", "budget", "seed",
    }
    assert not wire.spec_to_pb(plain).objectives and wire.spec_from_pb(wire.spec_to_pb(plain)) == plain


def test_bad_objectives_and_conditions_on_the_wire_are_refused_clearly():
    msg = wire.spec_to_pb(SPEC)
    msg.constraints[0].op = pb.CONSTRAINT_OP_UNSPECIFIED
    with pytest.raises(InvalidArgument, match="LESS_EQUAL or GREATER_EQUAL"):
        wire.spec_from_pb(msg)
    msg = wire.spec_to_pb(SPEC)
    msg.space[2].condition.parent = "nope"
    with pytest.raises(InvalidArgument, match="unknown parent 'nope'"):
        wire.spec_from_pb(msg)
    msg = wire.spec_to_pb(SPEC)
    msg.objectives.add(name="error")
    with pytest.raises(InvalidArgument, match="distinct"):
        wire.spec_from_pb(msg)
    msg = wire.spec_to_pb(SPEC)
    msg.reference_point.append(3.0)
    with pytest.raises(InvalidArgument, match="one finite number per objective"):
        wire.spec_from_pb(msg)


def test_reports_must_name_every_metric_and_retries_must_match():
    clock = FakeClock()
    service = StudyService(MemoryJournal(), clock=clock, lease_seconds=10.0)
    service.create_study(SPEC)
    issued = service.suggest("mo", "w", "a")
    t, lease = issued.job.trial_id, issued.lease_id
    with pytest.raises(InvalidArgument, match="report every metric by name"):
        service.report("mo", t, lease, 1, 0.5)
    with pytest.raises(InvalidArgument, match=r"missing metrics \['memory_mb'\]"):
        service.report("mo", t, lease, 1, 0.0, metrics={"error": 0.5, "accuracy_proxy": 0.1})
    with pytest.raises(InvalidArgument, match="must be finite"):
        service.report("mo", t, lease, 1, 0.0, metrics={"error": float("nan"), "accuracy_proxy": 0.1,
                                                         "memory_mb": 1.0})
    good = {"error": 0.5, "accuracy_proxy": 0.1, "memory_mb": 1.0}
    service.report("mo", t, lease, 1, 0.0, metrics=good)
    with pytest.raises(InvalidArgument, match="already reported"):
        service.report("mo", t, lease, 1, 0.0, metrics={**good, "error": 0.4})


def test_a_restart_rebuilds_the_same_front_and_hypervolume():
    clock = FakeClock()
    journal = MemoryJournal()
    service = StudyService(journal, clock=clock, lease_seconds=10.0)
    service.create_study(SPEC)
    drive(service, clock)
    view = service.get_study("mo")
    assert view.state == "done" and view.promotions > 0
    front = view.pareto
    assert front.front and front.hypervolume and front.reference_point == (1.0, 0.0)
    # Brute force over the latest feasible report of each trial at the highest resource.
    top = max(o.resource for t in service.list_trials("mo") for o in t.record.observations)
    latest = {}
    for t in service.list_trials("mo"):
        for o in t.record.observations:
            if o.resource == top and o.metrics["memory_mb"] <= 40.0:
                latest[t.trial_id] = np.array([o.metrics["error"], -o.metrics["accuracy_proxy"]])
    expected = {
        i for i, a in latest.items()
        if not any((b <= a).all() and (b < a).any() for b in latest.values())
    }
    assert {p.trial_id for p in front.front} == expected
    restarted = StudyService(journal, clock=clock, lease_seconds=10.0).get_study("mo")
    assert restarted.pareto == front and restarted.incumbent == view.incumbent
