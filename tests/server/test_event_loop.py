"""Which calls the server answers on its event loop, and which in its thread pool."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from rung.client import Client
from rung.core.space import SearchSpace
from rung.core.study import StudySpec
from rung.server.app import RunningServer, start_server
from rung.server.service import StudyService
from rung.server.storage import MemoryJournal
from rung.v1 import rung_pb2 as pb

SPACE = {"x": [0.1, 0.2, 0.3, 0.4]}


class RemoteJournal(MemoryJournal):
    remote = True  # as PostgreSQL's: a look-up is a round trip to another server


@pytest.fixture
def served() -> Iterator[tuple[RunningServer, Client, dict[str, str]]]:
    """A server whose service notes the thread each Suggest and Report ran on."""
    service = StudyService(MemoryJournal())
    threads: dict[str, str] = {}
    for name in ("suggest", "report"):
        method = getattr(service, name)

        def noting(*args: Any, _method: Any = method, _name: str = name, **kwargs: Any) -> Any:
            threads[_name] = threading.current_thread().name
            return _method(*args, **kwargs)

        setattr(service, name, noting)
    running = start_server(service)
    with Client(f"127.0.0.1:{running.port}") as client:
        yield running, client, threads
    running.stop(grace=0)


def suggest_and_report(client: Client, searcher: str) -> None:
    study = client.create_study(searcher, space=SPACE, searcher=searcher, r_max=3, max_trials=10)
    job = study.suggest()
    client.call("Report", pb.ReportRequest(
        study=searcher, trial_id=job.trial_id, lease_id=job.lease_id, resource=1, value=0.5
    ))


def test_a_random_search_is_answered_on_the_loop(served: Any) -> None:
    running, client, threads = served
    suggest_and_report(client, "random")
    assert threads == {"suggest": "rung-grpc", "report": "rung-grpc"}


def test_a_suggest_that_may_fit_a_model_runs_in_the_pool(served: Any) -> None:
    running, client, threads = served
    suggest_and_report(client, "gp")
    assert threads["suggest"].startswith("rung-rpc")
    assert threads["report"] == "rung-grpc"


def test_suggests_quickly_says_which() -> None:
    local = StudyService(MemoryJournal())
    remote = StudyService(RemoteJournal())
    for service in (local, remote):
        for searcher in ("random", "gp", "mfgp", "bohb"):
            service.create_study(
                StudySpec(name=searcher, space=SearchSpace(SPACE), searcher=searcher)
            )
    assert [local.suggests_quickly(s) for s in ("random", "gp", "mfgp", "bohb")] == [
        True, False, False, False
    ]
    assert not any(remote.suggests_quickly(s) for s in ("random", "gp", "mfgp", "bohb"))
    # A first attempt reads nothing from the journal: only the searcher decides.
    assert [remote.suggests_quickly(s, first_attempt=True) for s in ("random", "gp")] == [
        True, False
    ]
    assert local.suggests_quickly("no such study")  # answered NOT_FOUND on the loop
    local.close()
    remote.close()
