"""Items numbered 0, 1, 2, ... that stay encoded as text until used.

A study of a million trials holds a million scheduler states and a million
service records, almost all of finished trials that no decision reads again.
Building them all as Python objects made a restart from a snapshot take
seconds per 100,000 trials and saving a snapshot re-encode every one of them.
`LazyRows` keeps each item as its text (one row of a snapshot) until it is
first used, and remembers which items were used since the last `texts()`, so
a snapshot re-encodes only those and a restart builds a list of strings.

Rule for callers: every change to an item goes through `rows[i]` within one
call; nobody keeps an item object across calls (a later `texts()` turns it back
into text, and a change to the old object would be lost). Read-only views use
`peek`, which decodes a copy and keeps nothing.
"""

from __future__ import annotations

import copy
from typing import Callable, Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")


class LazyRows(Generic[T]):
    """Item id -> item for ids 0 .. len-1; items are kept as text until used."""

    def __init__(
        self, encode: Callable[[T], str], decode: Callable[[str], T], texts: Iterable[str] = ()
    ):
        """`texts`: the items' texts in id order, as `texts()` returned them."""
        self._encode, self._decode = encode, decode
        self._items: list[T | str] = list(texts)
        self._used: set[int] = set()  # ids whose item is an object: used since texts()

    def __deepcopy__(self, memo: dict) -> "LazyRows[T]":
        """Texts are immutable, so the copy shares them and copies only the items in use
        (a scheduler's dry run copies a million trials)."""
        twin = copy.copy(self)
        twin._items = list(self._items)
        for item_id in self._used:
            twin._items[item_id] = copy.deepcopy(self._items[item_id], memo)
        twin._used = set(self._used)
        return twin

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return type(item_id) is int and 0 <= item_id < len(self._items)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self._items)))

    def __getitem__(self, item_id: int) -> T:
        if item_id not in self:
            raise KeyError(item_id)
        item = self._items[item_id]
        if isinstance(item, str):
            item = self._items[item_id] = self._decode(item)
            self._used.add(item_id)
        return item

    def peek(self, item_id: int) -> T:
        """The item for reading only: a text is decoded into a copy that is not kept, so a
        walk over every item (a listing) leaves memory as it found it."""
        if item_id not in self:
            raise KeyError(item_id)
        item = self._items[item_id]
        return self._decode(item) if isinstance(item, str) else item

    def append(self, item: T) -> int:
        """Adds the next item and returns its id."""
        self._items.append(item)
        item_id = len(self._items) - 1
        self._used.add(item_id)
        return item_id

    def values(self) -> Iterator[T]:
        """Every item, in id order, for use (each is decoded and kept as an object)."""
        for item_id in range(len(self._items)):
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
            self._items[item_id] = self._encode(self._items[item_id])  # type: ignore[arg-type]
        return len(self._used)

    def texts(self) -> list[str]:
        """Every item as text, in id order (a new list). Only the items used since the last
        call are encoded, and they are kept as text from here on, so the cost is in the
        items that changed and idle ones stay compact."""
        for item_id in self._used:
            self._items[item_id] = self._encode(self._items[item_id])  # type: ignore[arg-type]
        self._used.clear()
        return list(self._items)  # type: ignore[arg-type]
