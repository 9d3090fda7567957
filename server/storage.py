"""Durable storage: an append-only journal of study events.

The service rebuilds every study after a restart by replaying its events
through the deterministic core, so the journal is the only state on disk.
`sql_journal.SqliteJournal` commits each event (WAL mode, synchronous=FULL)
before `append` returns: an acknowledged RPC is on disk. `MemoryJournal` has
the same contract for unit tests of the layers above; `storage_pg.PostgresJournal`
keeps it in PostgreSQL.

Beside the events a journal keeps each study's latest snapshot (its state as
of one sequence number, see snapshots.py), so a restart replays only the
events after it. A snapshot is an optimization: the events alone are the truth.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence

from rung.core import lazy_rows
from rung.core.lazy_rows import RowChunks, chunk_text


# One encoder for every event (json.dumps with options builds a new one a call).
_ENCODE = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode


@dataclass(frozen=True)
class Event:
    study: str
    seq: int  # 1, 2, 3, ... within a study
    kind: str
    payload: dict[str, Any]

    @cached_property
    def payload_text(self) -> str:
        """The payload as stored: compact JSON, NaN and infinities refused (ValueError).
        Encoded once: the service checks it as it queues the event, the journal stores it."""
        return _ENCODE(self.payload)


@dataclass(frozen=True)
class Snapshot:
    study: str
    seq: int  # the state includes every event up to and including this one
    state: dict[str, Any]
    # Named lists of rows, one JSON text each (a row per trial): stored after the state,
    # one per line, so neither saving nor loading parses or escapes them again. A list
    # read from storage is a RowChunks of its stored parts, unsplit.
    rows: Mapping[str, Sequence[str]] = field(default_factory=dict)


class Journal(Protocol):
    # Whether a read is a round trip to another server (PostgreSQL): the service's
    # callers keep such reads off the event loop.
    remote: bool

    def append(self, event: Event) -> None:
        """Stores the event durably; raises if (study, seq) is already taken."""

    def append_many(self, events: list[Event]) -> None:
        """Stores the events durably in one transaction: all of them, or none (and raises)."""

    def studies(self) -> list[str]:
        """Study names in creation order."""

    def events(self, study: str, after: int = 0, limit: int | None = None) -> Iterator[Event]:
        """The study's events with seq > after, in sequence order; the first `limit` of them."""

    def find_request(self, study: str, request_id: str) -> Event | None:
        """The study's first `suggest` event whose payload has this request_id (indexed)."""

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Stores the study's snapshot durably, replacing any older one."""

    def latest_snapshot(self, study: str) -> Snapshot | None:
        """The study's last saved snapshot, if any."""

    def delete(self, study: str) -> None:
        """Removes every event and snapshot of the study, durably; a later study may reuse the name."""

    def close(self) -> None: ...


class DuplicateEvent(Exception):
    """Two writers claimed the same (study, seq): a bug or a second server on one file."""


class MemoryJournal:
    remote = False

    def __init__(self) -> None:
        self._events: dict[str, list[tuple[str, str]]] = {}  # study -> [(kind, JSON payload)]
        # study -> (seq, head, parts): the layout a SQL journal stores
        self._snapshots: dict[str, tuple[int, str, dict[PartKey, str]]] = {}
        self._requests: dict[tuple[str, str], int] = {}  # (study, request_id) -> first suggest's seq

    def append(self, event: Event) -> None:
        # Stored as JSON, as SQLite stores it, so tests catch payloads it could not hold
        # (NaN, objects) and nobody can change a stored event through a shared reference.
        body = event.payload_text
        log = self._events.setdefault(event.study, [])
        if event.seq != len(log) + 1:
            raise DuplicateEvent(f"{event.study}: expected seq {len(log) + 1}, got {event.seq}")
        log.append((event.kind, body))
        request_id = event.payload.get("request_id") if event.kind == "suggest" else None
        if request_id is not None:
            self._requests.setdefault((event.study, request_id), event.seq)

    def append_many(self, events: list[Event]) -> None:
        # Checked first, so a refused event leaves every one unstored, as a rollback would.
        lengths: dict[str, int] = {}
        for event in events:
            event.payload_text  # refused before anything is stored
            expected = lengths.get(event.study, len(self._events.get(event.study, []))) + 1
            if event.seq != expected:
                raise DuplicateEvent(f"{event.study}: expected seq {expected}, got {event.seq}")
            lengths[event.study] = expected
        for event in events:
            self.append(event)

    def studies(self) -> list[str]:
        return list(self._events)

    def events(self, study: str, after: int = 0, limit: int | None = None) -> Iterator[Event]:
        stored = self._events.get(study, [])[after : None if limit is None else after + limit]
        return (
            Event(study, seq, kind, json.loads(body))
            for seq, (kind, body) in enumerate(stored, after + 1)
        )

    def find_request(self, study: str, request_id: str) -> Event | None:
        seq = self._requests.get((study, request_id))
        return None if seq is None else next(self.events(study, seq - 1, 1))

    def save_snapshot(self, snapshot: Snapshot) -> None:
        self._snapshots[snapshot.study] = (snapshot.seq, *encode_snapshot(snapshot))

    def latest_snapshot(self, study: str) -> Snapshot | None:
        stored = self._snapshots.get(study)
        return decode_snapshot(study, *stored).snapshot if stored else None

    def delete(self, study: str) -> None:
        self._events.pop(study, None)
        self._requests = {key: seq for key, seq in self._requests.items() if key[0] != study}
        self._snapshots.pop(study, None)

    def close(self) -> None:
        pass


