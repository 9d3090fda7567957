"""A study as its workers see it: asking for trials, and each trial's reports, checkpoints and lease.

`Study.trials()` hands out `Trial`s; a Trial used as a context manager keeps
its lease alive in the background and tells the server how the training ended.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, Iterator, Mapping, Sequence

import grpc

from rung import wire
from rung.core.types import Decision
from rung.v1 import rung_pb2 as pb

from .admin import StudyAdmin
from .connection import T
from .results import StudyInfo
from .transfer import file_digest, is_server_ref, save_download, upload_chunks

log = logging.getLogger("rung.client")

TRANSFER_TIMEOUT = 3600.0  # seconds for one checkpoint upload or download
DECISIONS = {v: k for k, v in wire.DECISIONS.items()}


class TrialLost(Exception):
    """The trial's lease is gone (expired or taken over); stop training it."""


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Study:
    """A study by name, on the server `client` talks to."""

    def __init__(self, client: StudyAdmin, name: str):
        self.client = client
        self.name = name

    def info(self) -> StudyInfo:
        """The study's progress and results (incumbent, Pareto front, hypervolume) as Python values."""
        return StudyInfo.from_pb(self.client.get_study(self.name))

    def list_trials(self) -> list[pb.Trial]:
        return self.client.list_trials(self.name)

    def set_budget(self, **limits: float) -> StudyInfo:
        """max_trials=, max_resource=, max_wall_seconds= (0: unlimited); the rest stay."""
        return StudyInfo.from_pb(self.client.set_budget(self.name, **limits))  # type: ignore[arg-type]

    def retry_failed(self, trial_ids: Sequence[int] = ()) -> list[int]:
        """Runs failed trials again (none given: all of them) from their last checkpoint."""
        return self.client.retry_trials(self.name, trial_ids)

    def import_results(self, path: str | Path) -> list[int]:
        """Adds the results of a CSV or JSON file (e.g. `rung export`'s) as trials; returns
        the new trials' ids (trials imported before are skipped)."""
        answer, _ = self.client.import_file(self.name, path)
        return list(answer.trial_ids)

    def download_checkpoint(self, ref: str, path: str | Path) -> Path:
        """Fetches a checkpoint to `path`: a "server:" reference from the server
        (size and sha256 verified), any other reference copied from the shared folder."""
        path = Path(path)
        if not is_server_ref(ref):
            path.parent.mkdir(parents=True, exist_ok=True)
            return Path(shutil.copyfile(ref, path))
        client = self.client
        request = pb.CheckpointRequest(ref=ref)
        return client.retrying(
            "DownloadCheckpoint",
            lambda: save_download(
                client._stub.DownloadCheckpoint(
                    request, timeout=TRANSFER_TIMEOUT, wait_for_ready=client.wait_for_ready
                ),
                ref,
                path,
            ),
        )

    def export_best_checkpoint(self, path: str | Path) -> pb.Trial:
        """Saves the incumbent's last checkpoint to `path`; returns the incumbent's trial."""
        info = self.info()
        if not info.has_incumbent:
            raise LookupError(f"study {self.name} has no results yet")
        trial = next(t for t in self.list_trials() if t.id == info.incumbent.trial_id)
        if not trial.checkpoint:
            raise LookupError(
                f"the best trial of {self.name} (#{trial.id}) has no checkpoint: "
                "its training code reported none"
            )
        self.download_checkpoint(trial.checkpoint, path)
        return trial

    def suggest(self, worker_id: str | None = None) -> pb.Job:
        """One Suggest call; the request id makes a retried call return the same job.

        The first attempt says it is one, so the server skips looking the new id up in
        its journal; every retry says it is not (`Client.call`)."""
        request = pb.SuggestRequest(
            study=self.name,
            worker_id=worker_id or default_worker_id(),
            request_id=uuid.uuid4().hex,
            first_attempt=True,
        )
        return self.client.call("Suggest", request)

    def trials(
        self,
        worker_id: str | None = None,
        checkpoint_dir: str | Path | None = None,
        max_wait: float = 5.0,
        stop: Callable[[], bool] = lambda: False,
    ) -> Iterator["Trial"]:
        """Yields trials to train until the study is done (or `stop()` says so)."""
        worker_id = worker_id or default_worker_id()
        while not stop():
            job = self.suggest(worker_id)
            if job.kind == pb.DONE:
                return
            if job.kind == pb.WAIT:
                time.sleep(min(max_wait, max(0.01, job.retry_after_ms / 1000)))
                continue
            yield Trial(self, job, checkpoint_dir)


