"""The simulator and a live server make the same decisions for the same seed and events.

The simulator runs a study on a benchmark while a recording proxy logs every
Suggest and Report it makes; the same calls, in the same order, then go
through the SDK to a real `rung serve` subprocess (one SDK worker id per
simulated worker). Every job (kind, trial id, config, resume_from,
milestone) and every decision must match, and so must the trials at the end.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from rung.client import Client
from rung.core.schedulers import Scheduler
from rung.core.space import SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, Decision, JobKind
from rung.sim.benchmarks import make_benchmark
from rung.sim.simulator import Simulator
from rung.v1 import rung_pb2 as pb
from rung import wire

SETTINGS = {"r_min": 1, "r_max": 9, "eta": 3, "max_trials": 24, "seed": 11}


class Recorder:
    """Forwards to a scheduler and logs each suggest/report with its answer."""

    def __init__(self, scheduler: Scheduler):
        self._scheduler = scheduler
        self.calls: list[tuple[Any, ...]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._scheduler, name)

    def suggest(self, now: float) -> Any:
        job = self._scheduler.suggest(now)
        self.calls.append(("suggest", job))
        return job

    def report(self, trial_id: int, resource: int, value: float) -> Decision:
        decision = self._scheduler.report(trial_id, resource, value)
        self.calls.append(("report", trial_id, resource, value, decision))
        return decision


def with_priors(space: SearchSpace) -> SearchSpace:
    """Every parameter with a prior, one confident, so the prior-aware searchers run too."""
    return SearchSpace({
        name: replace(dom, prior=dom.from_unit(0.3), confidence="high" if i == 0 else "low")
        for i, (name, dom) in enumerate(space.params.items())
    })


@pytest.mark.parametrize(
    "kind, searcher, priors",
    [("asha", "random", False), ("hyperband", "random", False),
     ("sync_hyperband", "random", False), ("asha_stopping", "random", False),
     ("asha", "mfgp", False), ("model_promotion", "mfgp", False),
     ("hyperband", "random", True), ("asha", "mfgp", True)],
)
def test_simulator_and_server_agree(server: Any, kind: str, searcher: str, priors: bool) -> None:
    bench = make_benchmark("hartmann3", r_max=SETTINGS["r_max"], seed=SETTINGS["seed"])
    space = with_priors(bench.space) if priors else SearchSpace(bench.space.params)
    spec = StudySpec(
        name=f"sim-{kind}-{searcher}{'-priors' if priors else ''}",
        space=space,
        scheduler=SchedulerSettings(kind, SETTINGS["r_min"], SETTINGS["r_max"], SETTINGS["eta"]),
        searcher=searcher,
        budget=Budget(max_trials=SETTINGS["max_trials"]),
        seed=SETTINGS["seed"],
    )
    recorder = Recorder(spec.build_scheduler())
    Simulator(recorder, bench, n_workers=3).run()  # type: ignore[arg-type]
    early = [c for c in recorder.calls if c[0] == "report" and c[4] is not Decision.CONTINUE
             and c[2] < SETTINGS["r_max"]]
    assert len(recorder.trials) == SETTINGS["max_trials"] and early  # promotions or early stops

    with Client(server.address) as client:
        study = client.create_study(
            spec.name, space.params, scheduler=kind, searcher=searcher, r_min=SETTINGS["r_min"],
            r_max=SETTINGS["r_max"], eta=SETTINGS["eta"], max_trials=SETTINGS["max_trials"],
            seed=SETTINGS["seed"],
        )
        leases: dict[int, str] = {}
        for call in recorder.calls:
            if call[0] == "suggest":
                expected = call[1]
                job = study.suggest(worker_id="sim")
                assert pb.JobKind.Name(job.kind).lower() == expected.kind.value
                if expected.kind in (JobKind.START, JobKind.RESUME):
                    got = (job.trial_id, wire.config_from_pb(job.config), job.resume_from, job.milestone)
                    want = (expected.trial_id, dict(expected.config), expected.resume_from, expected.milestone)
                    assert got == want
                    leases[job.trial_id] = job.lease_id
            else:
                _, trial_id, resource, value, decision = call
                response = client.call("Report", pb.ReportRequest(
                    study=spec.name, trial_id=trial_id, lease_id=leases[trial_id],
                    resource=resource, value=value,
                ))
                assert pb.Decision.Name(response.decision).lower() == decision.value

        served = {t.id: t for t in client.list_trials(spec.name)}
        simulated = recorder.trials
        assert sorted(served) == sorted(simulated)
        for trial_id, trial in simulated.items():
            assert pb.TrialStatus.Name(served[trial_id].status).lower() == trial.status.value
            assert served[trial_id].bracket == trial.bracket
        incumbent = recorder.incumbent()
        info = study.info()
        assert (info.incumbent.trial_id, info.incumbent.value) == (incumbent.trial_id, incumbent.value)
