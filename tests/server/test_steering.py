"""Steering a running study: budget changes, retries of failed trials, imported results.

Every action is a journaled event: a restart replays it (from the journal alone or
from a snapshot and the events after it) to the same state; each refusal has its
code and names the field or row; a retried call with its request id, or the same
change twice, has one effect.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Callable

import pytest

from rung.core.errors import FailedPrecondition, InvalidArgument, NotFound
from rung.core.space import Float, Int, SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, JobKind, TrialStatus
from rung.server.service import ImportedResult, ImportedTrial, StudyService
from server_support import LEASE, FakeClock, make_spec, snapshot, study_summary

Make = Callable[..., StudyService]


def value(config: dict[str, Any], resource: int) -> float:
    return round((float(config["x"]) - 0.3) ** 2 + 1.0 / resource, 12)


def drive(svc: StudyService, name: str = "s", worker: str = "w", limit: int = 1000) -> int:
    """Runs jobs (reporting every resource, checkpoint at each) until the study says DONE."""
    jobs = 0
    for n in range(limit):
        issued = svc.suggest(name, worker, f"{worker}-{name}-{n}-{svc.journal_position(name)}")
        job = issued.job
        if job.kind is JobKind.DONE:
            return jobs
        assert job.kind in (JobKind.START, JobKind.RESUME), job
        jobs += 1
        for r in range(job.resume_from + 1, job.milestone + 1):
            svc.report(name, job.trial_id, issued.lease_id, r, value(dict(job.config), r),
                       checkpoint=f"ckpt/{job.trial_id}/{r}")
    raise AssertionError("the study did not finish")


def events(svc: StudyService, kind: str, name: str = "s") -> int:
    return sum(e.kind == kind for e in svc.journal.events(name))


def state(svc: StudyService, name: str = "s") -> tuple[Any, ...]:
    view = svc.get_study(name)
    return (study_summary(svc, name), snapshot(svc, name), view.budget, view.trials_imported)


# ---------------------------------------------------------------- budget


def test_a_finished_study_given_more_trials_runs_them_and_finishes_again(
    make_service: Make, clock: FakeClock
) -> None:
    svc = make_service()
    svc.create_study(make_spec(trials=4))
    drive(svc)
    assert svc.get_study("s").state == "done"
    view = svc.set_budget("s", max_trials=7)
    assert view.state == "running" and view.budget == Budget(max_trials=7)
    assert drive(svc) >= 3  # new jobs: the three trials, and their promotions
    done = svc.get_study("s")
    assert done.state == "done" and done.trials_started == 7
    assert done.spec.budget == Budget(max_trials=4)  # the spec stays as created
    before = state(svc)
    svc.close()
    assert state(make_service()) == before  # replayed from the journal


def test_lowering_a_limit_below_what_is_spent_is_refused_naming_it(
    make_service: Make, clock: FakeClock
) -> None:
    svc = make_service()
    svc.create_study(make_spec(trials=10))
    for n in range(3):
        svc.suggest("s", "w", f"r{n}")
    with pytest.raises(FailedPrecondition, match="max_trials 2 is below the 3 trials"):
        svc.set_budget("s", max_trials=2)
    with pytest.raises(FailedPrecondition, match="below the 3 resource already spent"):
        svc.set_budget("s", max_resource=2)
    view = svc.set_budget("s", max_trials=3, max_resource=3)  # down to what is spent: fine
    assert view.budget == Budget(max_trials=3, max_resource=3)
    assert svc.suggest("s", "w", "r9").job.kind is JobKind.WAIT
    clock.advance(5)
    with pytest.raises(FailedPrecondition, match="below the 5.0 seconds already spent"):
        svc.set_budget("s", max_wall_seconds=4)
    assert events(svc, "budget") == 1


@pytest.mark.parametrize("limits, field", [
    ({"max_trials": -1}, "max_trials"),
    ({"max_trials": 2.5}, "max_trials"),
    ({"max_resource": math.nan}, "max_resource"),
    ({"max_wall_seconds": math.inf}, "max_wall_seconds"),
    ({"max_wall_seconds": -3.0}, "max_wall_seconds"),
])
def test_a_bad_limit_is_invalid_naming_its_field(
    service: StudyService, limits: dict[str, float], field: str
) -> None:
    with pytest.raises(InvalidArgument, match=f"budget {field} must be"):
        service.set_budget("s", **limits)
    with pytest.raises(InvalidArgument, match="needs a budget"):
        service.set_budget("s", max_trials=0)  # no limit left at all
    assert events(service, "budget") == 0


def test_budget_changes_are_idempotent(service: StudyService) -> None:
    service.set_budget("s", max_trials=40, request_id="b1")
    service.set_budget("s", max_trials=40, request_id="b1")
    service.set_budget("s", max_trials=40)  # the same change again: no change
    assert events(service, "budget") == 1
    service.set_budget("s", max_trials=50)
    again = service.set_budget("s", max_trials=99, request_id="b1")  # a retry of b1: as answered
    assert again.budget == Budget(max_trials=50) and events(service, "budget") == 2


def test_a_stopped_study_keeps_its_budget(service: StudyService) -> None:
    service.stop_study("s")
    with pytest.raises(FailedPrecondition, match="stopped"):
        service.set_budget("s", max_trials=99)


def test_a_raised_wall_time_lets_a_timed_out_study_go_on(
    make_service: Make, clock: FakeClock
) -> None:
    svc = make_service()
    spec = make_spec()
    svc.create_study(replace(spec, budget=Budget(max_wall_seconds=60)))
    drive_one = svc.suggest("s", "w", "a")
    svc.report("s", drive_one.job.trial_id, drive_one.lease_id, 1, 0.5)
    clock.advance(61)
    assert svc.get_study("s").state == "done"
    svc.set_budget("s", max_wall_seconds=600)
    assert svc.get_study("s").state == "running"
    assert svc.suggest("s", "w", "b").job.kind is JobKind.START


# ---------------------------------------------------------------- retries


def _fail_at(svc: StudyService, resource: int) -> int:
    """Runs trials until one is on its way past `resource`, reports up to it, fails it."""
    for n in range(100):
        issued = svc.suggest("s", "w", f"f{n}")
        job = issued.job
        for r in range(job.resume_from + 1, job.milestone + 1):
            if r > resource:
                svc.fail("s", job.trial_id, issued.lease_id, "CUDA out of memory")
                return job.trial_id
            svc.report("s", job.trial_id, issued.lease_id, r, value(dict(job.config), r),
                       checkpoint=f"ckpt/{job.trial_id}/{r}")
    raise AssertionError("no job went past the resource")


def test_a_retried_trial_resumes_from_its_last_checkpoint(service: StudyService) -> None:
    trial_id = _fail_at(service, 1)  # failed on its way 1 -> 3, checkpoint at 1
    assert service.retry_trials("s") == [trial_id]
    issued = service.suggest("s", "w", "again")
    assert (issued.job.kind, issued.job.trial_id, issued.job.resume_from) == (
        JobKind.RESUME, trial_id, 1
    )
    assert issued.checkpoint == f"ckpt/{trial_id}/1"
    for r in (2, 3):
        service.report("s", trial_id, issued.lease_id, r, 0.1)
    assert service.list_trials("s")[trial_id].status is TrialStatus.PAUSED
    assert service.retry_trials("s") == []  # none failed now: nothing journaled
    assert events(service, "retry") == 1


def test_a_retry_gets_a_fresh_count_of_lost_leases(
    make_service: Make, clock: FakeClock
) -> None:
    svc = make_service(max_lost=2)
    svc.create_study(make_spec())
    first = svc.suggest("s", "w", "a").job
    for n in range(2):  # lost twice: failed
        clock.advance(LEASE + 1)
        svc.get_study("s")
        if n == 0:
            assert svc.suggest("s", "w", "b").job.trial_id == first.trial_id
    assert svc.retry_trials("s", [first.trial_id], request_id="r1") == [first.trial_id]
    assert svc.suggest("s", "w", "c").job.trial_id == first.trial_id
    clock.advance(LEASE + 1)
    svc.get_study("s")  # lost once more: resumed, not failed
    assert svc.suggest("s", "w", "d").job.trial_id == first.trial_id


def test_retry_refusals(service: StudyService) -> None:
    trial_id = _fail_at(service, 0)
    running = service.suggest("s", "w", "other").job.trial_id
    with pytest.raises(NotFound, match="no trial 999"):
        service.retry_trials("s", [999])
    with pytest.raises(FailedPrecondition, match=f"trial {running} is running, not failed"):
        service.retry_trials("s", [trial_id, running])
    assert events(service, "retry") == 0  # refused whole
    assert service.retry_trials("s", [trial_id], request_id="r") == [trial_id]
    assert service.retry_trials("s", [trial_id], request_id="r") == [trial_id]  # a retry
    assert events(service, "retry") == 1
    service.stop_study("s")
    with pytest.raises(FailedPrecondition, match="stopped"):
        service.retry_trials("s")


# ---------------------------------------------------------------- imports


def gp_spec(name: str = "g") -> StudySpec:
    return StudySpec(
        name=name,
        space=SearchSpace({"x": Float(0.0, 1.0), "n": Int(1, 4)}),
        scheduler=SchedulerSettings("asha", 1, 9, 3),
        searcher="gp",
        budget=Budget(max_trials=20),
        seed=3,
    )


def rows(n: int = 12) -> list[ImportedTrial]:
    """A colleague's runs: at resources 1 and 3, best near x = 0.3."""
    out = []
    for i in range(n):
        config = {"x": i / 11, "n": 1 + i % 4}
        out.append(ImportedTrial(config, [
            ImportedResult(r, value(config, r)) for r in (1, 3)
        ], f"runs.csv row {i + 2}"))
    return out