class Trial:
    """One job: train `config` from `resume_from` to `milestone` and report.

    Used as a context manager it heartbeats in the background, and an exception
    inside marks the trial failed on the server (with the exception as reason).
    """

    def __init__(self, study: Study, job: pb.Job, checkpoint_dir: str | Path | None = None):
        self.study = study
        self.trial_id: int = job.trial_id
        self.config: dict[str, Any] = wire.config_from_pb(job.config)
        self.resume_from: int = job.resume_from
        self.milestone: int = job.milestone
        self.lease_id: str = job.lease_id
        self.lease_seconds: float = job.lease_seconds
        self.checkpoint_in: str = job.checkpoint
        self.reported: int = job.resume_from  # the last resource reported
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.lost = False
        self.finished = False
        self._stop_heartbeat = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def __repr__(self) -> str:
        return (
            f"Trial({self.study.name}#{self.trial_id}, {self.resume_from}->{self.milestone}, "
            f"{self.config})"
        )

    def epochs(self) -> range:
        """The resource levels to train and report: resume_from+1 .. milestone."""
        return range(self.resume_from + 1, self.milestone + 1)

    @property
    def checkpoint_out(self) -> Path:
        """Where to save the checkpoint at the milestone (needs checkpoint_dir)."""
        return self.checkpoint_path(self.milestone)

    def checkpoint_path(self, resource: int) -> Path:
        """Where this trial's checkpoint at `resource` goes under checkpoint_dir."""
        if self.checkpoint_dir is None:
            raise ValueError("no checkpoint_dir was given to Study.trials()")
        return self.checkpoint_dir / self.study.name / f"trial-{self.trial_id}" / f"r{resource}.pt"

    def report(
        self, resource: int, value: float | Mapping[str, float], checkpoint: bool | str = False
    ) -> Decision:
        """Reports the metric at `resource`, or named metrics (`{"error": e, "latency_ms": l}`:
        every objective and constraint); `checkpoint=True` names `checkpoint_out`."""
        ref = str(self.checkpoint_out) if checkpoint is True else (checkpoint or "")
        named = isinstance(value, Mapping)
        request = pb.ReportRequest(
            study=self.study.name,
            trial_id=self.trial_id,
            lease_id=self.lease_id,
            resource=resource,
            value=math.nan if named else value,  # NaN: no bare value, the server reads `metrics`
            checkpoint=ref,
            metrics=dict(value) if named else {},
        )
        response = self._while_leased(lambda: self.study.client.call("Report", request))
        self.reported = resource
        decision = DECISIONS[response.decision]
        if decision is not Decision.CONTINUE:
            self._end()
            self.lost = False  # this report ended the lease: a heartbeat refused since is no loss
        return decision

    def upload_checkpoint(self, path: str | Path, resource: int | None = None) -> str:
        """Stores the checkpoint file on the server; returns the reference to report.

        For workers without a shared filesystem: `report(..., checkpoint=ref)`
        then lets any other worker resume this trial. `resource` defaults to the
        milestone. Raises TrialLost when this job's lease is gone.
        """
        size, sha256 = file_digest(Path(path))
        header = pb.CheckpointHeader(
            study=self.study.name,
            trial_id=self.trial_id,
            lease_id=self.lease_id,
            resource=self.milestone if resource is None else resource,
            size=size,
            sha256=sha256,
        )
        client = self.study.client
        answer = self._while_leased(
            lambda: client.retrying(
                "UploadCheckpoint",
                lambda: client._stub.UploadCheckpoint(
                    upload_chunks(Path(path), header), timeout=TRANSFER_TIMEOUT,
                    wait_for_ready=client.wait_for_ready,
                ),
            )
        )
        return answer.ref

    def _while_leased(self, attempt: Callable[[], T]) -> T:
        """Runs a call that needs this job's lease; a lease that is gone raises TrialLost."""
        try:
            return attempt()
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                self._end(lost=True)
                raise TrialLost(exc.details()) from exc
            raise

    def fail(self, reason: str) -> None:
        """The training code failed: the trial ends as failed and is never resumed."""
        self._give_up(
            "Fail",
            pb.FailRequest(
                study=self.study.name, trial_id=self.trial_id, lease_id=self.lease_id, reason=reason
            ),
        )

    def release(self, resource: int = 0, checkpoint: str = "") -> None:
        """Hands the job back (e.g. on shutdown): another worker resumes it.

        It resumes from the last rung's checkpoint, or from `checkpoint` saved at
        `resource`, which must be the last resource reported.
        """
        self._give_up(
            "Release",
            pb.ReleaseRequest(
                study=self.study.name,
                trial_id=self.trial_id,
                lease_id=self.lease_id,
                resource=resource,
                checkpoint=checkpoint,
            ),
        )

    def _give_up(self, method: str, request: Any) -> None:
        try:
            self.study.client.call(method, request)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:  # already ended: fine
                raise
        finally:
            self._end()

    # ------------------------------------------------------------------ leases

    def __enter__(self) -> "Trial":
        if self.lease_seconds > 0:
            self._heartbeat = threading.Thread(
                target=self._heartbeat_loop, name=f"rung-heartbeat-{self.trial_id}", daemon=True
            )
            self._heartbeat.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        """Fails the trial on an error, releases it on Ctrl-C or SystemExit."""
        if exc is not None and not self.finished:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                self.release()
            elif not isinstance(exc, TrialLost):
                self.fail(f"{type(exc).__name__}: {exc}"[:4000])
        self._end(lost=self.lost)
        return isinstance(exc, TrialLost)  # a lost trial is someone else's now: move on

    def _heartbeat_loop(self) -> None:
        interval = max(0.05, self.lease_seconds / 3)
        request = pb.HeartbeatRequest(study=self.study.name, lease_id=self.lease_id)
        while not self._stop_heartbeat.wait(interval):
            try:
                self.study.client.call("Heartbeat", request)
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                    self.lost = self.lost or not self.finished
                    return
                log.warning("heartbeat failed: %s", exc.details())

    def _end(self, lost: bool = False) -> None:
        self.finished = True
        self.lost = self.lost or lost
        self._stop_heartbeat.set()
        if self._heartbeat is not None and self._heartbeat is not threading.current_thread():
            self._heartbeat.join(timeout=5)
