"""ListTrials pages (size, token, status and changed-since filters) and WatchStudy streams,
in the service and over a real gRPC server."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Iterator

import grpc
import pytest

from rung.client import Client
from rung.core.errors import InvalidArgument
from rung.core.types import TrialStatus
from rung.server.app import RunningServer, start_server
from rung.server.service import StudyService
from rung.server.sql_journal import SqliteJournal
from rung.v1 import rung_pb2 as pb
from server_support import FakeClock, make_spec, snapshot
from test_service_replay import run_mixed_study


def _all_pages(service: StudyService, limit: int, **filters: object) -> list[int]:
    ids: list[int] = []
    after = -1
    while True:
        page = service.page_trials("s", after=after, limit=limit, **filters)
        ids += [t.trial_id for t in page.trials]
        assert len(page.trials) <= limit
        if page.next_after is None:
            return ids
        after = page.next_after


def test_pages_cover_every_trial_once_in_order(service: StudyService, clock: FakeClock) -> None:
    run_mixed_study(service, clock, steps=40)
    everything = [t.trial_id for t in service.list_trials("s")]
    assert len(everything) > 7
    for limit in (1, 3, 7, 1000):
        assert _all_pages(service, limit) == everything


def test_filters_by_status_and_by_change_since_a_sequence_number(
    service: StudyService, clock: FakeClock
) -> None:
    run_mixed_study(service, clock, steps=30)
    trials = service.list_trials("s")
    paused = [t.trial_id for t in trials if t.status is TrialStatus.PAUSED]
    assert paused and _all_pages(service, 2, statuses=frozenset({TrialStatus.PAUSED})) == paused

    seq = service.page_trials("s").seq
    assert _all_pages(service, 5, changed_since=seq) == []
    job = service.suggest("s", "w", "later")
    assert _all_pages(service, 5, changed_since=seq) == [job.job.trial_id]
    service.report("s", job.job.trial_id, job.lease_id, job.job.resume_from + 1, 0.5)
    assert _all_pages(service, 5, changed_since=seq) == [job.job.trial_id]


def test_page_sizes_out_of_range_are_refused(service: StudyService) -> None:
    for limit in (0, -1, 10_001):
        with pytest.raises(InvalidArgument):
            service.page_trials("s", limit=limit)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[RunningServer, Client]]:
    service = StudyService(SqliteJournal(tmp_path / "rung.db"), clock=FakeClock())
    service.create_study(make_spec())
    running = start_server(service, "127.0.0.1", 0)
    client = Client(f"127.0.0.1:{running.port}", retry_seconds=5)
    yield running, client
    client.close()
    running.stop(grace=0)


def test_the_sdk_lists_every_trial_page_by_page(served: tuple[RunningServer, Client]) -> None:
    running, client = served
    run_mixed_study(running.service, running.service.clock, steps=40)
    pages = list(client.trial_pages("s", page_size=4))
    assert len(pages) > 2 and all(len(p.trials) <= 4 for p in pages)
    listed = client.list_trials("s", page_size=4)
    assert [t.id for t in listed] == [t[0] for t in snapshot(running.service)]
    assert listed == client.list_trials("s")  # the default page size, one page here
    paused = client.list_trials("s", statuses=[pb.PAUSED], page_size=3)
    assert paused and all(t.status == pb.PAUSED for t in paused)


@pytest.mark.parametrize(
    "request_fields",
    [{"page_token": "bogus"}, {"page_token": "after:-3"}, {"page_size": -1},
     {"page_size": 10_001}, {"statuses": [99]}],
)
def test_bad_paging_requests_are_invalid_arguments(
    served: tuple[RunningServer, Client], request_fields: dict
) -> None:
    _, client = served
    with pytest.raises(grpc.RpcError) as info:
        client.call("ListTrials", pb.ListTrialsRequest(study="s", **request_fields))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_watch_sends_past_events_then_new_ones_as_they_happen(
    served: tuple[RunningServer, Client],
) -> None:
    running, client = served
    service = running.service
    first = service.suggest("s", "w", "r1")
    got: list[pb.StudyEvent] = []
    enough = threading.Event()

    def follow() -> None:
        for event in client.watch("s", after_seq=1):
            got.append(event)
            if len(got) == 3:
                enough.set()
                return

    watcher = threading.Thread(target=follow, daemon=True)
    watcher.start()
    service.report("s", first.job.trial_id, first.lease_id, 1, 0.25)
    second = service.suggest("s", "w", "r2")
    assert enough.wait(30)
    assert [(e.seq, e.kind, e.trial_id) for e in got] == [
        (2, "suggest", first.job.trial_id),
        (3, "report", first.job.trial_id),
        (4, "suggest", second.job.trial_id),
    ]
    assert json.loads(got[1].payload_json)["value"] == 0.25
    journal = {e.seq: e.payload for e in service.journal.events("s")}
    assert all(json.loads(e.payload_json) == journal[e.seq] for e in got)


def test_watch_ends_when_the_study_is_deleted_and_refuses_unknown_studies(
    served: tuple[RunningServer, Client],
) -> None:
    running, client = served
    done = threading.Event()
    seen: list[int] = []

    def follow() -> None:
        try:
            seen.extend(e.seq for e in client.watch("s"))
        except grpc.RpcError as exc:  # deleted before the stream began
            assert exc.code() == grpc.StatusCode.NOT_FOUND
        done.set()

    threading.Thread(target=follow, daemon=True).start()
    client.delete_study("s")
    assert done.wait(30)
    assert seen in ([], [1])  # the created event, if the stream started before the delete
    with pytest.raises(grpc.RpcError) as info:
        list(client.watch("nope"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_watch_streams_are_capped_so_workers_calls_still_get_threads(
    served: tuple[RunningServer, Client],
) -> None:
    """Each stream holds an RPC thread (16 by default, a quarter of them for watches):
    one watch too many is refused with RESOURCE_EXHAUSTED, Suggest is still answered,
    and a cancelled stream frees its place."""
    running, client = served
    stub = client._stub
    streams = [stub.WatchStudy(pb.WatchStudyRequest(study="s", after_seq=0)) for _ in range(4)]
    for stream in streams:
        assert next(stream).kind == "created"  # each stream is being served
    refused = stub.WatchStudy(pb.WatchStudyRequest(study="s", after_seq=0))
    with pytest.raises(grpc.RpcError) as info:
        next(refused)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "at most 4 WatchStudy" in info.value.details()
    assert client.study("s").suggest("w").lease_id  # workers still get answers
    streams[0].cancel()
    deadline = time.monotonic() + 30
    while True:  # the server notices the cancellation within its poll interval
        again = stub.WatchStudy(pb.WatchStudyRequest(study="s", after_seq=0))
        try:
            assert next(again).kind == "created"
            break
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert time.monotonic() < deadline, "a cancelled stream never freed its place"
            time.sleep(0.2)
    for stream in [*streams[1:], again]:
        stream.cancel()
