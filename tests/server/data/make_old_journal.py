"""Writes old_journal.db and old_journal.json with the rung code it is run against.

Made once with main at 65166b2 (before several objectives existed), so
tests/server/test_old_journal.py can check that today's code replays a journal
written by that release unchanged:

    git archive 65166b2 | tar -x -C /tmp/old && mkdir -p /tmp/oldpkg/rung && cd /tmp/oldpkg/rung &&
    cp -r /tmp/old/src/rung/* . && cp -r /tmp/old/server server && cp -r /tmp/old/client client &&
    cp -r /tmp/old/proto/rung/v1 v1 && cp -r /tmp/old/workers workers && cd - &&
    PYTHONPATH=/tmp/oldpkg .venv/bin/python tests/server/data/make_old_journal.py tests/server/data
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from rung.core.space import Categorical, Float, Int, SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, Decision, JobKind, Mode
from rung.server.service import StudyService
from rung.server.sql_journal import SqliteJournal

SPACE = SearchSpace({"x": Float(0.0, 1.0), "n": Int(1, 8), "c": Categorical(("a", "b"))})
STUDIES = [
    ("asha-random", "asha", "random", Mode.MIN),
    ("asha-gp", "asha", "gp", Mode.MIN),
    ("hyperband-bohb", "hyperband", "bohb", Mode.MAX),
    ("sh-local", "sh", "local", Mode.MIN),
    ("stopping", "asha_stopping", "random", Mode.MIN),
]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def drive(service: StudyService, clock: Clock, name: str, steps: int = 60) -> None:
    rng = np.random.default_rng(5)
    for step in range(steps):
        issued = service.suggest(name, f"w{step % 3}", f"req-{step}")
        if issued.job.kind not in (JobKind.START, JobKind.RESUME):
            clock.now += 1.0
            continue
        job, lease = issued.job, issued.lease_id
        fate = rng.random()
        if fate < 0.08:
            clock.now += 11.0  # abandoned: the lease expires
            continue
        if fate < 0.12:
            service.fail(name, job.trial_id, lease, f"boom {step}")
            continue
        for r in range(job.resume_from + 1, job.milestone + 1):
            value = float(job.config["x"]) + job.config["n"] / (10.0 * r)
            decision, _ = service.report(name, job.trial_id, lease, r, value, "")
            if decision is not Decision.CONTINUE:
                break
        clock.now += 0.5


def summary(service: StudyService, name: str) -> dict[str, Any]:
    view = service.get_study(name)
    inc = view.incumbent
    return {
        "state": view.state,
        "promotions": view.promotions,
        "resource_spent": view.resource_spent,
        "incumbent": [inc.trial_id, inc.resource, inc.value] if inc else None,
        "trials": [
            [
                t.trial_id, t.config, t.status.value, t.bracket,
                [[s.seq, s.resume_from, s.milestone, s.worker_id, s.lost] for s in t.record.segments],
                [[o.seq, o.resource, o.value, o.at] for o in t.record.observations],
                t.record.failures,
            ]
            for t in service.list_trials(name)
        ],
    }


def main(out: Path) -> None:
    clock = Clock()
    service = StudyService(SqliteJournal(out / "old_journal.db"), clock=clock, lease_seconds=10.0)
    for name, scheduler, searcher, mode in STUDIES:
        service.create_study(StudySpec(
            name=name, space=SPACE, mode=mode, scheduler=SchedulerSettings(scheduler, 1, 9, 3),
            searcher=searcher, budget=Budget(max_trials=25), seed=11,
        ))
        drive(service, clock, name)
    expected = {name: summary(service, name) for name, *_ in STUDIES}
    (out / "old_journal.json").write_text(json.dumps(expected, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
