"""Bounded requests and validated ids: what a hostile client cannot make the server do."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from rung.server.app import MAX_MESSAGE_BYTES, RunningServer, start_server
from rung.server.service import StudyService
from rung.server.storage import MemoryJournal
from rung.v1 import rung_pb2 as pb
from rung.v1 import rung_pb2_grpc


@pytest.fixture
def stub() -> Iterator[rung_pb2_grpc.RungStub]:
    running: RunningServer = start_server(StudyService(MemoryJournal()))
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        yield rung_pb2_grpc.RungStub(channel)
    running.stop(grace=0)


def code_of(call: object, request: object) -> grpc.StatusCode:
    try:
        call(request, timeout=10)  # type: ignore[operator]
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def test_an_oversized_request_is_refused(stub: rung_pb2_grpc.RungStub) -> None:
    huge = pb.GetStudyRequest(study="a" * (MAX_MESSAGE_BYTES + 1))
    assert code_of(stub.GetStudy, huge) == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_request_just_under_the_limit_is_read(stub: rung_pb2_grpc.RungStub) -> None:
    """The limit refuses by size, not by content: a large but allowed request is parsed."""
    big = pb.ReportRequest(study="limits", checkpoint="c" * (MAX_MESSAGE_BYTES - 100))
    assert code_of(stub.Report, big) == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("name", ["../etc", "a/b", "..", ".hidden", "", "x" * 129, "a\x00b"])
def test_study_names_that_could_escape_a_folder_are_refused(
    stub: rung_pb2_grpc.RungStub, name: str
) -> None:
    spec = pb.StudySpec(
        name=name,
        space=[pb.Parameter(name="x", int_domain=pb.IntDomain(low=1, high=3))],
        budget=pb.Budget(max_trials=2),
    )
    assert (
        code_of(stub.CreateStudy, pb.CreateStudyRequest(spec=spec))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        code_of(stub.GetStudy, pb.GetStudyRequest(study=name)) == grpc.StatusCode.INVALID_ARGUMENT
    )


def test_over_long_worker_ids_are_refused(stub: rung_pb2_grpc.RungStub) -> None:
    spec = pb.StudySpec(
        name="limits",
        space=[pb.Parameter(name="x", int_domain=pb.IntDomain(low=1, high=3))],
        budget=pb.Budget(max_trials=2),
    )
    stub.CreateStudy(pb.CreateStudyRequest(spec=spec), timeout=10)
    request = pb.SuggestRequest(study="limits", worker_id="w" * 10_000, request_id="r1")
    assert code_of(stub.Suggest, request) == grpc.StatusCode.INVALID_ARGUMENT
