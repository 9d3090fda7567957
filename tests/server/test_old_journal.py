"""A journal written by rung before several objectives existed (main at 65166b2) replays
unchanged: the same decisions, trials, observations and incumbents, and studies go on.

data/make_old_journal.py made old_journal.db and old_journal.json with that code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rung.core.types import JobKind
from rung.server.service import StudyService
from rung.server.sql_journal import SqliteJournal

DATA = Path(__file__).parent / "data"
FLOAT_SENSITIVE = {"asha-gp"}  # studies whose searcher fits a GP


def _without_configs(summary: dict) -> dict:
    """The summary with each trial's config left out."""
    return {**summary, "trials": [[t[0], *t[2:]] for t in summary["trials"]]}


def load_summary():
    import sys

    sys.path.insert(0, str(DATA))
    try:
        from make_old_journal import summary
    finally:
        sys.path.remove(str(DATA))
    return summary


def test_an_old_single_objective_journal_replays_unchanged(tmp_path):
    db = tmp_path / "old.db"
    shutil.copyfile(DATA / "old_journal.db", db)
    expected = json.loads((DATA / "old_journal.json").read_text())
    service = StudyService(SqliteJournal(db), clock=lambda: 5000.0, lease_seconds=10.0)
    summary = load_summary()
    assert set(service.journal.studies()) == set(expected)
    for name, want in expected.items():
        got = json.loads(json.dumps(summary(service, name)))
        if name in FLOAT_SENSITIVE:
            # A new configuration is re-decided on replay, not read from the journal; the
            # GP's fit goes through BLAS/LAPACK, whose rounding differs between CPUs, so
            # on another machine its proposals may differ in the configs alone. Every
            # decision (kind, trial, resources), segment, report and the incumbent
            # must still be the journal's.
            got, want = _without_configs(got), _without_configs(want)
        assert got == want, name
        spec = service.get_study(name).spec
        assert spec.is_scalar and len(spec.objectives) == 1 and spec.constraints == ()
        assert service.get_study(name).pareto is None


def test_an_old_study_goes_on_after_replay(tmp_path):
    db = tmp_path / "old.db"
    shutil.copyfile(DATA / "old_journal.db", db)
    service = StudyService(SqliteJournal(db), clock=lambda: 5000.0, lease_seconds=10.0)
    spec = service.get_study("asha-random").spec
    bigger = json.loads(json.dumps(spec.to_json()))
    assert "objectives" not in bigger and "constraints" not in bigger  # the JSON form is as it was
    assert service.get_study("asha-random").state == "done"
    assert service.suggest("asha-random", "w", "after-replay").job.kind is JobKind.DONE
    restarted = StudyService(SqliteJournal(db), clock=lambda: 5000.0, lease_seconds=10.0)
    assert restarted.get_study("asha-random").promotions == service.get_study("asha-random").promotions
