"""Studies with user priors on the server: the proto carries them both ways, a restart
replays them to the same state, a snapshot restore equals a replay, and a bad prior comes
back as INVALID_ARGUMENT naming the parameter, over real gRPC."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from rung.server.app import start_server
from rung.server.blobs import BlobStore
from rung.server.service import StudyService
from rung.server.sql_journal import SqliteJournal
from rung.v1 import rung_pb2 as pb
from rung.v1 import rung_pb2_grpc
from server_support import FakeClock, snapshot, study_summary
from test_service_replay import copy_journal, run_mixed_study
from test_snapshots import _state

from rung import wire
from rung.core.space import Categorical, FiniteRange, Float, Int, SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget
from rung.study_file import study_options

SPACE = SearchSpace({
    "x": Float(0.0, 1.0, prior=0.2, confidence="high"),
    "lr": Float(1e-4, 1.0, log=True, prior=3e-3, confidence="low"),
    "n": Int(1, 64, log=True, prior=16),
    "opt": Categorical(("sgd", "adam"), prior="adam", confidence="medium"),
    "wd": FiniteRange(0.0, 0.1, 5, prior=0.025),
})


def prior_spec(searcher: str = "random", scheduler: str = "asha") -> StudySpec:
    return StudySpec(
        name="s",
        space=SPACE,
        scheduler=SchedulerSettings(scheduler, 1, 9, 3),
        searcher=searcher,
        budget=Budget(max_trials=30),
        seed=7,
    )


def test_priors_round_trip_through_the_proto_and_the_json() -> None:
    spec = prior_spec("mfgp", "hyperband")
    msg = pb.StudySpec.FromString(wire.spec_to_pb(spec).SerializeToString())
    assert msg.space[0].confidence == pb.PRIOR_HIGH and msg.space[0].prior.float_value == 0.2
    assert msg.space[3].prior.string_value == "adam"
    assert wire.spec_from_pb(msg) == spec
    assert StudySpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    plain = pb.Parameter(name="x", float_domain=pb.FloatDomain(low=0.0, high=1.0))
    assert not plain.HasField("prior") and wire.domain_from_pb(plain).prior is None
    unspecified = pb.Parameter(
        name="x", float_domain=pb.FloatDomain(low=0.0, high=1.0), prior=pb.Value(float_value=0.5)
    )
    assert wire.domain_from_pb(unspecified).confidence == "medium"


def test_a_study_file_takes_priors() -> None:
    options = study_options({"space": {
        "lr": {"type": "Float", "low": 1e-4, "high": 1, "log": True, "prior": 3e-3,
               "confidence": "high"},
        "opt": {"type": "Categorical", "choices": ["sgd", "adam"], "prior": "sgd"},
    }})
    assert options["space"]["lr"] == Float(1e-4, 1, log=True, prior=3e-3, confidence="high")
    assert options["space"]["opt"].prior == "sgd" and options["space"]["opt"].confidence == "medium"


@pytest.fixture(params=[("random", "asha"), ("mfgp", "hyperband"), ("bohb", "asha")],
                ids=lambda p: "-".join(p))
def prior_service(
    request: pytest.FixtureRequest, make_service: Callable[..., StudyService]
) -> StudyService:
    service = make_service()
    service.create_study(prior_spec(*request.param))
    return service


def test_a_restart_replays_a_study_with_priors_to_the_same_state(
    prior_service: StudyService, make_service: Callable[..., StudyService], clock: FakeClock
) -> None:
    run_mixed_study(prior_service, clock, steps=60)
    restarted = make_service(journal=copy_journal(prior_service.journal))
    assert restarted.get_study("s").spec.space == SPACE
    assert _state(restarted) == _state(prior_service)
    assert snapshot(restarted) == snapshot(prior_service)
    assert study_summary(restarted) == study_summary(prior_service)
    for step in range(10):  # and decides as the original would
        a = prior_service.suggest("s", "w", f"after-{step}")
        b = restarted.suggest("s", "w", f"after-{step}")
        assert (a.job, a.lease_id != "") == (b.job, b.lease_id != "")


def test_a_snapshot_restore_equals_a_replay_with_priors(
    prior_service: StudyService, make_service: Callable[..., StudyService], clock: FakeClock
) -> None:
    run_mixed_study(prior_service, clock, steps=40)
    assert prior_service.save_snapshot("s")
    run_mixed_study(prior_service, clock, steps=20, seed=5)
    from_snapshot = make_service(journal=prior_service.journal)
    full_replay = make_service(journal=copy_journal(prior_service.journal))
    assert _state(from_snapshot) == _state(full_replay)
    # Both restarts, so a lease the original saw expire at its last call is open in each.
    assert snapshot(from_snapshot) == snapshot(full_replay)
    for step in range(10):
        a = from_snapshot.suggest("s", "w", f"after-{step}")
        b = full_replay.suggest("s", "w", f"after-{step}")
        assert (a.job, a.lease_id != "") == (b.job, b.lease_id != "")


# ---------------------------------------------------------------- over gRPC


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[rung_pb2_grpc.RungStub]:
    folder: Path = tmp_path_factory.mktemp("priors-rpc")
    service = StudyService(SqliteJournal(folder / "rung.db"), lease_seconds=3600)
    running = start_server(service, "127.0.0.1", 0, blobs=BlobStore(folder / "blobs", 1 << 20))
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    yield rung_pb2_grpc.RungStub(channel)
    channel.close()
    running.stop(grace=1)


def _spec(name: str, param: pb.Parameter) -> pb.StudySpec:
    return pb.StudySpec(
        name=name, space=[param], scheduler=pb.SchedulerSpec(kind="asha", r_min=1, r_max=9, eta=3),
        budget=pb.Budget(max_trials=5),
    )


def _float(**prior: object) -> pb.Parameter:
    return pb.Parameter(name="lr", float_domain=pb.FloatDomain(low=1e-3, high=1.0, log=True),
                        **prior)  # type: ignore[arg-type]


@pytest.mark.parametrize("param, message", [
    (_float(prior=pb.Value(float_value=2.0)), "prior 2.0 is outside"),
    (_float(prior=pb.Value(float_value=float("nan"))), "prior must be finite"),
    (_float(prior=pb.Value(float_value=-1.0)), "log-scale domain must be > 0"),
    (_float(prior=pb.Value(string_value="big")), "prior must be a number"),
    (_float(prior=pb.Value()), "prior is set but holds no value"),
    (_float(confidence=pb.PRIOR_HIGH), "confidence is set without a prior"),
    (_float(prior=pb.Value(float_value=0.1), confidence=7), "unknown prior confidence"),
    (pb.Parameter(name="lr", categorical=pb.CategoricalDomain(
        choices=[pb.Value(string_value="a")]), prior=pb.Value(string_value="b")),
     "prior 'b' is not one of"),
    (pb.Parameter(name="lr", int_domain=pb.IntDomain(low=1, high=8),
                  prior=pb.Value(float_value=2.5)), "prior must be an integer"),
])
def test_a_bad_prior_is_invalid_argument_naming_the_parameter(
    stub: rung_pb2_grpc.RungStub, param: pb.Parameter, message: str
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stub.CreateStudy(pb.CreateStudyRequest(spec=_spec("bad", param)), timeout=20)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "parameter 'lr'" in info.value.details() and message in info.value.details()


def test_a_study_with_a_prior_comes_back_with_it_and_proposes_it_first(
    stub: rung_pb2_grpc.RungStub,
) -> None:
    param = _float(prior=pb.Value(float_value=0.01), confidence=pb.PRIOR_HIGH)
    stub.CreateStudy(pb.CreateStudyRequest(spec=_spec("good", param)), timeout=20)
    got = stub.GetStudy(pb.GetStudyRequest(study="good"), timeout=20).spec.space[0]
    assert got.prior.float_value == 0.01 and got.confidence == pb.PRIOR_HIGH
    job = stub.Suggest(pb.SuggestRequest(study="good", worker_id="w", request_id="r0"), timeout=20)
    assert wire.config_from_pb(job.config) == {"lr": 0.01}
