"""Items numbered 0, 1, 2, ... that stay encoded as text until used.

A study of a million trials holds a million scheduler states and a million
service records, almost all of finished trials that no decision reads again.
Building them all as Python objects made a restart from a snapshot take
seconds per 100,000 trials and saving a snapshot re-encode every one of them.
`LazyRows` keeps each item as its text (one row of a snapshot) until it is
first used, and remembers which items were used since the last `chunks()`, so
a snapshot re-encodes only those.

The texts are kept in chunks of `CHUNK_ROWS` items, the parts a snapshot is
stored in. A chunk restored from a snapshot stays one text, its rows joined by
line breaks as they were stored, until an item in it is used: splitting two
million rows into strings cost a restart at a million trials a third of a
second, and a chunk nobody used since is handed back to the next save as that
same text, which then refers to the stored part instead of comparing its rows.

Rule for callers: every change to an item goes through `rows[i]` within one
call; nobody keeps an item object across calls (a later `chunks()` turns it back
into text, and a change to the old object would be lost). Read-only views use
`peek`, which decodes a copy and keeps nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Callable, Generic, Iterable, Iterator, TypeVar, overload

T = TypeVar("T")

CHUNK_ROWS = 1000  # items a chunk; a snapshot stores each chunk as one part


class RowChunks(Sequence[str]):
    """Row texts in chunks of CHUNK_ROWS rows (the last may hold fewer): each chunk is
    either its rows joined by line breaks (a stored part, unsplit) or a list of them.
    Rows are JSON texts, which hold no raw line break."""

    def __init__(self, chunks: list[str | list[str]], length: int):
        self.chunks, self._length = chunks, length

    @classmethod
    def of(cls, rows: Iterable[str]) -> "RowChunks":
        """The rows, chunked (chunks are slices: lists of their own)."""
        if isinstance(rows, RowChunks):
            return rows
        rows = rows if isinstance(rows, list) else list(rows)
        return cls([rows[i : i + CHUNK_ROWS] for i in range(0, len(rows), CHUNK_ROWS)], len(rows))

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return list(self)[index]
        if not -self._length <= index < self._length:
            raise IndexError(index)
        index %= self._length
        return rows_of(self.chunks[index // CHUNK_ROWS])[index % CHUNK_ROWS]

    def __iter__(self) -> Iterator[str]:
        for chunk in self.chunks:
            yield from rows_of(chunk)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (RowChunks, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __repr__(self) -> str:
        return f"RowChunks({len(self.chunks)} chunks, {self._length} rows)"


def rows_of(chunk: str | list[str]) -> list[str]:
    """A chunk's rows."""
    return chunk.split("\n") if isinstance(chunk, str) else chunk


def chunk_text(chunk: str | list[str]) -> str:
    """A chunk as one text, its rows joined by line breaks (as a snapshot stores it)."""
    return chunk if isinstance(chunk, str) else "\n".join(chunk)


