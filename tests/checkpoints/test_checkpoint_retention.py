"""Retention: which server-stored checkpoints may be deleted, and a sweep over a real study."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rung.core.space import SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, Decision, JobKind
from rung.server.blobs import BlobKey, BlobStore
from rung.server.retention import TrialCheckpoints, sweep, unreachable
from rung.server.service import IssuedJob, StudyService
from rung.server.storage import MemoryJournal


def key(trial: int, resource: int, tag: str = "a") -> BlobKey:
    return BlobKey("s", trial, resource, hashlib.sha256(tag.encode()).hexdigest())


def state(recorded: BlobKey | None, resumable: bool, incumbent: bool = False) -> TrialCheckpoints:
    return TrialCheckpoints(
        resumable=resumable,
        incumbent=incumbent,
        checkpoint=recorded.ref if recorded else "",
        checkpoint_resource=recorded.resource if recorded else 0,
    )


# ------------------------------------------------------------------ the policy


def test_paused_trial_keeps_its_recorded_checkpoint_and_drops_older_ones() -> None:
    old, current = key(0, 1), key(0, 3)
    assert unreachable([old, current], {0: state(current, resumable=True)}) == [old]


def test_running_trial_keeps_uploads_whose_report_may_be_in_flight() -> None:
    recorded, uploaded = key(0, 1), key(0, 3)
    assert unreachable([recorded, uploaded], {0: state(recorded, resumable=True)}) == []


def test_upload_of_a_worker_that_lost_its_lease_goes_once_another_is_recorded() -> None:
    """Both workers uploaded at resource 3; only the reported one can ever be loaded."""
    orphan, reported = key(0, 3, "lost worker"), key(0, 3, "new worker")
    assert unreachable([orphan, reported], {0: state(reported, resumable=True)}) == [orphan]


@pytest.mark.parametrize("incumbent", [False, True])
def test_ended_trial_keeps_only_the_incumbents_checkpoint(incumbent: bool) -> None:
    old, last, stray = key(0, 1), key(0, 9), key(0, 9, "stray")
    trials = {0: state(last, resumable=False, incumbent=incumbent)}
    dropped = unreachable([old, last, stray], trials)
    assert dropped == ([old, stray] if incumbent else [old, last, stray])


def test_trial_the_service_does_not_know_is_left_alone() -> None:
    assert unreachable([key(7, 1)], {0: state(None, resumable=False)}) == []


def test_trial_whose_checkpoint_lives_in_a_shared_folder() -> None:
    """A recorded path reference: server blobs at or below its resource are unreachable."""
    trials = {0: TrialCheckpoints(True, False, "/shared/s/trial-0/r3.pt", 3)}
    assert unreachable([key(0, 3), key(0, 9)], trials) == [key(0, 3)]


# ------------------------------------------------------------------ a sweep over a real study


class Harness:
    """A StudyService in memory with a BlobStore in a folder, driven like workers drive it."""

    def __init__(self, root: Path):
        self.service = StudyService(MemoryJournal(), clock=lambda: 1000.0)
        self.blobs = BlobStore(root, max_bytes=1 << 20)
        spec = StudySpec(
            name="s",
            space=SearchSpace({"x": [1, 2, 3, 4]}),
            scheduler=SchedulerSettings("asha", r_min=1, r_max=2, eta=2),
            budget=Budget(max_trials=4),
        )
        self.service.create_study(spec)

    def suggest(self) -> IssuedJob:
        issued = self.service.suggest("s", "w", "")
        assert issued.job.kind in (JobKind.START, JobKind.RESUME)
        return issued

    def upload(self, issued: IssuedJob, resource: int, content: bytes) -> str:
        job = issued.job
        blob = BlobKey("s", job.trial_id, resource, hashlib.sha256(content).hexdigest())

        def authorize() -> None:
            self.service.authorize_checkpoint_upload("s", job.trial_id, issued.lease_id, resource)

        authorize()
        return self.blobs.receive(blob, len(content), [content], before_commit=authorize).ref

    def finish(self, issued: IssuedJob, value: float, content: bytes) -> Decision:
        """Uploads the milestone's checkpoint, then reports it, as the worker loop does."""
        job = issued.job
        ref = self.upload(issued, job.milestone, content)
        decision, _ = self.service.report(
            "s", job.trial_id, issued.lease_id, job.milestone, value, ref
        )
        return decision

    def stored(self) -> set[tuple[int, int]]:
        return {(k.trial_id, k.resource) for k in self.blobs.stored("s")}


def test_sweep_follows_a_study_and_never_drops_what_a_resume_needs(tmp_path: Path) -> None:
    """ASHA with levels 1 and 2 (eta 2): four trials reach r1, the best two are promoted."""
    h = Harness(tmp_path / "blobs")
    jobs = [h.suggest() for _ in range(4)]  # trials 0..3 start: 0 -> 1
    for issued, value in zip(jobs, (0.5, 0.2, 0.9, 0.3), strict=True):
        assert h.finish(issued, value, f"t{issued.job.trial_id} r1".encode()) is Decision.PAUSE
    assert sweep(h.service, h.blobs) == 0  # all paused: each may still be promoted
    assert h.stored() == {(0, 1), (1, 1), (2, 1), (3, 1)}

    first = h.suggest()  # the best, trial 1, resumes 1 -> 2
    assert (first.job.trial_id, first.job.resume_from) == (1, 1)
    assert first.checkpoint.startswith("server:s/1/1@")  # what the resuming worker downloads
    h.upload(first, 2, b"t1 r2 from a worker that then lost its lease")
    assert sweep(h.service, h.blobs) == 0  # no report at r2 yet: a crash resumes from r1
    assert h.finish(first, 0.1, b"t1 r2") is Decision.STOP  # completes: the incumbent
    assert sweep(h.service, h.blobs) == 2  # its r1, and the upload nobody reported
    assert h.stored() == {(0, 1), (1, 2), (2, 1), (3, 1)}

    second = h.suggest()  # trial 3 resumes 1 -> 2 and becomes the incumbent
    assert second.job.trial_id == 3
    assert h.finish(second, 0.05, b"t3 r2") is Decision.STOP
    assert sweep(h.service, h.blobs) == 2  # trial 1 ended and lost the lead; trial 3's r1
    assert h.stored() == {(0, 1), (2, 1), (3, 2)}  # paused trials 0 and 2 keep theirs
    incumbent = h.service.get_study("s").incumbent
    assert incumbent is not None and incumbent.trial_id == 3
    (kept,) = [k for k in h.blobs.stored("s") if k.trial_id == 3]
    assert kept.ref == h.service.list_trials("s")[3].record.checkpoint


def test_blob_store_validates_every_path_component(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, max_bytes=10)
    for bad in ("server:../x/1/1@" + "0" * 64, "server:s/-1/1@" + "0" * 64, "server:s/1/1@ABC"):
        with pytest.raises(Exception, match="server checkpoint reference|study name"):
            BlobKey.parse(bad)
    with pytest.raises(Exception, match="study name"):
        BlobKey("a/b", 0, 1, "0" * 64)
    assert store.path(BlobKey("s.1", 2, 3, "0" * 64)).relative_to(tmp_path).parts == (
        "s.1", "2", f"r3-{'0' * 64}.pt",
    )
