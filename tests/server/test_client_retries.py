"""The SDK's retry schedule: one server, or several of which one may be taking over."""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest

from rung.client import Client
from rung.client import connection as sdk
from rung.v1 import rung_pb2 as pb
from rung.v1 import rung_pb2_grpc


class Unavailable(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE


def delays_before_an_answer(
    address: str, failures: int, monkeypatch: pytest.MonkeyPatch
) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(sdk.time, "sleep", slept.append)
    calls = 0

    def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls <= failures:
            raise Unavailable()
        return "answered"

    with Client(address, retry_seconds=60) as client:
        assert client.retrying("GetStudy", attempt) == "answered"
    return slept


def test_one_server_is_asked_again_after_doubling_delays(monkeypatch: pytest.MonkeyPatch) -> None:
    assert delays_before_an_answer("127.0.0.1:1", 7, monkeypatch) == [
        0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0
    ]


def test_with_several_servers_each_is_tried_before_the_delay_doubles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dead server and one taking over: every server is asked once at each delay, so
    the one taking over is asked every 0.1, 0.2, 0.4 s ..., not only at 0.05, 0.35 and
    1.55 s after the first refusal (each delay doubling after every attempt)."""
    assert delays_before_an_answer("127.0.0.1:1,127.0.0.1:2", 6, monkeypatch) == [
        0.05, 0.05, 0.1, 0.1, 0.2, 0.2
    ]


class FlakySuggest(rung_pb2_grpc.RungServicer):
    """Refuses the first Suggest after reading it (as a server lost mid-call), answers the next."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

    def GetStudy(self, request: pb.GetStudyRequest, context: grpc.ServicerContext) -> pb.Study:
        return pb.Study()

    def Suggest(self, request: pb.SuggestRequest, context: grpc.ServicerContext) -> pb.Job:
        self.seen.append((request.request_id, request.first_attempt))
        if len(self.seen) == 1:
            context.abort(grpc.StatusCode.UNAVAILABLE, "going away")
        return pb.Job(kind=pb.START, trial_id=1, lease_id="l")


def test_only_the_first_attempt_of_a_suggest_says_it_is_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server skips its journal look-up for a first attempt: a retry must not claim it."""
    monkeypatch.setattr(sdk.time, "sleep", lambda _: None)
    servicer = FlakySuggest()
    server = grpc.server(futures.ThreadPoolExecutor(2))
    rung_pb2_grpc.add_RungServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with Client(f"127.0.0.1:{port}", retry_seconds=60) as client:
            assert client.study("s").suggest("w").lease_id == "l"
    finally:
        server.stop(None)
    (first_id, first), (retry_id, again) = servicer.seen
    assert retry_id == first_id and (first, again) == (True, False)
