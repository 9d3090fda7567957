"""Client, Study and Trial: thin wrappers over the rung.v1 stubs."""

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
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar

import grpc

from rung import wire
from rung.core.objectives import Constraint, Objective
from rung.core.space import SearchSpace
from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, Decision, Mode
from rung.credentials import check_token, resolve_ca_file, resolve_token
from rung.v1 import rung_pb2 as pb
from rung.v1 import rung_pb2_grpc

from .channel import open_channel
from .results import StudyInfo
from .transfer import file_digest, is_server_ref, save_download, upload_chunks

log = logging.getLogger("rung.client")

T = TypeVar("T")
# CANCELLED: a call queued in a server that is shutting down is dropped unrun.
# Retrying is safe: every write RPC is idempotent (request id, (trial, resource, lease)).
RETRYABLE = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
)
# gRPC's default reconnect backoff grows to 120 s, so after a server outage a client
# could come back later than its leases last and lose trials through no fault of its
# own. A restarted server is found again within about a second instead.
RECONNECT_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)
TRANSFER_TIMEOUT = 3600.0  # seconds for one checkpoint upload or download
FIRST_RETRY_DELAY, MAX_RETRY_DELAY = 0.05, 2.0  # seconds between attempts of a call
DECISIONS = {v: k for k, v in wire.DECISIONS.items()}


class TrialLost(Exception):
    """The trial's lease is gone (expired or taken over); stop training it."""


