"""What the service keeps about each trial beyond the scheduler's state, and how snapshots
store it.

A large study holds hundreds of thousands of records, almost all of finished
trials that nobody reads again until someone lists them. `TrialRecords` keeps
the records restored from a snapshot as their encoded JSON text and decodes
one only when it is first used, so a restart does not rebuild every record
(most of a restart's time at 100,000 trials) and an idle record costs its
text, not a tree of Python objects. A snapshot encodes only the records used
since the last one, and turns them back into text.

Every change to a record comes from an event about its trial, made under the
study's lock, through `records[trial_id]`; nothing keeps a record object
across calls, so a record turned back into text loses no change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping, NamedTuple

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
    faster than objects with repeated keys)."""
    return json.dumps([
        [[g.seq, g.resume_from, g.milestone, g.worker_id, g.lease_id, g.lost]
         for g in record.segments],
        [[o.seq, o.resource, o.value, o.at, o.lease_id, o.decision.value, o.metrics]
         for o in record.observations],
        record.checkpoint,
        record.checkpoint_resource,
        record.failures,
        record.changed,
    ], separators=(",", ":"))


# Looked up, not called: Decision(value) costs microseconds, and a study has millions.
_DECISIONS = {d.value: d for d in Decision}


def decode_record(text: str) -> TrialRecord:
    segments, observations, checkpoint, checkpoint_resource, failures, changed = json.loads(text)
    return TrialRecord(
        segments=[Segment(*row) for row in segments],
        observations=[
            Observation(seq, resource, value, at, lease_id, _DECISIONS[decision], metrics)
            for seq, resource, value, at, lease_id, decision, metrics in observations
        ],
        checkpoint=checkpoint,
        checkpoint_resource=checkpoint_resource,
        failures=failures,
        changed=changed,
    )


class TrialRecords:
    """Trial id -> TrialRecord; records restored from a snapshot stay encoded until used."""

    def __init__(self, encoded: Iterable[tuple[int, str]] = ()):
        """`encoded`: (trial id, record text) pairs, as a snapshot stores them."""
        self._records: dict[int, TrialRecord | str] = dict(encoded)

    def __getitem__(self, trial_id: int) -> TrialRecord:
        record = self._records[trial_id]
        if isinstance(record, str):
            record = self._records[trial_id] = decode_record(record)
        return record

    def __contains__(self, trial_id: int) -> bool:
        return trial_id in self._records

    def __len__(self) -> int:
        return len(self._records)

    def setdefault(self, trial_id: int, default: TrialRecord) -> TrialRecord:
        if trial_id in self._records:
            return self[trial_id]
        self._records[trial_id] = default
        return default

    def items(self) -> Iterator[tuple[int, TrialRecord]]:
        """Every record, decoded (a walk over all of them is rare: see `encoded`)."""
        for trial_id in list(self._records):
            yield trial_id, self[trial_id]

    def texts(self) -> Iterator[tuple[int, str]]:
        """Every record as text, for a snapshot. Only records used since the last call are
        encoded, and every record is kept as text from here on (decoded again when next
        used), so a save costs the records that changed and idle ones stay compact."""
        for trial_id, record in self._records.items():
            if not isinstance(record, str):
                record = self._records[trial_id] = encode_record(record)
            yield trial_id, record
