"""The SDK's retry schedule: one server, or several of which one may be taking over."""

from __future__ import annotations

import grpc
import pytest

from rung.client import Client
from rung.client import sdk


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
