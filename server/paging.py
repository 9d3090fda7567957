"""ListTrials pages and WatchStudy streams: what lets clients read studies of any size.

A page token names the last trial id of the previous page; trial ids are dense
and never reused, so a page never skips or repeats a trial while the study
grows. WatchStudy sends the journal's events after a sequence number, then
each new one once it is durable.
"""

from __future__ import annotations

import json
from typing import Callable, Iterable, Iterator

from rung import wire
from rung.core.errors import InvalidArgument, NotFound
from rung.core.types import TrialStatus
from rung.v1 import rung_pb2 as pb

from .service import StudyService
from .storage import Event

DEFAULT_PAGE_SIZE = 1000
WATCH_POLL_SECONDS = 1.0  # how often a quiet stream checks that its client is still there
_TOKEN_PREFIX = "after:"
_STATUS_FROM_PB = {v: k for k, v in wire.TRIAL_STATUSES.items()}


def token_after(last_trial_id: int | None) -> str:
    return "" if last_trial_id is None else f"{_TOKEN_PREFIX}{last_trial_id}"


def after_from_token(token: str) -> int:
    """The trial id a page token continues after (-1 for the first page)."""
    if not token:
        return -1
    number = token.removeprefix(_TOKEN_PREFIX)
    if token == number or not number.isdigit() or len(number) > 18:
        raise InvalidArgument(f"page_token {token[:40]!r} is not one this server gave out")
    return int(number)


def statuses_from_pb(values: Iterable[int]) -> frozenset[TrialStatus]:
    try:
        return frozenset(_STATUS_FROM_PB[v] for v in values)
    except KeyError as exc:
        raise InvalidArgument(f"unknown trial status {exc.args[0]} in statuses") from None


def event_to_pb(event: Event) -> pb.StudyEvent:
    return pb.StudyEvent(
        seq=event.seq,
        kind=event.kind,
        trial_id=event.payload.get("trial_id", -1),
        payload_json=json.dumps(event.payload, separators=(",", ":")),
    )


def watch(
    service: StudyService, study: str, after_seq: int, active: Callable[[], bool]
) -> Iterator[pb.StudyEvent]:
    """The study's events after `after_seq`, as they become durable, while `active()`.

    Ends (without error) when the study is deleted or the server stops."""
    while active():
        try:
            events = service.events_after(study, after_seq, wait=WATCH_POLL_SECONDS)
        except NotFound:
            return
        for event in events:
            yield event_to_pb(event)
            after_seq = event.seq