class LazyRows(Generic[T]):
    """Item id -> item for ids 0 .. len-1; items are kept as text until used."""

    def __init__(
        self, encode: Callable[[T], str], decode: Callable[[str], T], texts: Iterable[str] = ()
    ):
        """`texts`: the items' texts in id order, as `chunks()` returned them (or a list)."""
        self._encode, self._decode = encode, decode
        rows = RowChunks.of(texts)
        # A chunk is a text (as restored, no item of it split out yet) or a list of items,
        # each a text or (once used) an object. Every chunk but the last holds CHUNK_ROWS.
        self._chunks: list[str | list[T | str]] = [
            c if isinstance(c, str) else list(c) for c in rows.chunks
        ]
        self._length = len(rows)
        self._used: set[int] = set()  # ids whose item is an object: used since chunks()
        # The last chunk text split for reading only, with its rows: a walk over every item
        # splits each chunk once, and the chunk stays one text (memory as restored).
        self._peeked: tuple[str, list[str]] | None = None

    def __deepcopy__(self, memo: dict) -> "LazyRows[T]":
        """Texts are immutable, so the copy shares them and copies only the items in use
        (a scheduler's dry run copies a million trials)."""
        twin = copy.copy(self)
        twin._chunks = [c if isinstance(c, str) else list(c) for c in self._chunks]
        for item_id in self._used:
            chunk = twin._chunks[item_id // CHUNK_ROWS]
            chunk[item_id % CHUNK_ROWS] = copy.deepcopy(chunk[item_id % CHUNK_ROWS], memo)  # type: ignore[index]
        twin._used = set(self._used)
        return twin

    def __len__(self) -> int:
        return self._length

    def __contains__(self, item_id: object) -> bool:
        return type(item_id) is int and 0 <= item_id < self._length

    def __iter__(self) -> Iterator[int]:
        return iter(range(self._length))

    def _rows(self, chunk_no: int) -> list[T | str]:
        """The chunk's items, split out of its text for good (an item is to be used)."""
        chunk = self._chunks[chunk_no]
        if isinstance(chunk, str):
            chunk = self._chunks[chunk_no] = chunk.split("\n")  # type: ignore[assignment]
        return chunk  # type: ignore[return-value]

    def _rows_to_read(self, chunk_no: int) -> list[T | str]:
        """The chunk's items for reading: a text stays the chunk, its split is cached."""
        chunk = self._chunks[chunk_no]
        if not isinstance(chunk, str):
            return chunk
        if self._peeked is None or self._peeked[0] is not chunk:
            self._peeked = (chunk, chunk.split("\n"))
        return self._peeked[1]  # type: ignore[return-value]

    def __getitem__(self, item_id: int) -> T:
        if item_id not in self:
            raise KeyError(item_id)
        chunk = self._rows(item_id // CHUNK_ROWS)
        item = chunk[item_id % CHUNK_ROWS]
        if isinstance(item, str):
            item = chunk[item_id % CHUNK_ROWS] = self._decode(item)
            self._used.add(item_id)
        return item  # type: ignore[return-value]

    def peek(self, item_id: int) -> T:
        """The item for reading only: a text is decoded into a copy that is not kept, so a
        walk over every item (a listing) leaves the items as it found them."""
        if item_id not in self:
            raise KeyError(item_id)
        item = self._rows_to_read(item_id // CHUNK_ROWS)[item_id % CHUNK_ROWS]
        return self._decode(item) if isinstance(item, str) else item  # type: ignore[return-value]

    def append(self, item: T) -> int:
        """Adds the next item and returns its id."""
        item_id = self._length
        if item_id % CHUNK_ROWS == 0:
            self._chunks.append([])
        self._rows(len(self._chunks) - 1).append(item)
        self._length += 1
        self._used.add(item_id)
        return item_id

    def values(self) -> Iterator[T]:
        """Every item, in id order, for use (each is decoded and kept as an object)."""
        for item_id in range(self._length):
            yield self[item_id]

    def items(self) -> Iterator[tuple[int, T]]:
        """(id, item) for every item, in id order, as `values` gives them."""
        return enumerate(self.values())

    def compact(self, limit: int) -> int:
        """Turns up to `limit` used items back into text; returns how many are left. Lets a
        caller that holds a lock while this runs do a large backlog (after a replay, every
        item) a batch at a time."""
        for _ in range(min(limit, len(self._used))):
            item_id = self._used.pop()
            chunk = self._chunks[item_id // CHUNK_ROWS]
            chunk[item_id % CHUNK_ROWS] = self._encode(chunk[item_id % CHUNK_ROWS])  # type: ignore[index, arg-type]
        return len(self._used)

    def chunks(self) -> RowChunks:
        """Every item as text, in id order, chunked. Only the items used since the last call
        are encoded, and they are kept as text from here on, so the cost is in the items
        that changed and idle ones stay compact. A chunk whose items were never used since
        the restore is handed out as the text it was restored from; the others as new
        lists."""
        self.compact(len(self._used))
        return RowChunks(
            [c if isinstance(c, str) else list(c) for c in self._chunks],  # type: ignore[misc]
            self._length,
        )

    def texts(self) -> list[str]:
        """Every item as text, in id order (a new list), encoding what chunks() would."""
        return list(self.chunks())