def test_imported_results_are_known_before_any_trial_runs_and_steer_the_searcher(
    make_service: Make,
) -> None:
    svc = make_service()
    svc.create_study(gp_spec("g"))
    svc.create_study(gp_spec("plain"))
    ids, skipped = svc.import_trials("g", rows())
    assert (ids, skipped) == (list(range(12)), 0)
    view = svc.get_study("g")
    assert view.trials_started == 0 and view.trials_imported == 12
    best = min(rows(), key=lambda t: t.results[-1].value or 0)
    assert view.incumbent is not None and view.incumbent.resource == 3
    assert view.incumbent_config == best.config
    # ASHA promotes the best imported trials first (its rungs hold them), each from
    # scratch: an imported trial has no checkpoint. A study without them starts a new trial.
    imported = svc.suggest("g", "w", "a").job
    plain = svc.suggest("plain", "w", "a").job
    assert (imported.kind, imported.resume_from, imported.milestone) == (JobKind.START, 0, 9)
    assert imported.trial_id < 12 and imported.config == best.config
    assert (plain.kind, plain.trial_id, plain.milestone) == (JobKind.START, 0, 1)
    assert svc.list_trials("g")[0].record.observations[0].lease_id == "imported"


def test_a_warm_start_moves_the_model_based_searchers_first_proposals(make_service: Make) -> None:
    """FIFO, so every job is the searcher's: with twelve imported results at r_max the GP
    proposes next to their optimum (x = 0.3) from the first trial on; without them, its
    first proposals are random points."""
    svc = make_service()
    for name in ("warm", "cold"):
        svc.create_study(replace(gp_spec(name), scheduler=SchedulerSettings("fifo", 1, 9, 3)))
    svc.import_trials("warm", [
        ImportedTrial(t.config, [ImportedResult(9, value(dict(t.config), 9))]) for t in rows()
    ])
    warm = [svc.suggest("warm", f"w{i}", "").job.config["x"] for i in range(3)]
    cold = [svc.suggest("cold", f"w{i}", "").job.config["x"] for i in range(3)]
    assert all(abs(x - 0.3) < 0.05 for x in warm), warm
    assert not all(abs(x - 0.3) < 0.05 for x in cold), cold


