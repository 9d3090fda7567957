"""The study calls that answer with the server's own messages: get, list, page, watch, stop, delete."""

from __future__ import annotations

import time
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
