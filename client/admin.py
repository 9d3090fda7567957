"""The study calls that answer with the server's own messages: get, list, page, watch, stop,
delete, and the steering of a running study (budget, retries of failed trials, imports)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Iterator, Sequence

import grpc

from rung.v1 import rung_pb2 as pb

from .connection import RETRYABLE, Connection


class StudyAdmin(Connection):
    """What a command or a dashboard asks about studies by name (Client adds the Study objects)."""

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

    # ------------------------------------------------------------------ steering
    # Each call carries a request id (a fresh one unless given): the connection's retries
    # resend it, and the server applies the change once.

    def set_budget(
        self,
        name: str,
        *,
        max_trials: int | None = None,
        max_resource: int | None = None,
        max_wall_seconds: float | None = None,
        request_id: str | None = None,
    ) -> pb.Study:
        """Changes the limits given (0: unlimited), keeps the others; a finished study given
        more becomes active again. Below what is spent: FAILED_PRECONDITION."""
        limits = {"max_trials": max_trials, "max_resource": max_resource,
                  "max_wall_seconds": max_wall_seconds}
        return self.call("SetBudget", pb.SetBudgetRequest(
            study=name, request_id=request_id or uuid.uuid4().hex,
            **{k: v for k, v in limits.items() if v is not None},
        ))

    def retry_trials(
        self, name: str, trial_ids: Sequence[int] = (), request_id: str | None = None
    ) -> list[int]:
        """Runs failed trials again (none given: every failed one) from their last
        checkpoint; returns the trials put back in the queue."""
        return list(self.call("RetryTrials", pb.RetryTrialsRequest(
            study=name, trial_ids=list(trial_ids), request_id=request_id or uuid.uuid4().hex,
        )).trial_ids)

    def import_trials(
        self, name: str, trials: Sequence[pb.ImportedTrial], request_id: str | None = None
    ) -> pb.ImportTrialsResponse:
        """Adds results measured elsewhere as trials the searcher and scheduler learn from."""
        return self.call("ImportTrials", pb.ImportTrialsRequest(
            study=name, trials=list(trials), request_id=request_id or uuid.uuid4().hex,
        ))

    def import_file(
        self, name: str, path: str | Path, request_id: str | None = None
    ) -> tuple[pb.ImportTrialsResponse, int]:
        """Imports a CSV or JSON file (rung.warm_start describes them; `rung export` writes
        both); returns the answer and how many of the file's trials held no result."""
        from rung import wire
        from rung.warm_start import read_results, to_pb

        spec = wire.spec_from_pb(self.get_study(name).spec)
        rows, empty = read_results(path, spec.space, spec.metric)
        return self.import_trials(name, to_pb(rows), request_id), empty
