"""Crash safety: SIGKILL the server again and again while 16 workers run an ASHA study.

A real `rung serve` subprocess is killed at random moments (seeded) and
restarted on the same port and database. Simulated workers, each with its own
Client, "train" instantly through the SDK, which retries while the server is
down. At the end ListTrials must show that no acknowledged report was lost and
none appeared unasked, that no segment was handed out twice unless the first
was lost, that every promotion followed the ASHA rule at the moment it was
made, and that the study completed with every trial accounted for.

It runs on SQLite and on PostgreSQL. Default: 10 kills. Long mode: `RUNG_CRASH_KILLS=100 pytest tests/faults/test_crash_safety.py`;
`RUNG_CRASH_SEED` moves the kills elsewhere.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from rung.client import Client, Decision, Trial, TrialLost
from rung.core.rungs import rung_levels
from rung.v1 import rung_pb2 as pb
from support import ServerProcess

KILLS = int(os.environ.get("RUNG_CRASH_KILLS", "10"))
SEED = int(os.environ.get("RUNG_CRASH_SEED", "2024"))  # where the kills land
WORKERS = 16
TRIALS = max(60, 6 * KILLS)  # every trial reports at least once: kill points fit in the study
R_MIN, R_MAX, ETA = 1, 9, 3
LEVELS = rung_levels(R_MIN, R_MAX, ETA)
LEASE_SECONDS = 2.0


def metric(config: dict[str, Any], resource: int) -> float:
    """A deterministic learning curve: the same config and epoch always give the same value."""
    return round((float(config["x"]) - 0.3) ** 2 + 1.0 / resource, 12)


@dataclass(frozen=True)
class Ack:
    """A report the server acknowledged."""

    trial_id: int
    lease_id: str
    resource: int
    value: float
    decision: Decision


class Fleet:
    """16 worker threads; each records the jobs it got and the reports acknowledged to it.

    Some jobs are abandoned before their milestone, without heartbeats or a release, as
    a preempted machine leaves them: the first issue of every segment whose
    (trial + milestone) % 13 == 5, so at least every 13th trial's first segment. Their
    leases must expire and the trials be resumed by someone else.
    """

    def __init__(self, address: str, study: str):
        self.address, self.study = address, study
        self.lock = threading.Lock()
        self.acks: list[Ack] = []
        self.jobs: list[tuple[int, str, int, int]] = []  # trial, lease, resume_from, milestone
        self.bad_checkpoints: list[str] = []
        self.abandoned: list[pb.ReportRequest] = []  # the milestone reports never sent
        self.issued: set[tuple[int, int]] = set()  # (trial, milestone) segments seen
        self.errors: list[Exception] = []
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(WORKERS)
        ]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self, timeout: float) -> None:
        give_up = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, give_up - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), "workers still running"

    def acknowledged(self) -> int:
        with self.lock:
            return len(self.acks)

    def _run(self, index: int) -> None:
        try:
            with Client(self.address, retry_seconds=120, call_timeout=10) as client:
                study = client.study(self.study)
                for trial in study.trials(worker_id=f"worker-{index}", max_wait=0.1):
                    if self._check_job(trial):
                        self._abandon(trial)
                    else:
                        self._train(trial)
        except Exception as exc:  # reported by the test, not lost in a thread
            self.errors.append(exc)

    def _check_job(self, trial: Trial) -> bool:
        """Records the job and checks its checkpoint; True if it is one to abandon."""
        segment = (trial.trial_id, trial.milestone)
        with self.lock:
            self.jobs.append((trial.trial_id, trial.lease_id, trial.resume_from, trial.milestone))
            expected = f"ck-{trial.trial_id}-{trial.resume_from}" if trial.resume_from else ""
            if trial.checkpoint_in != expected:
                self.bad_checkpoints.append(f"{trial!r} got {trial.checkpoint_in!r}")
            first_issue = segment not in self.issued
            self.issued.add(segment)
        return first_issue and sum(segment) % 13 == 5

    def _report(self, trial: Trial, resource: int) -> Decision:
        value = metric(trial.config, resource)
        ckpt = f"ck-{trial.trial_id}-{resource}" if resource == trial.milestone else ""
        decision = trial.report(resource, value, checkpoint=ckpt)
        with self.lock:
            self.acks.append(Ack(trial.trial_id, trial.lease_id, resource, value, decision))
        return decision

    def _train(self, trial: Trial) -> None:
        with trial:  # heartbeats; a TrialLost inside ends the job quietly
            for resource in trial.epochs():
                if self._report(trial, resource) is not Decision.CONTINUE:
                    break

    def _abandon(self, trial: Trial) -> None:
        """Reports every epoch but the milestone, then walks away without a word."""
        try:
            for resource in trial.epochs()[:-1]:
                self._report(trial, resource)
        except TrialLost:  # even these were too slow for the lease: fine, still abandoned
            pass
        late = pb.ReportRequest(
            study=self.study,
            trial_id=trial.trial_id,
            lease_id=trial.lease_id,
            resource=trial.milestone,
            value=metric(trial.config, trial.milestone),
        )
        with self.lock:
            self.abandoned.append(late)


class Killer(threading.Thread):
    """SIGKILLs and restarts the server once the fleet's acknowledged reports reach each
    of `kills` random points, after a further random delay, so kills land mid-call."""

    def __init__(self, server: ServerProcess, fleet: Fleet, kills: int, seed: int):
        super().__init__(daemon=True)
        self.server, self.fleet = server, fleet
        self.rng = np.random.default_rng(seed)
        self.points = sorted(self.rng.choice(np.arange(1, TRIALS), size=kills, replace=False))
        self.kills = 0
        self.stop = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            for point in self.points:
                while self.fleet.acknowledged() < point:
                    if self.stop.wait(0.005):
                        return
                time.sleep(self.rng.uniform(0.0, 0.05))
                self.server.kill()
                self.server.start()
                self.kills += 1
        except Exception as exc:  # reported by the test
            self.error = exc


# ---------------------------------------------------------------- checks on ListTrials


def check_reports(trials: list[pb.Trial], acks: list[Ack]) -> None:
    """Every acknowledged report is stored with its value, and nothing else is."""
    stored = Counter((t.id, o.resource, o.value) for t in trials for o in t.observations)
    acked = Counter((a.trial_id, a.resource, a.value) for a in acks)
    assert stored == acked, f"lost: {acked - stored}, never acknowledged: {stored - acked}"
    leases = {(t.id, s.lease_id) for t in trials for s in t.segments}
    assert all((a.trial_id, a.lease_id) in leases for a in acks)
    for a in acks:
        expected = (
            Decision.STOP
            if a.resource == R_MAX
            else Decision.PAUSE
            if a.resource in LEVELS
            else Decision.CONTINUE
        )
        assert a.decision is expected, a


def check_segments(trials: list[pb.Trial], jobs: list[tuple[int, str, int, int]]) -> None:
    """Each (trial, milestone) was handed out once, apart from re-issues of lost segments."""
    by_lease = {s.lease_id: (t.id, s) for t in trials for s in t.segments}
    for trial_id, lease, resume_from, milestone in jobs:  # no job the server forgot
        assert lease in by_lease, f"job {lease} of trial {trial_id} is not in the journal"
        owner, segment = by_lease[lease]
        assert (owner, segment.resume_from, segment.milestone) == (trial_id, resume_from, milestone)
    for t in trials:
        by_milestone: dict[int, list[pb.Segment]] = defaultdict(list)
        for s in t.segments:
            by_milestone[s.milestone].append(s)
        for milestone, segments in by_milestone.items():
            assert all(s.lost for s in segments[:-1]), f"trial {t.id} got {milestone} twice"
            assert len({s.lease_id for s in segments}) == len(segments)


def check_promotions(trials: list[pb.Trial]) -> int:
    """Every promotion out of rung k went to the best result of the top floor(n / eta)
    recorded there before it, among those not promoted yet. Returns the number checked."""
    results = {  # level -> [(value, seq, trial)]
        level: sorted(
            (o.value, o.seq, t.id) for t in trials for o in t.observations if o.resource == level
        )
        for level in LEVELS
    }
    promotions = sorted(  # (seq, level promoted out of, trial): first segment from each level
        (next(s.seq for s in t.segments if s.resume_from == level), level, t.id)
        for t in trials
        for level in {s.resume_from for s in t.segments if s.resume_from > 0}
    )
    promoted: dict[int, set[int]] = defaultdict(set)
    for seq, level, trial_id in promotions:
        recorded = [r for r in results[level] if r[1] < seq]
        candidates = [r[2] for r in recorded[: len(recorded) // ETA]]
        assert trial_id in candidates, f"trial {trial_id} promoted out of {level} at seq {seq}"
        better = candidates[: candidates.index(trial_id)]
        assert set(better) <= promoted[level], f"trial {trial_id} jumped ahead at seq {seq}"
        assert trial_id not in promoted[level]
        promoted[level].add(trial_id)
    return len(promotions)


def check_accounted_for(client: Client, study: str, trials: list[pb.Trial]) -> None:
    info = client.get_study(study)
    assert info.state == pb.STUDY_DONE
    assert info.trials_started == TRIALS == len(trials) and info.trials_running == 0
    ended = {pb.COMPLETED, pb.PAUSED, pb.STOPPED, pb.FAILED}
    assert all(t.status in ended for t in trials)
    for t in trials:
        if t.status == pb.COMPLETED:
            assert max(o.resource for o in t.observations) == R_MAX


def check_abandoned(
    client: Client, trials: list[pb.Trial], abandoned: list[pb.ReportRequest]
) -> None:
    """Abandoned segments were marked lost, and their late milestone reports are refused."""
    lost = {s.lease_id for t in trials for s in t.segments if s.lost}
    assert len(abandoned) >= TRIALS // 13
    assert {late.lease_id for late in abandoned} <= lost
    for late in abandoned:
        with pytest.raises(grpc.RpcError) as info:
            client.call("Report", late)
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "not accepted" in info.value.details()


# ---------------------------------------------------------------- the test


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """The server's journal: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "rung.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.mark.timeout(120 + 6 * KILLS)
def test_sigkills_lose_no_acknowledged_report_and_break_no_promotion(
    tmp_path: Path, database: Path | str
) -> None:
    server = ServerProcess(
        database, lease_seconds=LEASE_SECONDS, log=tmp_path / "rung.log"
    ).start()
    try:
        with Client(server.address) as client:
            client.create_study(
                "crash",
                space={"x": [round(0.05 * i, 2) for i in range(21)]},
                r_min=R_MIN,
                r_max=R_MAX,
                eta=ETA,
                max_trials=TRIALS,
                seed=11,
            )
            fleet = Fleet(server.address, "crash")
            killer = Killer(server, fleet, KILLS, SEED)
            killer.start()
            fleet.start()
            fleet.join(timeout=60 + 5 * KILLS)
            killer.stop.set()
            killer.join(timeout=30)
            assert killer.error is None and fleet.errors == [], (killer.error, fleet.errors)
            assert killer.kills == KILLS
            assert fleet.bad_checkpoints == []

            trials = client.list_trials("crash")
            check_reports(trials, fleet.acks)
            check_segments(trials, fleet.jobs)
            assert check_promotions(trials) >= TRIALS // ETA
            check_accounted_for(client, "crash", trials)

            check_abandoned(client, trials, fleet.abandoned)
            assert client.list_trials("crash") == trials  # late reports changed nothing

            server.restart()  # one last replay shows the same study
            assert client.list_trials("crash") == trials
    finally:
        server.terminate()
