"""LazyRows: items stay text until used; texts() re-encodes exactly the items used."""

from __future__ import annotations

import copy
import json

import pytest

from rung.core.lazy_rows import LazyRows


class Counting:
    def __init__(self) -> None:
        self.encoded: list[dict] = []
        self.decoded = 0

    def encode(self, item: dict) -> str:
        self.encoded.append(item)
        return json.dumps(item)

    def decode(self, text: str) -> dict:
        self.decoded += 1
        return json.loads(text)


def rows_of(n: int) -> tuple[LazyRows[dict], Counting]:
    codec = Counting()
    return LazyRows(codec.encode, codec.decode, [json.dumps({"i": i}) for i in range(n)]), codec


def test_items_are_decoded_only_when_used_and_changes_survive_texts() -> None:
    rows, codec = rows_of(5)
    assert codec.decoded == 0 and len(rows) == 5
    rows[3]["i"] = 30
    assert rows[3] == {"i": 30} and codec.decoded == 1  # the object is kept once decoded
    texts = rows.texts()
    assert codec.encoded == [{"i": 30}]  # only the used item is encoded again
    assert [json.loads(t)["i"] for t in texts] == [0, 1, 2, 30, 4]
    assert rows.texts() == texts and len(codec.encoded) == 1  # nothing used since


def test_peek_decodes_a_copy_that_is_not_kept() -> None:
    rows, codec = rows_of(3)
    seen = rows.peek(1)
    seen["i"] = 99  # a reader's change to its copy is not the item's
    assert rows[1] == {"i": 1}
    rows.texts()
    assert codec.encoded == [{"i": 1}]  # rows[1] was used; the peek alone would not count


def test_append_numbers_items_and_counts_as_used() -> None:
    rows, codec = rows_of(2)
    assert rows.append({"i": 2}) == 2
    assert list(rows) == [0, 1, 2] and 2 in rows
    assert rows.texts()[2] == json.dumps({"i": 2})


@pytest.mark.parametrize("bad", [-1, 3, True, "1", 1.0, None])
def test_unknown_ids_raise_key_error(bad: object) -> None:
    rows, _ = rows_of(3)
    assert bad not in rows
    with pytest.raises(KeyError):
        rows[bad]  # type: ignore[index]
    with pytest.raises(KeyError):
        rows.peek(bad)  # type: ignore[arg-type]


def test_compact_turns_used_items_back_into_text_a_batch_at_a_time() -> None:
    rows, codec = rows_of(10)
    for i in range(10):
        rows[i]["i"] += 100
    assert rows.compact(4) == 6 and len(codec.encoded) == 4
    assert rows.compact(100) == 0 and len(codec.encoded) == 10
    assert rows.texts() == [json.dumps({"i": i + 100}) for i in range(10)]
    assert len(codec.encoded) == 10  # nothing left for texts() to encode


def test_a_deep_copy_shares_texts_and_changes_independently() -> None:
    rows, codec = rows_of(4)
    rows[1]["i"] = 10  # in use: an object
    twin = copy.deepcopy(rows)
    assert twin._items[0] is rows._items[0]  # texts are shared, not copied
    twin[1]["i"], twin[2]["i"] = 11, 22
    twin.append({"i": 4})
    assert [rows.peek(i)["i"] for i in rows] == [0, 10, 2, 3]  # the original is untouched
    assert [json.loads(t)["i"] for t in twin.texts()] == [0, 11, 22, 3, 4]
    assert [json.loads(t)["i"] for t in rows.texts()] == [0, 10, 2, 3]