class Client:
    """A connection to a rung server.

    `retry_seconds` bounds how long a call keeps retrying while the server is
    unreachable (for example while it restarts). `address` may list several
    servers sharing one database ("host1:50051,host2:50051"): calls go to one,
    and move on to the next whenever it is unavailable or a standby, so the
    client follows whichever is active. `token` (default: $RUNG_TOKEN)
    is sent with every call; `ca_file` (default: $RUNG_CA_FILE) turns on TLS and
    is the CA certificate the server's certificate must be signed by.
    """

    def __init__(
        self,
        address: str,
        retry_seconds: float = 120.0,
        call_timeout: float = 30.0,
        channel: grpc.Channel | None = None,
        *,
        token: str | None = None,
        ca_file: str | None = None,
        wait_for_ready: bool | None = None,
    ):
        self.address = address
        self.retry_seconds = retry_seconds
        self.call_timeout = call_timeout
        token = resolve_token(None) if token is None else check_token(token, "the token argument")
        addresses = [a.strip() for a in address.split(",") if a.strip()] or [address]
        self._channels = [channel] if channel is not None else [
            open_channel(a, token, resolve_ca_file(ca_file), options=RECONNECT_OPTIONS)
            for a in addresses
        ]
        self._stubs = [rung_pb2_grpc.RungStub(c) for c in self._channels]
        self._current = 0
        self._switch_lock = threading.Lock()
        # One server: a call waits for it to come back (a worker riding out a restart).
        # Several: a call to one that is down fails at once, so the retry loop can try the
        # next. `wait_for_ready=False` fails at once with one server too, for a command
        # whose user should hear within seconds that nothing answers there.
        self.wait_for_ready = len(self._stubs) == 1 if wait_for_ready is None else wait_for_ready

    @property
    def _stub(self) -> rung_pb2_grpc.RungStub:
        return self._stubs[self._current]

    def _next_server(self, failed: int) -> None:
        """After a failure on server `failed`, the next one (unless another thread moved on)."""
        with self._switch_lock:
            if self._current == failed:
                self._current = (failed + 1) % len(self._stubs)

    def close(self) -> None:
        for channel in self._channels:
            channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, request: Any) -> Any:
        """Calls an RPC, retrying with backoff while the server is unavailable. A request
        that says it is a `first_attempt` says so on its first attempt only."""

        def attempt() -> Any:
            try:
                return getattr(self._stub, method)(
                    request, timeout=self.call_timeout, wait_for_ready=self.wait_for_ready
                )
            finally:
                if getattr(request, "first_attempt", False):
                    request.first_attempt = False

        return self.retrying(method, attempt)

    def retrying(self, method: str, attempt: Callable[[], T]) -> T:
        """Runs `attempt` (one whole RPC, streams included) until the server answers.

        The delay between attempts doubles once per round over the servers, not per
        attempt: with two, one dead and one taking over, doubling per attempt left the
        one taking over asked only at 0.05, 0.35 and 1.55 s, so a failover that took
        0.4 s was seen after 1.6 s."""
        give_up = time.monotonic() + self.retry_seconds
        failures = 0
        while True:
            server = self._current
            try:
                return attempt()
            except grpc.RpcError as exc:
                rounds = min(failures // len(self._stubs), 16)
                delay = min(MAX_RETRY_DELAY, FIRST_RETRY_DELAY * 2**rounds)
                if exc.code() not in RETRYABLE or time.monotonic() + delay > give_up:
                    raise
                failures += 1
                if len(self._stubs) > 1:
                    self._next_server(server)
                log.info("%s: server unavailable, retrying in %.2fs", method, delay)
                time.sleep(delay)

    # ------------------------------------------------------------------ studies

    def create_study(
        self,
        name: str,
        space: Mapping[str, Any],
        *,
        metric: str = "error",
        mode: str = "min",
        scheduler: str = "asha",
        r_min: int = 1,
        r_max: int = 9,
        eta: int = 3,
        brackets: int = 0,
        searcher: str = "random",
        initial_configs: Sequence[Mapping[str, Any]] = (),
        max_trials: int = 0,
        max_resource: int = 0,
        max_wall_seconds: float = 0.0,
        seed: int = 0,
        objectives: Mapping[str, str] | None = None,
        constraints: Sequence[str | Constraint] = (),
        conditions: Mapping[str, Any] | None = None,
        reference_point: Sequence[float] = (),
    ) -> "Study":
        """Creates a study, or opens it if one with the same definition exists.

        `space` values may be rung domains, scipy.stats distributions
        (`stats.loguniform(1e-3, 1)`, `stats.randint(16, 256)`) or lists of choices.
        Several objectives: `objectives={"error": "min", "latency_ms": "min"}` (instead of
        `metric`/`mode`); constraints: `["memory_mb <= 4000"]`; conditional parameters:
        `conditions={"momentum": {"parent": "optimizer", "equals": "sgd"}}`.
        """
        spec = StudySpec(
            name=name,
            space=SearchSpace(space, conditions),
            objectives=tuple(Objective(n, Mode(m)) for n, m in (objectives or {}).items()),
            constraints=tuple(
                c if isinstance(c, Constraint) else Constraint.parse(c) for c in constraints
            ),
            reference_point=tuple(reference_point),
            metric=metric,
            mode=Mode(mode),
            scheduler=SchedulerSettings(scheduler, r_min, r_max, eta, brackets),
            searcher=searcher,
            initial_configs=tuple(initial_configs),
            budget=Budget(max_trials, max_resource, max_wall_seconds),
            seed=seed,
        )
        self.call("CreateStudy", pb.CreateStudyRequest(spec=wire.spec_to_pb(spec)))
        return Study(self, name)

    def study(self, name: str) -> "Study":
        """Opens an existing study (NOT_FOUND if there is none)."""
        self.get_study(name)
        return Study(self, name)

    def get_study(self, name: str) -> pb.Study:
        return self.call("GetStudy", pb.GetStudyRequest(study=name))

    def list_studies(self) -> list[pb.Study]:
        return list(self.call("ListStudies", pb.ListStudiesRequest()).studies)

    def list_trials(
        self,
        name: str,
        *,
        statuses: Sequence[int] = (),
        changed_since: int = 0,
        page_size: int = 0,
    ) -> list[pb.Trial]:
        """Every trial of the study (page by page, so any size fits), optionally only those
        in `statuses` (pb.RUNNING, ...) or changed after journal position `changed_since`."""
        return [t for page in self.trial_pages(name, statuses=statuses,
                                               changed_since=changed_since, page_size=page_size)
                for t in page.trials]

    def trial_pages(
        self,
        name: str,
        *,
        statuses: Sequence[int] = (),
        changed_since: int = 0,
        page_size: int = 0,
    ) -> Iterator[pb.ListTrialsResponse]:
        """ListTrials pages in trial order; each page's `seq` is the journal position it shows."""
        token = ""
        while True:
            page = self.call("ListTrials", pb.ListTrialsRequest(
                study=name, page_size=page_size, page_token=token, statuses=statuses,
                changed_since=changed_since,
            ))
            yield page
            token = page.next_page_token
            if not token:
                return

    def watch(self, name: str, after_seq: int = 0) -> Iterator[pb.StudyEvent]:
        """The study's journal events after `after_seq`, then each new one as it happens.

        Rides out server restarts (it reconnects and continues after the last
        event it got); ends when the study is deleted.
        """
        give_up = time.monotonic() + self.retry_seconds
        while True:
            request = pb.WatchStudyRequest(study=name, after_seq=after_seq)
            server = self._current
            try:
                for event in self._stub.WatchStudy(request, wait_for_ready=self.wait_for_ready):
                    after_seq, give_up = event.seq, time.monotonic() + self.retry_seconds
                    yield event
                return
            except grpc.RpcError as exc:
                if exc.code() not in RETRYABLE or time.monotonic() > give_up:
                    raise
                self._next_server(server)
                time.sleep(0.2)

    def stop_study(self, name: str) -> pb.Study:
        return self.call("StopStudy", pb.StopStudyRequest(study=name))

    def delete_study(self, name: str) -> None:
        """Deletes the study and all its results on the server (no undo)."""
        self.call("DeleteStudy", pb.DeleteStudyRequest(study=name))


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Study:
    def __init__(self, client: Client, name: str):
        self.client = client
        self.name = name

    def info(self) -> StudyInfo:
        """The study's progress and results (incumbent, Pareto front, hypervolume) as Python values."""
        return StudyInfo.from_pb(self.client.get_study(self.name))

    def list_trials(self) -> list[pb.Trial]:
        return self.client.list_trials(self.name)

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
