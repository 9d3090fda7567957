"""What the service keeps about each trial beyond the scheduler's state, and how snapshots
store it.

A large study holds hundreds of thousands of records, almost all of finished
trials that nobody reads again until someone lists them, so they are kept in
`LazyRows`: as text until used (see rung.core.lazy_rows for why and for the
rule callers follow). Every change to a record comes from an event about its
trial, made under the study's lock, through `records[trial_id]`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable, Mapping, NamedTuple

from rung.core.lazy_rows import LazyRows
from rung.core.types import Decision


@dataclass
class Segment:
    seq: int
    resume_from: int
    milestone: int
    worker_id: str
    lease_id: str
    lost: bool = False


class Observation(NamedTuple):
    seq: int  # journal position of the report
    resource: int
    value: float
    at: float  # server clock when it arrived
    lease_id: str = ""  # the segment that reported it: a retry under that lease ...
    decision: Decision = Decision.CONTINUE  # ... gets this answer again
    metrics: Mapping[str, float] | None = None  # named metrics, when the report carried them


@dataclass
class TrialRecord:
    """What the service keeps about a trial beyond the scheduler's state."""

    segments: list[Segment] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    checkpoint: str = ""
    checkpoint_resource: int = 0
    failures: list[str] = field(default_factory=list)
    changed: int = 0  # journal position of the last event about this trial


def encode_record(record: TrialRecord) -> str:
    """A record as compact JSON of positional rows (rows encode and decode several times
    faster than objects with repeated keys). An observation names its lease by the index
    of the segment that holds it: a lease id is 32 characters, a third of a record."""
    segment_of = {g.lease_id: i for i, g in enumerate(record.segments)}
    return json.dumps([
        [[g.seq, g.resume_from, g.milestone, g.worker_id, g.lease_id, g.lost]
         for g in record.segments],
        [[o.seq, o.resource, o.value, o.at, segment_of.get(o.lease_id, o.lease_id),
          o.decision.value, o.metrics]
         for o in record.observations],
        record.checkpoint,
        record.checkpoint_resource,
        record.failures,
        record.changed,
    ], separators=(",", ":"))


# Looked up, not called: Decision(value) costs microseconds, and a study has millions.
_DECISIONS = {d.value: d for d in Decision}


def decode_record(text: str) -> TrialRecord:
    rows, observations, checkpoint, checkpoint_resource, failures, changed = json.loads(text)
    segments = [Segment(*row) for row in rows]
    return TrialRecord(
        segments=segments,
        observations=[
            Observation(
                seq, resource, value, at,
                segments[lease].lease_id if type(lease) is int else lease,
                _DECISIONS[decision], metrics,
            )
            for seq, resource, value, at, lease, decision, metrics in observations
        ],
        checkpoint=checkpoint,
        checkpoint_resource=checkpoint_resource,
        failures=failures,
        changed=changed,
    )


def trial_records(texts: Iterable[str] = ()) -> LazyRows[TrialRecord]:
    """Trial id -> TrialRecord from a snapshot's record texts (kept as text until used)."""
    return LazyRows(encode_record, decode_record, texts)


def record_of(records: LazyRows[TrialRecord], trial_id: int) -> TrialRecord:
    """The trial's record; a trial's first job adds it (trials are numbered in order)."""
    if trial_id == len(records):
        records.append(TrialRecord())
    return records[trial_id]