# A list longer than this is data (rows, rung entries), encoded in slices of this many items;
# a shorter one is structure, whose items are encoded one by one.
_PIECE = 10_000


def encode_json(value: Any) -> str:
    """Compact JSON (NaN and infinities allowed: values may be), made in pieces.

    One encoder call holds the interpreter until it returns, and a large
    study's state takes a second to encode: made in one call, it would stall
    every RPC thread of the server for that long. In pieces of at most
    `_PIECE` list items, other threads run between them.
    """
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return "{" + ",".join(
            json.dumps(k) + ":" + encode_json(v) for k, v in value.items()
        ) + "}"
    if isinstance(value, (list, tuple)):
        if len(value) <= 64:
            return "[" + ",".join(encode_json(v) for v in value) + "]"
        return "[" + ",".join(
            json.dumps(value[i : i + _PIECE], separators=(",", ":"))[1:-1]
            for i in range(0, len(value), _PIECE)
        ) + "]"
    return json.dumps(value, separators=(",", ":"))


# A snapshot's rows are stored in parts of lazy_rows.CHUNK_ROWS consecutive rows of one
# list (a part of trials, a part of records), each under a key (the seq of the snapshot
# that wrote it, a number). A later save whose rows in a part are unchanged refers to the
# stored part instead of writing it again: a large study's rows are mostly finished trials.
# A part is a chunk of LazyRows, so a restore keeps each part as the text it read.

PartKey = tuple[int, int]  # (seq of the snapshot that wrote the part, number)
# A part's rows: their text as stored (rows joined by line breaks), or a list of them.
PartRows = str | list[str]
# (list name, index of the part's first row) -> (the part's rows, its key): the parts of
# a stored snapshot that a later save may refer to instead of writing them again.
StoredParts = dict[tuple[str, int], tuple[PartRows, PartKey]]


def same_rows(stored: PartRows, rows: PartRows) -> bool:
    """Whether a part holds these rows. Unchanged rows are mostly the very strings read
    (a text, or a list of the same row strings), which compare by identity first."""
    if isinstance(stored, str) is isinstance(rows, str):
        return stored == rows
    return chunk_text(stored) == chunk_text(rows)


def row_parts(snapshot: Snapshot) -> Iterator[tuple[tuple[str, int], PartRows]]:
    """((list name, index of its first row), rows) for each part of the snapshot's rows,
    in the order the snapshot lists them."""
    for name, rows in snapshot.rows.items():
        for number, chunk in enumerate(RowChunks.of(rows).chunks):
            yield (name, number * lazy_rows.CHUNK_ROWS), chunk


def snapshot_head(snapshot: Snapshot, parts: list[PartKey]) -> str:
    """The snapshot's first text: its state, each row list's length and the keys of the
    parts that hold the rows, in order (a part's text: its rows, one per line; rows are
    JSON texts, which hold no raw line break)."""
    return encode_json({
        "state": snapshot.state,
        "rows": [[name, len(rows)] for name, rows in snapshot.rows.items()],
        "parts": [list(key) for key in parts],
    })


def encode_snapshot(snapshot: Snapshot) -> tuple[str, dict[PartKey, str]]:
    """The head and every part, each part written anew (numbered 1, 2, ... under the
    snapshot's seq)."""
    bodies = {
        (snapshot.seq, number): chunk_text(rows)
        for number, (_, rows) in enumerate(row_parts(snapshot), 1)
    }
    return snapshot_head(snapshot, list(bodies)), bodies


@dataclass
class DecodedSnapshot:
    snapshot: Snapshot
    parts: StoredParts  # each part that lies within one list


def decode_snapshot(
    study: str, seq: int, head_text: str, bodies: Mapping[PartKey, str]
) -> DecodedSnapshot:
    """A snapshot from its head and the stored parts' texts. Other text gives a state
    without a "format" the service knows, which it ignores. An older layout, whose head
    named no parts (rows followed the state in the same text, then in parts numbered
    1, 2, ... under the snapshot's seq), still reads."""
    head, lines = _parse_head(head_text)
    if "state" not in head or "rows" not in head:
        return DecodedSnapshot(Snapshot(study, seq, head), {})
    rows, reusable = _decode_rows(study, seq, head, lines, bodies)
    return DecodedSnapshot(Snapshot(study, seq, head["state"], rows), reusable)


