"""One contract, every scheduler: the suite runs each entry of SCHEDULERS through the same scripts.

A script is a few simulated workers that ask, report at every rung level of
their segment, and now and then lose or fail a trial, all driven by a seeded
`random.Random`, so the same seed gives the same calls to a scheduler that
answers the same way.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rung.core.errors import FailedPrecondition
from rung.core.rungs import report_points, rung_levels
from rung.core.schedulers import SCHEDULERS, Scheduler
from rung.core.types import Decision, Job, JobKind, TrialStatus

from scheduler_builders import Build, make_spec

KINDS = sorted(SCHEDULERS)
SYNC_KINDS = ("sh", "sync_hyperband")
NO_CHECKPOINT_KINDS = ("fifo", "asha_stopping")  # a trial runs 0 -> r_max in one segment
Call = tuple[Any, ...]


def metric(config: dict[str, Any], resource: int) -> float:
    """A made-up learning curve; rounded so that ties happen and must be broken by order."""
    base = (config["x"] - 0.3) ** 2 + 0.01 * config["n"] + (0.05 if config["c"] == "b" else 0.0)
    return round(base + 1.0 / resource, 2)


def state(s: Scheduler) -> str:
    return json.dumps(s.state_dict(), sort_keys=True)


class Workers:
    """Scripted workers: a seeded choice among asking, reporting, losing and failing."""

    def __init__(self, seed: int, n_workers: int = 3, lose_p: float = 0.0, fail_p: float = 0.0):
        self.rnd = random.Random(seed)
        self.n_workers, self.lose_p, self.fail_p = n_workers, lose_p, fail_p
        self.now = 0.0
        self.running: dict[int, tuple[dict[str, Any], list[int]]] = {}
        self.log: list[Call] = []
        self.answers: list[Any] = []
        self.finished = False

    def step(self, s: Scheduler) -> None:
        self.now += 1.0
        if self.running and (len(self.running) >= self.n_workers or self.rnd.random() < 0.6):
            self._tell(s, self.rnd.choice(sorted(self.running)))
        else:
            self._ask(s)

    def run(self, s: Scheduler, max_steps: int = 2000) -> "Workers":
        for _ in range(max_steps):
            if self.finished:
                break
            self.step(s)
        return self

    def _ask(self, s: Scheduler) -> None:
        before = state(s)
        job = s.suggest(self.now)
        self._record(("suggest", self.now), job)
        if job.kind in (JobKind.WAIT, JobKind.DONE):
            assert state(s) == before, f"a {job.kind.value} answer changed the scheduler's state"
            self.finished = job.kind is JobKind.DONE and not self.running
            return
        levels = rung_levels(s.r_min, s.r_max, s.eta, s.trial(job.trial_id).bracket)
        points = report_points(levels, job.resume_from, job.milestone)
        self.running[job.trial_id] = (dict(job.config or {}), points)

    def _tell(self, s: Scheduler, trial_id: int) -> None:
        config, points = self.running[trial_id]
        u = self.rnd.random()
        if u < self.lose_p:
            s.lose(trial_id)
            self._record(("lose", trial_id), None)
            del self.running[trial_id]
        elif u < self.lose_p + self.fail_p:
            s.fail(trial_id)
            self._record(("fail", trial_id), None)
            del self.running[trial_id]
        else:
            resource = points.pop(0)
            value = metric(config, resource)
            decision = s.report(trial_id, resource, value)
            self._record(("report", trial_id, resource, value), decision)
            if decision is not Decision.CONTINUE:
                del self.running[trial_id]

    def _record(self, call: Call, answer: Any) -> None:
        self.log.append(call)
        self.answers.append(answer)


def apply(s: Scheduler, call: Call) -> Any:
    """Feeds one logged call to a scheduler, the way the server replays its journal."""
    name, *args = call
    if name == "suggest":
        return s.suggest(args[0])
    if name == "report":
        return s.report(*args)
    return getattr(s, name)(*args)


def is_work(answer: Any) -> bool:
    return isinstance(answer, Job) and answer.kind in (JobKind.START, JobKind.RESUME)


@pytest.fixture(params=["plain", "priors"])
def build(request: pytest.FixtureRequest) -> Build:
    """Every contract test runs on a space without priors and on one with them."""

    def _build(kind: str, **kwargs: Any) -> Scheduler:
        return make_spec(kind, priors=request.param == "priors", **kwargs).build_scheduler()

    return _build


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def test_same_calls_give_same_jobs(build: Build, kind: str) -> None:
    a = Workers(seed=1, lose_p=0.05, fail_p=0.03).run(build(kind))
    b = Workers(seed=1, lose_p=0.05, fail_p=0.03).run(build(kind))
    assert a.finished and a.answers == b.answers and a.log == b.log
    assert sum(is_work(x) for x in a.answers) > 20


def test_scripts_see_wait_and_done(build: Build, kind: str) -> None:
    # The purity check itself runs inside Workers._ask; here we make sure it was exercised.
    answers = Workers(seed=2, n_workers=4).run(build(kind)).answers
    kinds = {a.kind for a in answers if isinstance(a, Job)}
    assert JobKind.DONE in kinds
    if kind in SYNC_KINDS:
        assert JobKind.WAIT in kinds


def test_state_dict_round_trip_continues_identically(build: Build, kind: str) -> None:
    original = build(kind)
    workers = Workers(seed=3, lose_p=0.05, fail_p=0.02)
    for _ in range(60):
        workers.step(original)
    restored = build(kind, seed=99)  # the state, not the constructor's seed, must decide
    restored.load_state_dict(json.loads(json.dumps(original.state_dict())))
    assert state(restored) == state(original)
    twin = copy.deepcopy(workers)
    workers.run(original)
    twin.run(restored)
    assert twin.answers == workers.answers
    assert state(restored) == state(original)


def test_state_dict_shares_nothing_the_scheduler_changes_later(build: Build, kind: str) -> None:
    # The server takes a study's state under its lock and encodes it after releasing the
    # lock, while calls go on changing the scheduler: the state must not change with it.
    s = build(kind)
    workers = Workers(seed=5, lose_p=0.05, fail_p=0.02)
    for _ in range(60):
        workers.step(s)
    taken = s.state_dict()
    frozen = json.dumps(taken, sort_keys=True)
    workers.run(s)
    assert json.dumps(taken, sort_keys=True) == frozen
    assert state(s) != frozen  # the run went on changing the scheduler


def test_running_count_matches_the_trials_at_every_step(build: Build, kind: str) -> None:
    s = build(kind)
    workers = Workers(seed=6, lose_p=0.1, fail_p=0.05)
    while not workers.finished:
        workers.step(s)
        counted = sum(1 for t in s.trials.values() if t.status is TrialStatus.RUNNING)
        assert s.n_running == counted
    s.stop()
    assert s.n_running == sum(1 for t in s.trials.values() if t.status is TrialStatus.RUNNING)


@given(seed=st.integers(0, 10_000))
@settings(max_examples=8, deadline=None)
def test_replaying_the_journal_rebuilds_the_state(seed: int) -> None:
    for kind, priors in [(k, p) for k in KINDS for p in (False, True)]:
        spec = make_spec(kind, priors=priors)
        live = spec.build_scheduler()
        workers = Workers(seed, lose_p=0.04, fail_p=0.02).run(live)
        # The server journals everything but WAIT and DONE answers and replays it on restart.
        journal = [
            (call, answer)
            for call, answer in zip(workers.log, workers.answers)
            if call[0] != "suggest" or is_work(answer)
        ]
        replayed = spec.build_scheduler()
        assert [apply(replayed, call) for call, _ in journal] == [answer for _, answer in journal]
        assert state(replayed) == state(live)


def test_trial_budget_ends_the_study(build: Build, kind: str) -> None:
    s = build(kind, max_trials=7)
    Workers(seed=4).run(s)
    assert len(s.trials) <= 7
    assert s.n_running == 0 and s.suggest(1e9).kind is JobKind.DONE


def test_resource_budget_is_never_exceeded(build: Build, kind: str) -> None:
    s = build(kind, max_resource=60)
    workers = Workers(seed=5).run(s)
    assert workers.finished
    assert 0 < s.resource_spent <= 60


def test_wall_time_budget_ends_the_study_when_its_last_job_ends(build: Build, kind: str) -> None:
    s = build(kind, max_wall_seconds=100.0)
    assert s.suggest(0.0).kind is JobKind.START
    assert s.suggest(99.0).kind is not JobKind.DONE
    # Past the budget: nothing new, but free workers wait while jobs still run...
    assert s.suggest(100.0).kind is JobKind.WAIT
    running = [t for t in s.trials.values() if t.status is TrialStatus.RUNNING]
    s.lose(running[0].trial_id)  # ...so a job whose worker dies is still resumed
    assert s.suggest(101.0).trial_id == running[0].trial_id
    for trial in running:
        for resource in range(trial.reported + 1, trial.milestone + 1):
            if s.report(trial.trial_id, resource, 0.5) is not Decision.CONTINUE:
                break
    assert s.suggest(102.0).kind is JobKind.DONE and s.finished(102.0)


def _running_trial(s: Scheduler, workers: Workers, with_checkpoint: bool) -> int:
    """Runs the script until a trial is running (one that holds a checkpoint, if asked)."""
    for _ in range(500):
        workers.step(s)
        for trial_id in sorted(workers.running):
            if s.trial(trial_id).checkpoint_resource > 0 or not with_checkpoint:
                return trial_id
    raise AssertionError("the script never got there")


def test_lost_trial_is_resumed_first_from_its_checkpoint(build: Build, kind: str) -> None:
    s = build(kind)
    workers = Workers(seed=6, n_workers=4)
    trial_id = _running_trial(s, workers, with_checkpoint=kind not in NO_CHECKPOINT_KINDS)
    milestone = s.trial(trial_id).milestone
    s.lose(trial_id)
    with pytest.raises(FailedPrecondition):
        s.report(trial_id, milestone, 0.5)  # the old lease may not report any more
    job = s.suggest(workers.now)
    assert job.trial_id == trial_id and job.milestone == milestone
    assert job.resume_from == s.trial(trial_id).checkpoint_resource
    assert job.kind is (JobKind.RESUME if job.resume_from else JobKind.START)


def test_failed_trial_ends_and_the_study_still_finishes(build: Build, kind: str) -> None:
    s = build(kind)
    workers = Workers(seed=7, n_workers=4)
    trial_id = _running_trial(s, workers, with_checkpoint=False)
    s.fail(trial_id)
    del workers.running[trial_id]
    assert s.trial(trial_id).status is TrialStatus.FAILED
    with pytest.raises(FailedPrecondition):
        s.fail(trial_id)
    assert workers.run(s).finished  # a synchronous rung must not wait for it forever


def test_stop_answers_done_and_stops_running_trials(build: Build, kind: str) -> None:
    s = build(kind)
    workers = Workers(seed=8, n_workers=4)
    trial_id = _running_trial(s, workers, with_checkpoint=False)
    s.stop()
    assert s.suggest(workers.now).kind is JobKind.DONE
    config, points = workers.running[trial_id]
    assert s.report(trial_id, points[0], metric(config, points[0])) is Decision.STOP
    assert s.trial(trial_id).status is TrialStatus.STOPPED
