"""Deleting a study: both journals forget it, and no late write brings it back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rung.server.service import StudyService
from rung.server.sql_journal import SqliteJournal
from rung.server.storage import Event, Journal, MemoryJournal

from rung.core.errors import NotFound
from rung.core.space import SearchSpace
from rung.core.study import StudySpec
from rung.core.types import Budget

JOURNALS: dict[str, Callable[[Path], Journal]] = {
    "memory": lambda _: MemoryJournal(),
    "sqlite": lambda folder: SqliteJournal(folder / "rung.db"),
}


def spec(name: str) -> StudySpec:
    return StudySpec(name=name, space=SearchSpace({"x": [1, 2, 3]}), budget=Budget(max_trials=3))


@pytest.mark.parametrize("kind", list(JOURNALS))
def test_journal_delete(kind: str, tmp_path: Path) -> None:
    journal = JOURNALS[kind](tmp_path)
    for study in ("a", "b"):
        journal.append(Event(study, 1, "created", {"n": 1}))
        journal.append(Event(study, 2, "stop", {}))
    journal.delete("a")
    journal.delete("never-existed")
    assert journal.studies() == ["b"]
    assert list(journal.events("a")) == []
    assert [e.seq for e in journal.events("b")] == [1, 2]
    journal.append(Event("a", 1, "created", {"n": 2}))  # the name starts over at seq 1
    assert journal.studies() == ["b", "a"]
    assert [e.payload for e in journal.events("a")] == [{"n": 2}]
    journal.close()


@pytest.mark.parametrize("kind", list(JOURNALS))
def test_service_delete_then_restart(kind: str, tmp_path: Path) -> None:
    journal = JOURNALS[kind](tmp_path)
    service = StudyService(journal)
    service.create_study(spec("gone"))
    service.create_study(spec("kept"))
    service.suggest("gone", "w", "r1")
    service.delete_study("gone")
    with pytest.raises(NotFound):
        service.get_study("gone")
    with pytest.raises(NotFound):
        service.delete_study("gone")
    assert [v.spec.name for v in StudyService(journal).list_studies()] == ["kept"]


def test_a_call_that_found_the_study_before_it_was_deleted_writes_nothing() -> None:
    """The race: a call looked the study up, then DeleteStudy ran before it took the lock."""
    journal = MemoryJournal()
    service = StudyService(journal)
    service.create_study(spec("racy"))
    looked_up = service._study("racy")  # what the racing call holds
    service.delete_study("racy")
    with pytest.raises(NotFound, match="deleted"):
        service._append(looked_up, "stop", {})
    assert journal.studies() == []