def decode_snapshot_reading_rows(
    study: str,
    seq: int,
    head_text: str,
    read_bodies: Callable[[], Mapping[PartKey, str]],
    keep: Callable[[StoredParts], None],
) -> Snapshot:
    """The snapshot, its rows still being read and split on a thread of their own
    (`PendingRows`) while the caller loads its state: at a million trials, reading and
    splitting the rows (1.2 s from PostgreSQL) and rebuilding the rungs from the state
    (0.6 s) took their times one after the other. `keep` gets the stored parts once read.
    Older layouts (see decode_snapshot) are read at once."""
    head, lines = _parse_head(head_text)
    if "state" not in head or "rows" not in head or "parts" not in head:
        decoded = decode_snapshot(study, seq, head_text, read_bodies() if "rows" in head else {})
        keep(decoded.parts)
        return decoded.snapshot

    def read_rows() -> dict[str, Sequence[str]]:
        rows, reusable = _decode_rows(study, seq, head, lines, read_bodies())
        keep(reusable)
        return rows

    return Snapshot(study, seq, head["state"], PendingRows(read_rows))


def _parse_head(head_text: str) -> tuple[dict[str, Any], list[str]]:
    """The head's JSON, and its text split into lines (in an older layout the rows
    followed the state there)."""
    lines = head_text.split("\n")
    return json.loads(lines[0]), lines


def _decode_rows(
    study: str, seq: int, head: dict[str, Any], lines: list[str], bodies: Mapping[PartKey, str]
) -> tuple[dict[str, Sequence[str]], StoredParts]:
    """The named row lists and the parts a later save may refer to; `lines`: the head's
    text split into lines (rows may follow the state there, in an older layout)."""
    keys: list[PartKey] = (
        [(s, n) for s, n in head["parts"]] if "parts" in head
        else sorted(key for key in bodies if key[0] == seq)
    )
    for key in keys:
        if key not in bodies:
            raise ValueError(f"study {study}'s snapshot at {seq} misses its part {list(key)}")
    unsplit = _unsplit_rows(head, keys, bodies) if len(lines) == 1 else None
    if unsplit is not None:
        return unsplit
    lines = list(lines)
    spans = []  # (key, first line, end line) of each part, among `lines`
    for key in keys:
        part = bodies[key].split("\n")
        spans.append((key, len(lines), len(lines) + len(part)))
        lines += part
    rows: dict[str, Sequence[str]] = {}
    reusable: StoredParts = {}
    start = 1
    for name, count in head["rows"]:
        rows[name], end = lines[start : start + count], start + count
        for key, first, last in spans:
            if start <= first and last <= end:
                reusable[(name, first - start)] = (lines[first:last], key)
        start = end
    if start != len(lines):
        raise ValueError(
            f"study {study}'s snapshot at {seq} has {len(lines) - 1} rows, not {start - 1}"
        )
    return rows, reusable


def _unsplit_rows(
    head: dict[str, Any], keys: list[PartKey], bodies: Mapping[PartKey, str]
) -> tuple[dict[str, Sequence[str]], StoredParts] | None:
    """The row lists as their stored parts, unsplit, where each list's parts hold
    CHUNK_ROWS rows but its last, as row_parts writes them; None for another layout
    (or counts that do not match, which the general reading reports)."""
    rows: dict[str, Sequence[str]] = {}
    reusable: StoredParts = {}
    parts = iter(keys)
    for name, count in head["rows"]:
        chunks: list[str | list[str]] = []
        for start in range(0, count, size := lazy_rows.CHUNK_ROWS):
            key = next(parts, None)
            if key is None or bodies[key].count("\n") + 1 != min(size, count - start):
                return None
            reusable[(name, start)] = (bodies[key], key)
            chunks.append(bodies[key])
        rows[name] = RowChunks(chunks, count)
    return (rows, reusable) if next(parts, None) is None else None


class PendingRows(Mapping[str, Sequence[str]]):
    """A snapshot's rows while a thread of their own reads them: looking a list up waits
    for them, and raises what reading them raised (ValueError: rows that do not match
    the head, a part missing)."""

    def __init__(self, read: Callable[[], dict[str, Sequence[str]]]):
        self._rows: Future[dict[str, Sequence[str]]] = Future()
        threading.Thread(
            target=self._read, args=(read,), name="rung-snapshot-rows", daemon=True
        ).start()

    def _read(self, read: Callable[[], dict[str, Sequence[str]]]) -> None:
        try:
            self._rows.set_result(read())
        except BaseException as exc:  # handed to whoever looks the rows up
            self._rows.set_exception(exc)

    def wait(self) -> None:
        """Until they are read (or failed to be)."""
        wait([self._rows])

    def __getitem__(self, name: str) -> Sequence[str]:
        return self._rows.result()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows.result())

    def __len__(self) -> int:
        return len(self._rows.result())


def first_event(study: str, rows: list[tuple[int, str, str]]) -> Event | None:
    """The earliest of a few (seq, kind, payload) rows, as an Event."""
    if not rows:
        return None
    seq, kind, body = min(rows)
    return Event(study, seq, kind, json.loads(body))
