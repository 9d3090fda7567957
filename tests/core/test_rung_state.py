"""A rung's saved state (packed arrays in arrival order) restores it exactly."""

from __future__ import annotations

import copy
import json
import random

import pytest

from rung.core.rungs import Rung


@pytest.mark.parametrize("arrival", ["seq increasing", "seq in any order"])
def test_a_restored_rung_has_the_same_order_and_promotes_the_same_way(arrival: str) -> None:
    rnd = random.Random(3)
    rung = Rung(3)
    seqs = list(range(2_000))
    if arrival == "seq in any order":  # restored by a full sort, not the stable sort of keys
        rnd.shuffle(seqs)
    for seq in seqs:
        key = rnd.choice([0.0, -0.0, 0.25, 1e-300, -1e308, 7.5, rnd.random()])  # many ties
        rung.record(trial_id=rnd.randrange(10**6), key=key, seq=seq)
        if seq % 7 == 0:
            promoted = rung.promotable(3, lambda t: True)
            if promoted is not None:
                rung.promote(promoted)
    restored = Rung.from_json(json.loads(json.dumps(rung.to_json())))
    assert restored._entries == rung._entries
    assert [repr(e[0]) for e in restored._entries] == [repr(e[0]) for e in rung._entries]  # -0.0
    assert restored.promoted == rung.promoted and restored.to_json() == rung.to_json()
    for seq in range(2_000, 2_300):  # and both go on alike
        for r in (rung, restored):
            r.record(seq % 97, 0.5 + (seq % 13) / 10, seq)
            promoted = r.promotable(3, lambda t: t % 2 == 0)
            if promoted is not None:
                r.promote(promoted)
        assert restored._entries == rung._entries and restored.promoted == rung.promoted


def test_an_empty_rung_round_trips() -> None:
    restored = Rung.from_json(json.loads(json.dumps(Rung(1).to_json())))
    assert restored._entries == [] and restored.promoted == set() and len(restored) == 0


def test_a_deep_copy_changes_independently_of_its_rung() -> None:
    rung = Rung(1)
    for seq, key in enumerate([0.3, 0.1, 0.2, 0.4]):
        rung.record(trial_id=seq, key=key, seq=seq)
    rung.promote(1)
    saved = rung.to_json()
    twin = copy.deepcopy(rung)
    twin.record(trial_id=9, key=0.0, seq=9)
    twin.promote(twin.promotable(2, lambda t: True))
    assert rung.to_json() == saved and len(rung) == 4 and rung.promoted == {1}
    assert rung.promotable(2, lambda t: True) == 2  # its open entries are its own
    assert twin.promoted == {1, 9} and len(twin) == 5