@pytest.mark.parametrize("trial, message", [
    (ImportedTrial({"x": 2.0, "n": 1}, [ImportedResult(1, 0.5)], "a.csv row 2"),
     r"a.csv row 2: parameter 'x': 2.0 is outside \[0.0, 1.0\]"),
    (ImportedTrial({"x": 0.5, "n": 1, "lr": 3}, [ImportedResult(1, 0.5)], "a.csv row 3"),
     r"a.csv row 3: config does not match the search space \(unknown \['lr'\]\)"),
    (ImportedTrial({"x": 0.5, "n": 1}, [ImportedResult(1, math.nan)], "a.csv row 4"),
     "a.csv row 4: metric must be finite"),
    (ImportedTrial({"x": 0.5, "n": 1}, [ImportedResult(1, None, {"loss": 1.0})], "a.csv row 5"),
     "a.csv row 5: the result at resource 1 is missing metric 'error'"),
    (ImportedTrial({"x": 0.5, "n": 1}, [ImportedResult(27, 0.5)], "a.csv row 6"),
     r"a.csv row 6: resource 27 is outside \[r_min, r_max\] = \[1, 9\]"),
    (ImportedTrial({"x": 0.5, "n": 1}, [], "a.csv row 7"), "a.csv row 7: no results"),
])
def test_a_bad_imported_row_refuses_the_import_naming_the_row(
    make_service: Make, trial: ImportedTrial, message: str
) -> None:
    svc = make_service()
    svc.create_study(gp_spec())
    with pytest.raises(InvalidArgument, match=message):
        svc.import_trials("g", [*rows(2), trial])
    assert events(svc, "import", "g") == 0 and svc.get_study("g").trials_imported == 0


