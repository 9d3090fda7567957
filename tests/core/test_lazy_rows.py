"""LazyRows: items stay text until used; chunks() re-encodes exactly the items used, and
hands a stored chunk nobody changed back as the same text."""

from __future__ import annotations

import copy
import json

import pytest

from rung.core.lazy_rows import CHUNK_ROWS, LazyRows, RowChunks, chunk_text


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
    assert twin._chunks[0][0] is rows._chunks[0][0]  # texts are shared, not copied
    twin[1]["i"], twin[2]["i"] = 11, 22
    twin.append({"i": 4})
    assert [rows.peek(i)["i"] for i in rows] == [0, 10, 2, 3]  # the original is untouched
    assert [json.loads(t)["i"] for t in twin.texts()] == [0, 11, 22, 3, 4]
    assert [json.loads(t)["i"] for t in rows.texts()] == [0, 10, 2, 3]


def stored_rows(n: int) -> tuple[RowChunks, Counting]:
    """n rows as a snapshot restores them: chunks of CHUNK_ROWS rows, each one text."""
    texts = [json.dumps({"i": i}) for i in range(n)]
    return RowChunks.of(texts), Counting()


def packed(rows: RowChunks) -> RowChunks:
    return RowChunks([chunk_text(c) for c in rows.chunks], len(rows))


def test_row_chunks_read_like_the_list_they_chunk() -> None:
    texts = [json.dumps({"i": i}) for i in range(2 * CHUNK_ROWS + 5)]
    for rows in (RowChunks.of(texts), packed(RowChunks.of(texts))):
        assert len(rows) == len(texts) and list(rows) == texts and rows == texts
        assert rows[CHUNK_ROWS + 3] == texts[CHUNK_ROWS + 3] and rows[-1] == texts[-1]
        assert rows[CHUNK_ROWS - 1 : CHUNK_ROWS + 1] == texts[CHUNK_ROWS - 1 : CHUNK_ROWS + 1]
        with pytest.raises(IndexError):
            rows[len(texts)]
    assert [len(c) for c in RowChunks.of(texts).chunks] == [CHUNK_ROWS, CHUNK_ROWS, 5]


def test_a_restored_chunk_is_split_only_when_used_and_handed_back_as_its_text() -> None:
    restored, codec = stored_rows(3 * CHUNK_ROWS)
    restored = packed(restored)
    rows = LazyRows(codec.encode, codec.decode, restored)
    assert all(isinstance(c, str) for c in rows._chunks)  # nothing split at restore
    assert rows.peek(CHUNK_ROWS + 7) == {"i": CHUNK_ROWS + 7}  # read only
    rows[2 * CHUNK_ROWS + 1]["i"] = -1  # changed
    handed = rows.chunks()
    assert handed.chunks[0] is restored.chunks[0]  # never read
    assert handed.chunks[1] is restored.chunks[1]  # only read: the same text again
    assert isinstance(handed.chunks[2], list) and json.loads(handed[2 * CHUNK_ROWS + 1]) == {"i": -1}
    assert codec.encoded == [{"i": -1}] and codec.decoded == 2
    assert [json.loads(t)["i"] for t in handed][: 2 * CHUNK_ROWS + 1] == list(range(2 * CHUNK_ROWS + 1))
    assert isinstance(rows._chunks[1], str)  # reading left it one text: memory as restored


def test_append_fills_the_last_chunk_then_starts_another() -> None:
    restored, codec = stored_rows(CHUNK_ROWS - 1)
    rows = LazyRows(codec.encode, codec.decode, packed(restored))
    assert rows.append({"i": CHUNK_ROWS - 1}) == CHUNK_ROWS - 1
    assert rows.append({"i": CHUNK_ROWS}) == CHUNK_ROWS
    handed = rows.chunks()
    assert [len(c) for c in handed.chunks] == [CHUNK_ROWS, 1]
    assert [json.loads(t)["i"] for t in handed] == list(range(CHUNK_ROWS + 1))
    assert rows.texts() == list(handed)
