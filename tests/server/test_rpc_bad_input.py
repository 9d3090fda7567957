"""Malformed and hostile requests to every RPC, through a real in-process server on port 0.

Each request must get its exact status code with a message, and afterwards the
server must still serve, with the reference study's trials exactly as before.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import given, settings
from hypothesis import strategies as st

from rung.core.schedulers import SCHEDULERS
from rung.core.searchers import SEARCHERS
from rung.server.app import start_server
from rung.server.blobs import BlobStore
from rung.server.service import MAX_ID_LENGTH, MAX_TEXT_LENGTH, StudyService
from rung.server.sql_journal import SqliteJournal
from rung.v1 import rung_pb2 as pb
from rung.v1 import rung_pb2_grpc

Code = grpc.StatusCode
EXAMPLES = settings(max_examples=30, deadline=None)
REF = "ref"
MESSAGE_LIMIT = 4 * 1024 * 1024
VALID_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def float_param(
    name: str = "x", low: float = 0.0, high: float = 1.0, log: bool = False
) -> pb.Parameter:
    return pb.Parameter(name=name, float_domain=pb.FloatDomain(low=low, high=high, log=log))


def good_spec(name: str, max_trials: int = 5) -> pb.StudySpec:
    return pb.StudySpec(
        name=name,
        space=[float_param()],
        scheduler=pb.SchedulerSpec(kind="asha", r_min=1, r_max=9, eta=3),
        budget=pb.Budget(max_trials=max_trials),
    )


@dataclass
class Rig:
    """The server, a stub, and study `ref`: trial 0 paused at level 1, trials 1 and 2 running."""

    channel: grpc.Channel
    stub: rung_pb2_grpc.RungStub
    health: health_pb2_grpc.HealthStub
    paused_lease: str  # trial 0's ended lease
    lease: str  # trial 1's active lease (segment 0 -> 1)
    before: pb.ListTrialsResponse

    def expect(self, method: str, request: Any, code: Code) -> str:
        """Calls `method`, checks the status code and message, then that nothing changed."""
        with pytest.raises(grpc.RpcError) as info:
            getattr(self.stub, method)(request, timeout=20)
        error = info.value
        assert error.code() == code, f"{method}: {error.code()} {error.details()!r}"
        assert error.details() and error.details().strip()
        self.assert_intact()
        return error.details()

    def assert_intact(self) -> None:
        status = self.health.Check(health_pb2.HealthCheckRequest(), timeout=10).status
        assert status == health_pb2.HealthCheckResponse.SERVING
        assert self.stub.ListTrials(pb.ListTrialsRequest(study=REF), timeout=10) == self.before
        studies = self.stub.ListStudies(pb.ListStudiesRequest(), timeout=10).studies
        assert [s.spec.name for s in studies] == [REF]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    folder = tmp_path_factory.mktemp("rpc")
    service = StudyService(SqliteJournal(folder / "rung.db"), lease_seconds=3600)
    running = start_server(service, "127.0.0.1", 0, blobs=BlobStore(folder / "blobs", 1 << 20))
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    stub = rung_pb2_grpc.RungStub(channel)
    stub.CreateStudy(pb.CreateStudyRequest(spec=good_spec(REF)))
    jobs = [
        stub.Suggest(pb.SuggestRequest(study=REF, worker_id="w", request_id=f"r{i}"))
        for i in range(3)
    ]
    stub.Report(
        pb.ReportRequest(study=REF, trial_id=0, lease_id=jobs[0].lease_id, resource=1, value=0.5)
    )
    before = stub.ListTrials(pb.ListTrialsRequest(study=REF))
    yield Rig(
        channel,
        stub,
        health_pb2_grpc.HealthStub(channel),
        jobs[0].lease_id,
        jobs[1].lease_id,
        before,
    )
    channel.close()
    running.stop(grace=1)


# ---------------------------------------------------------------- strategies

unknown_names = st.from_regex(VALID_NAME, fullmatch=True).filter(
    lambda n: n != REF and ".." not in n
)
bad_names = st.one_of(
    st.sampled_from(
        [
            "",
            "..",
            "../../etc",
            "../ref",
            "ref/../../x",
            "/etc/passwd",
            "./ref",
            ".ref",
            "-ref",
            "ref\x00",
            "ref\n",
            "new\n",
            "a b",
            "C:\\Windows",
            "ref/",
            "~root",
            "r" * 129,
            "x" * 100_000,
        ]
    ),
    st.text(max_size=200).filter(lambda n: not VALID_NAME.fullmatch(n) or ".." in n),
)
int64 = st.integers(-(2**63), 2**63 - 1)
non_finite = st.sampled_from([math.nan, math.inf, -math.inf, -math.nan])
finite = st.floats(allow_nan=False, allow_infinity=False)
leases = st.text(max_size=300)
long_text = st.integers(1, 20).map(lambda k: "r" * (MAX_TEXT_LENGTH + k))
long_id = st.integers(1, 20).map(lambda k: "w" * (MAX_ID_LENGTH + k))

# Every RPC addressed by study name, with otherwise harmless fields.
BY_STUDY: dict[str, Callable[[str], Any]] = {
    "GetStudy": lambda s: pb.GetStudyRequest(study=s),
    "StopStudy": lambda s: pb.StopStudyRequest(study=s),
    "DeleteStudy": lambda s: pb.DeleteStudyRequest(study=s),
    "ListTrials": lambda s: pb.ListTrialsRequest(study=s),
    "Suggest": lambda s: pb.SuggestRequest(study=s, worker_id="w", request_id="q"),
    "Report": lambda s: pb.ReportRequest(study=s, trial_id=1, lease_id="l", resource=1, value=0.5),
    "Heartbeat": lambda s: pb.HeartbeatRequest(study=s, lease_id="l"),
    "Fail": lambda s: pb.FailRequest(study=s, trial_id=1, lease_id="l", reason="r"),
    "Release": lambda s: pb.ReleaseRequest(study=s, trial_id=1, lease_id="l"),
}


# ---------------------------------------------------------------- studies by name


@pytest.mark.parametrize("method", sorted(BY_STUDY))
@EXAMPLES
@given(name=unknown_names)
def test_an_unknown_study_is_not_found(rig: Rig, method: str, name: str) -> None:
    assert name in rig.expect(method, BY_STUDY[method](name), Code.NOT_FOUND)


@pytest.mark.parametrize("method", sorted(BY_STUDY))
@EXAMPLES
@given(name=bad_names)
def test_a_path_like_or_malformed_study_name_is_invalid(rig: Rig, method: str, name: str) -> None:
    assert "invalid study name" in rig.expect(method, BY_STUDY[method](name), Code.INVALID_ARGUMENT)


# ---------------------------------------------------------------- CreateStudy


Defect = Callable[[pb.StudySpec, st.DrawFn], None]
DEFECTS: dict[str, Defect] = {}


def defect(function: Defect) -> Defect:
    """Registers a way to spoil a valid spec; each becomes one test case."""
    DEFECTS[function.__name__] = function
    return function


@defect
def empty_space(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    del spec.space[:]


@defect
def low_above_high(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    high = draw(st.floats(-1e300, 1e300))
    low = draw(st.floats(min_value=high, max_value=1e308, exclude_min=True))
    spec.space[0].CopyFrom(float_param(low=low, high=high))


@defect
def log_scale_from_zero_or_below(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    low = draw(st.floats(max_value=0.0, allow_nan=False))
    spec.space[0].CopyFrom(float_param(low=low, high=1.0, log=True))


@defect
def non_finite_bounds(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    bad = draw(non_finite)
    low, high = (bad, 1.0) if draw(st.booleans()) else (0.0, bad)
    spec.space[0].CopyFrom(float_param(low=low, high=high))


@defect
def int_low_above_high(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    low = draw(st.integers(-(2**63) + 1, 2**63 - 1))
    high = draw(st.integers(-(2**63), low - 1))
    spec.space.append(pb.Parameter(name="n", int_domain=pb.IntDomain(low=low, high=high)))


@defect
def duplicate_names(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    spec.space.append(float_param())


@defect
def empty_categorical(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    spec.space.append(pb.Parameter(name="c", categorical=pb.CategoricalDomain()))


@defect
def non_finite_choice(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    choice = pb.Value(float_value=draw(non_finite))
    spec.space.append(pb.Parameter(name="c", categorical=pb.CategoricalDomain(choices=[choice])))


@defect
def duplicate_choices(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    choice = pb.Value(string_value=draw(st.text(max_size=10)))
    domain = pb.CategoricalDomain(choices=[choice, choice])
    spec.space.append(pb.Parameter(name="c", categorical=domain))


@defect
def choice_without_a_type(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    """A Value whose oneof is unset: a wrong type at the protobuf level."""
    spec.space.append(
        pb.Parameter(name="c", categorical=pb.CategoricalDomain(choices=[pb.Value()]))
    )


@defect
def parameter_without_a_domain(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    spec.space.append(pb.Parameter(name=draw(st.text(min_size=1, max_size=20)) + "_"))


@defect
def empty_parameter_name(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    spec.space.append(float_param(name=""))


@defect
def finite_range_empty_or_huge(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    """Sizes past the limit would make every sample build a grid of billions."""
    size = draw(st.one_of(st.integers(-(2**31), 0), st.integers(100_001, 2**31 - 1)))
    domain = pb.FiniteRangeDomain(low=0, high=1, size=size)
    spec.space.append(pb.Parameter(name="f", finite_range=domain))


@defect
def unknown_scheduler(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    spec.scheduler.kind = draw(
        st.text(min_size=1, max_size=50).filter(lambda k: k not in SCHEDULERS)
    )


@defect
def unknown_searcher(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    spec.searcher.kind = draw(st.text(min_size=1, max_size=50).filter(lambda k: k not in SEARCHERS))


@defect
def r_min_above_r_max(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    spec.scheduler.r_max = draw(st.integers(1, 2**40))
    spec.scheduler.r_min = draw(st.integers(spec.scheduler.r_max + 1, 2**62))


@defect
def negative_resources(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    field = draw(st.sampled_from(["r_min", "r_max"]))
    setattr(spec.scheduler, field, draw(st.integers(-(2**63), -1)))


@defect
def eta_below_two(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    """(0 means the default, 3.)"""
    spec.scheduler.eta = draw(st.one_of(st.just(1), st.integers(-(2**63), -1)))


@defect
def no_budget(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    spec.ClearField("budget")


@defect
def negative_or_non_finite_budget(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    limits = draw(
        st.sampled_from(
            [
                {"max_trials": -1},
                {"max_resource": -5},
                {"max_wall_seconds": -1.0},
                {"max_wall_seconds": math.nan},
                {"max_wall_seconds": math.inf},
            ]
        )
    )
    spec.budget.CopyFrom(pb.Budget(**limits))


@defect
def brackets_for_asha(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    spec.scheduler.brackets = draw(st.integers(2, 2**31 - 1))


@defect
def seed_beyond_int64(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    spec.seed = draw(st.integers(2**63, 2**64 - 1))


@defect
def initial_config_off_the_space(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    values = draw(
        st.sampled_from(
            [
                {"x": pb.Value(string_value="high")},
                {"x": pb.Value(float_value=2.0)},
                {},
                {"x": pb.Value(float_value=0.5), "y": pb.Value(int_value=1)},
                {"x": pb.Value()},
                {"x": pb.Value(float_value=math.nan)},
            ]
        )
    )
    spec.searcher.initial_configs.append(pb.Config(values=values))


@defect
def unknown_metric_mode(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    spec.metric.mode = draw(st.integers(3, 2**31 - 1))  # proto3 enums keep unknown numbers


@defect
def path_like_name(spec: pb.StudySpec, draw: st.DrawFn) -> None:
    spec.name = draw(bad_names)


@pytest.mark.parametrize("spoil", sorted(DEFECTS))
@settings(max_examples=10, deadline=None)
@given(data=st.data(), name=unknown_names)
def test_a_malformed_study_is_refused_and_not_created(
    rig: Rig, spoil: str, data: st.DataObject, name: str
) -> None:
    spec = good_spec(name)
    DEFECTS[spoil](spec, data.draw)
    rig.expect("CreateStudy", pb.CreateStudyRequest(spec=spec), Code.INVALID_ARGUMENT)


@EXAMPLES
@given(trials=st.integers(1, 10**6).filter(lambda n: n != 5), seed=st.integers(0, 2**63 - 1))
def test_a_different_definition_under_an_existing_name_already_exists(
    rig: Rig, trials: int, seed: int
) -> None:
    spec = good_spec(REF, max_trials=trials)
    spec.seed = seed
    assert REF in rig.expect("CreateStudy", pb.CreateStudyRequest(spec=spec), Code.ALREADY_EXISTS)


def test_creating_the_same_study_again_returns_it(rig: Rig) -> None:
    study = rig.stub.CreateStudy(pb.CreateStudyRequest(spec=good_spec(REF)), timeout=10)
    assert study.spec.name == REF and study.trials_started == 3
    rig.assert_intact()


# ---------------------------------------------------------------- Suggest


@EXAMPLES
@given(worker=st.one_of(long_id, st.just("w")), request=st.one_of(long_id, st.just("q")))
def test_overlong_worker_or_request_ids_are_invalid(rig: Rig, worker: str, request: str) -> None:
    if worker == "w" and request == "q":
        return  # a valid Suggest: it would start a trial
    request_msg = pb.SuggestRequest(study=REF, worker_id=worker, request_id=request)
    assert "longer than" in rig.expect("Suggest", request_msg, Code.INVALID_ARGUMENT)


# ---------------------------------------------------------------- Report


def report(rig: Rig, **fields: Any) -> pb.ReportRequest:
    defaults = {"study": REF, "trial_id": 1, "lease_id": rig.lease, "resource": 1, "value": 0.5}
    return pb.ReportRequest(**{**defaults, **fields})


@EXAMPLES
@given(value=non_finite)
def test_nan_and_infinite_metrics_are_invalid(rig: Rig, value: float) -> None:
    assert "finite" in rig.expect("Report", report(rig, value=value), Code.INVALID_ARGUMENT)


@EXAMPLES
@given(resource=int64.filter(lambda r: r != 1), value=finite)
def test_resources_never_assigned_are_invalid(rig: Rig, resource: int, value: float) -> None:
    message = rig.expect(
        "Report", report(rig, resource=resource, value=value), Code.INVALID_ARGUMENT
    )
    assert "out of order or out of range" in message


@EXAMPLES
@given(trial_id=int64.filter(lambda t: t not in (0, 1, 2)), lease=leases, value=finite)
def test_reports_for_unknown_trials_are_not_found(
    rig: Rig, trial_id: int, lease: str, value: float
) -> None:
    message = rig.expect(
        "Report", report(rig, trial_id=trial_id, lease_id=lease, value=value), Code.NOT_FOUND
    )
    assert str(trial_id) in message


@EXAMPLES
@given(
    trial_id=st.sampled_from([0, 1, 2]),
    lease=leases,
    resource=int64,
    value=st.one_of(finite, non_finite),
)
def test_reports_under_a_wrong_lease_fail_their_precondition(
    rig: Rig, trial_id: int, lease: str, resource: int, value: float
) -> None:
    if lease == rig.lease or (lease == rig.paused_lease and resource == 1):
        return  # the active lease, or a retry of trial 0's stored report
    request = report(rig, trial_id=trial_id, lease_id=lease, resource=resource, value=value)
    assert "not accepted" in rig.expect("Report", request, Code.FAILED_PRECONDITION)


@EXAMPLES
@given(resource=st.integers(2, 2**63 - 1))
def test_late_reports_from_an_ended_lease_fail_their_precondition(rig: Rig, resource: int) -> None:
    request = report(rig, trial_id=0, lease_id=rig.paused_lease, resource=resource)
    rig.expect("Report", request, Code.FAILED_PRECONDITION)


@EXAMPLES
@given(
    checkpoint=st.one_of(
        long_text,
        st.sampled_from(
            [
                f"server:{REF}/2/1@{'0' * 64}",
                f"server:{REF}/1/5@{'0' * 64}",
                "server:../../etc/1/1@" + "0" * 64,
                "server:nonsense",
            ]
        ),
    )
)
def test_overlong_or_foreign_checkpoint_references_are_invalid(rig: Rig, checkpoint: str) -> None:
    rig.expect("Report", report(rig, checkpoint=checkpoint), Code.INVALID_ARGUMENT)


def test_a_retried_report_gets_its_stored_answer(rig: Rig) -> None:
    request = report(rig, trial_id=0, lease_id=rig.paused_lease)
    assert rig.stub.Report(request, timeout=10).decision == pb.PAUSE
    rig.assert_intact()


# ---------------------------------------------------------------- Heartbeat, Fail, Release


@EXAMPLES
@given(lease=leases)
def test_heartbeats_of_unknown_leases_fail_their_precondition(rig: Rig, lease: str) -> None:
    if lease == rig.lease:
        return
    assert "not active" in rig.expect(
        "Heartbeat", pb.HeartbeatRequest(study=REF, lease_id=lease), Code.FAILED_PRECONDITION
    )


def _give_up(method: str, **fields: Any) -> Any:
    cls = pb.FailRequest if method == "Fail" else pb.ReleaseRequest
    if method == "Release":
        fields.pop("reason", None)
    return cls(study=REF, **fields)


@pytest.mark.parametrize("method", ["Fail", "Release"])
@EXAMPLES
@given(trial_id=int64.filter(lambda t: t not in (0, 1, 2)), lease=leases)
def test_giving_up_unknown_trials_is_not_found(
    rig: Rig, method: str, trial_id: int, lease: str
) -> None:
    rig.expect(
        method, _give_up(method, trial_id=trial_id, lease_id=lease, reason="x"), Code.NOT_FOUND
    )


@pytest.mark.parametrize("method", ["Fail", "Release"])
@EXAMPLES
@given(trial_id=st.sampled_from([0, 1, 2]), lease=leases)
def test_giving_up_under_a_wrong_lease_fails_its_precondition(
    rig: Rig, method: str, trial_id: int, lease: str
) -> None:
    if lease == rig.lease and trial_id == 1:
        return
    request = _give_up(method, trial_id=trial_id, lease_id=lease, reason="x")
    rig.expect(method, request, Code.FAILED_PRECONDITION)


@EXAMPLES
@given(reason=long_text)
def test_an_overlong_failure_reason_is_invalid(rig: Rig, reason: str) -> None:
    request = _give_up("Fail", trial_id=1, lease_id=rig.lease, reason=reason)
    assert "longer than" in rig.expect("Fail", request, Code.INVALID_ARGUMENT)


# ---------------------------------------------------------------- checkpoints


@EXAMPLES
@given(
    ref=st.one_of(
        st.text(max_size=200),
        st.sampled_from(
            [
                "server:../../etc/1/1@" + "a" * 64,
                "server:ref/1/1@../../../etc/passwd",
                "/etc/passwd",
                "server:ref/-1/1@" + "a" * 64,
                "file:///etc/passwd",
            ]
        ),
    )
)
def test_malformed_checkpoint_references_are_invalid(rig: Rig, ref: str) -> None:
    call = rig.stub.DownloadCheckpoint(pb.CheckpointRequest(ref=ref), timeout=10)
    with pytest.raises(grpc.RpcError) as info:
        list(call)
    assert info.value.code() == Code.INVALID_ARGUMENT and info.value.details()
    rig.assert_intact()


@EXAMPLES
@given(
    trial_id=st.integers(0, 10**18 - 1),
    resource=st.integers(0, 10**18 - 1),
    digest=st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
)
def test_unknown_checkpoints_are_not_found(
    rig: Rig, trial_id: int, resource: int, digest: str
) -> None:
    call = rig.stub.DownloadCheckpoint(
        pb.CheckpointRequest(ref=f"server:{REF}/{trial_id}/{resource}@{digest}"), timeout=10
    )
    with pytest.raises(grpc.RpcError) as info:
        list(call)
    assert info.value.code() == Code.NOT_FOUND and info.value.details()
    rig.assert_intact()


@EXAMPLES
@given(lease=leases, trial_id=st.sampled_from([0, 1, 2]))
def test_uploads_without_the_trials_lease_fail_their_precondition(
    rig: Rig, lease: str, trial_id: int
) -> None:
    if lease == rig.lease and trial_id == 1:
        return
    header = pb.CheckpointHeader(
        study=REF, trial_id=trial_id, lease_id=lease, resource=1, size=1, sha256="0" * 64
    )
    chunks = iter([pb.CheckpointChunk(header=header), pb.CheckpointChunk(data=b"x")])
    rig.expect("UploadCheckpoint", chunks, Code.FAILED_PRECONDITION)


# ---------------------------------------------------------------- the protobuf level


REQUESTS_WITH_TEXT: dict[str, Callable[[str], Any]] = {
    **BY_STUDY,
    "CreateStudy": lambda s: pb.CreateStudyRequest(spec=good_spec(s)),
    "DownloadCheckpoint": lambda s: pb.CheckpointRequest(ref=s),
}


@pytest.mark.parametrize("method", sorted(REQUESTS_WITH_TEXT))
def test_requests_over_the_message_limit_are_refused(rig: Rig, method: str) -> None:
    request = REQUESTS_WITH_TEXT[method]("x" * (MESSAGE_LIMIT + 1))
    with pytest.raises(grpc.RpcError) as info:
        response = getattr(rig.stub, method)(request, timeout=20)
        if method == "DownloadCheckpoint":
            list(response)
    assert (
        info.value.code() == Code.RESOURCE_EXHAUSTED and "larger than max" in info.value.details()
    )
    rig.assert_intact()


def raw_call(rig: Rig, method: str, body: bytes) -> grpc.RpcError:
    call = rig.channel.unary_unary(f"/rung.v1.Rung/{method}")  # bytes in, bytes out
    with pytest.raises(grpc.RpcError) as info:
        call(body, timeout=10)
    return info.value


@pytest.mark.parametrize(
    "method, body, code",
    [
        # study (field 1, a string) sent as a varint: no study name
        ("GetStudy", b"\x08\x05", Code.INVALID_ARGUMENT),
        # lease_id (field 3, a string) sent as a fixed64, with trial 1 and resource 1: no lease
        (
            "Report",
            b"\x0a\x03ref\x10\x01\x19" + b"\x00" * 8 + b"\x20\x01",
            Code.FAILED_PRECONDITION,
        ),
        # worker_id (field 2, a string) sent as a fixed32, with an overlong request id
        (
            "Suggest",
            b"\x0a\x03ref\x15\x00\x00\x00\x00\x1a\x81\x01" + b"q" * 129,
            Code.INVALID_ARGUMENT,
        ),
    ],
)
def test_fields_of_the_wrong_wire_type_are_ignored_and_then_refused(
    rig: Rig, method: str, body: bytes, code: Code
) -> None:
    """protobuf keeps a field sent with the wrong wire type as an unknown field, so the
    request reads as if it were unset, and validation refuses what is missing."""
    error = raw_call(rig, method, body)
    assert error.code() == code and error.details()
    rig.assert_intact()


@pytest.mark.parametrize("body", [b"\xff\xff\xff\xff", b"\x0a\x05ab", b"\x0a\xff\xff\xff\xff\x0f"])
def test_undecodable_bytes_are_refused_and_the_server_carries_on(rig: Rig, body: bytes) -> None:
    """A request that does not parse is the client's error, said as such (gRPC's asyncio
    server would answer UNKNOWN), before any of rung's decisions run."""
    error = raw_call(rig, "Report", body)
    assert error.code() == Code.INVALID_ARGUMENT
    assert "does not parse as a rung.v1.ReportRequest" in error.details()
    rig.assert_intact()