def test_imports_are_idempotent(make_service: Make) -> None:
    svc = make_service()
    svc.create_study(gp_spec())
    assert svc.import_trials("g", rows(3), request_id="i1") == ([0, 1, 2], 0)
    assert svc.import_trials("g", rows(3), request_id="i1") == ([0, 1, 2], 0)  # a retry
    assert svc.import_trials("g", rows(4)) == ([3], 3)  # the same rows again: skipped
    assert events(svc, "import", "g") == 2 and svc.get_study("g").trials_imported == 4


def test_imported_trials_do_not_use_the_trial_budget(make_service: Make) -> None:
    svc = make_service()
    spec = gp_spec()
    svc.create_study(replace(spec, budget=Budget(max_trials=2)))
    svc.import_trials("g", rows(6))
    drive(svc, "g")
    view = svc.get_study("g")
    assert view.trials_started == 2 and view.trials_imported == 6
    statuses = [t.status for t in svc.list_trials("g")]
    assert statuses.count(TrialStatus.RUNNING) == 0


# ---------------------------------------------------------------- replay and snapshots


def steer_everything(svc: StudyService, clock: FakeClock) -> list[int]:
    svc.create_study(gp_spec())
    svc.import_trials("g", rows(5), request_id="imp")
    trial_ids = []
    for n in range(4):
        issued = svc.suggest("g", "w", f"s{n}")
        job = issued.job
        if n % 2:
            svc.fail("g", job.trial_id, issued.lease_id, "oom")
            trial_ids.append(job.trial_id)
        else:
            for r in range(job.resume_from + 1, job.milestone + 1):
                svc.report("g", job.trial_id, issued.lease_id, r, value(dict(job.config), r))
    retried = svc.retry_trials("g", request_id="again")
    assert sorted(retried) == sorted(trial_ids)
    svc.set_budget("g", max_trials=25, max_resource=500, request_id="more")
    clock.advance(1)
    return retried


def test_a_restart_replays_every_steering_action(make_service: Make, clock: FakeClock) -> None:
    svc = make_service()
    retried = steer_everything(svc, clock)
    before = state(svc, "g")
    svc.close()
    again = make_service()
    assert state(again, "g") == before
    # The request ids survive: retried calls get their first answers, and change nothing.
    assert again.import_trials("g", rows(1), request_id="imp") == ([0, 1, 2, 3, 4], 0)
    assert again.retry_trials("g", request_id="again") == retried
    assert state(again, "g") == before
    drive(again, "g")  # and the study runs on to its end
    assert again.get_study("g").state == "done"


def test_a_study_restored_from_a_snapshot_after_steering_equals_one_replayed(
    make_service: Make, clock: FakeClock
) -> None:
    svc = make_service()
    retried = steer_everything(svc, clock)
    assert svc.save_snapshot("g")
    svc.import_trials("g", rows(7))  # after the snapshot: replayed on top of it
    before = state(svc, "g")
    svc.close()
    restored = make_service()
    assert state(restored, "g") == before
    assert restored.retry_trials("g", request_id="again") == retried
    assert restored.import_trials("g", rows(7)) == ([], 7)
    replayed = StudyService(_events_only(restored), clock=clock, lease_seconds=LEASE)
    assert state(replayed, "g") == before
    a = restored.suggest("g", "w", "next")
    b = replayed.suggest("g", "w", "next")
    assert (a.job, a.checkpoint) == (b.job, b.checkpoint)


def _events_only(svc: StudyService) -> Any:
    """A memory journal with the study's events and no snapshot."""
    from rung.server.storage import MemoryJournal

    journal = MemoryJournal()
    for event in svc.journal.events("g"):
        journal.append(event)
    return journal
