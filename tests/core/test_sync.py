"""Synchronous successive halving and Hyperband against Li et al. (JMLR 2018)."""

from __future__ import annotations

from collections import Counter
from typing import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from rung.core.schedulers import Scheduler
from rung.core.types import Job, JobKind

from scheduler_builders import Build, make_spec

Value = Callable[[int, int], float]

# Table 1 of Li et al. for R = 81, eta = 3: bracket s -> [(n_i, r_i), ...].
HYPERBAND_TABLE = {
    4: [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
    3: [(34, 3), (11, 9), (3, 27), (1, 81)],
    2: [(15, 9), (5, 27), (1, 81)],
    1: [(8, 27), (2, 81)],
    0: [(5, 81)],
}


def drain(s: Scheduler, value: Value, reverse: bool = False) -> list[Job]:
    """Takes every job offered; at each WAIT reports all running jobs (last one first if `reverse`)."""
    jobs: list[Job] = []
    running: list[Job] = []
    while True:
        job = s.suggest(0.0)
        if job.kind in (JobKind.START, JobKind.RESUME):
            jobs.append(job)
            running.append(job)
            continue
        if not running:
            assert job.kind is JobKind.DONE
            return jobs
        assert job.kind is JobKind.WAIT
        for j in reversed(running) if reverse else running:
            s.report(j.trial_id, j.milestone, value(j.trial_id, j.milestone))
        running.clear()


def test_hyperband_brackets_for_r81_eta3_match_the_paper(build: Build) -> None:
    s = build("sync_hyperband", r_min=1, r_max=81, eta=3, max_trials=81 + 34 + 15 + 8 + 5)
    jobs = drain(s, lambda trial_id, r: (trial_id * 7919 % 1000) / 1000 + 1 / r)
    per_rung = Counter((s.trial(j.trial_id).bracket, j.milestone) for j in jobs)
    for paper_s, rungs in HYPERBAND_TABLE.items():
        bracket = 4 - paper_s  # our bracket b starts at r_min * eta**b
        assert s.rung_sizes(bracket) == [n for n, _ in rungs]
        assert s.levels[bracket] == [r for _, r in rungs]
        assert [per_rung[bracket, r] for _, r in rungs] == [n for n, _ in rungs]
    assert len(s.trials) == 143 and s.n_running == 0


def test_brackets_run_one_after_another_in_paper_order(build: Build) -> None:
    s = build("sync_hyperband", r_min=1, r_max=81, eta=3, max_trials=143)
    brackets = [s.trial(j.trial_id).bracket for j in drain(s, lambda t, r: t / r) if j.resume_from == 0]
    assert brackets == [0] * 81 + [1] * 34 + [2] * 15 + [3] * 8 + [4] * 5


def _promotions_by_rung(s: Scheduler, jobs: list[Job]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for job in jobs:
        if job.kind is JobKind.RESUME:
            out.setdefault(job.resume_from, []).append(job.trial_id)
    return out


@given(values=st.lists(st.integers(0, 20), min_size=81, max_size=81), reverse=st.booleans())
@settings(max_examples=25, deadline=None)
def test_successive_halving_promotes_exactly_the_top_third_of_each_full_rung(
    values: list[int], reverse: bool
) -> None:
    s = make_spec("sh", r_min=1, r_max=81, eta=3, max_trials=81).build_scheduler()
    seen: dict[int, list[tuple[float, int, int]]] = {}  # level -> (value, report order, trial)

    def value(trial_id: int, r: int) -> float:
        v = values[trial_id] + (trial_id % 3) / r  # rankings shift between rungs
        seen.setdefault(r, []).append((v, len(seen[r]), trial_id))
        return v

    promoted = _promotions_by_rung(s, drain(s, value, reverse))
    for level, size in zip((1, 3, 9, 27), (81, 27, 9, 3)):
        rung = sorted(seen[level])
        assert len(rung) == size
        expected = [trial for _, _, trial in rung[: size // 3]]  # ties: earlier report first
        assert promoted[level] == expected
    assert len(seen[81]) == 1


def test_no_promotion_before_the_rung_is_full(build: Build) -> None:
    s = build("sh", r_min=1, r_max=9, eta=3, max_trials=9)
    starts = [s.suggest(0.0) for _ in range(9)]
    assert all(j.kind is JobKind.START for j in starts)
    for job in starts[:-1]:
        s.report(job.trial_id, 1, float(job.trial_id))
        assert s.suggest(0.0).kind is JobKind.WAIT
    s.report(starts[-1].trial_id, 1, -1.0)
    first = s.suggest(0.0)
    assert first.kind is JobKind.RESUME and first.trial_id == starts[-1].trial_id
    assert s.suggest(0.0).trial_id == starts[0].trial_id
    assert s.suggest(0.0).trial_id == starts[1].trial_id
    assert s.suggest(0.0).kind is JobKind.WAIT


def test_failed_trial_leaves_its_rung_one_result_short(build: Build) -> None:
    s = build("sh", r_min=1, r_max=9, eta=3, max_trials=9)
    starts = [s.suggest(0.0) for _ in range(9)]
    s.fail(starts[0].trial_id)
    for job in starts[1:]:
        s.report(job.trial_id, 1, float(job.trial_id))
    promoted = [s.suggest(0.0) for _ in range(3)]
    # 8 results: floor(8 / 3) = 2 promotions, then the rung above waits for them.
    assert [j.trial_id for j in promoted[:2]] == [1, 2]
    assert promoted[2].kind is JobKind.WAIT


def test_trial_budget_seals_the_first_rung(build: Build) -> None:
    s = build("sh", r_min=1, r_max=81, eta=3, max_trials=10)
    jobs = drain(s, lambda t, r: float(t))
    assert len(s.trials) == 10
    assert _promotions_by_rung(s, jobs) == {1: [0, 1, 2], 3: [0]}
