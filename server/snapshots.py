"""When the service saves snapshots: every `every` events of a study, or once replaying the
events since the last snapshot would cost `replay_seconds` of decisions; checked in the background.
A save holds the study's lock for a time that grows with its trials, so saves are also spaced
out to keep each study busy saving at most `busy_fraction` of the time.

A snapshot lets a restart skip the events before it (service._replay), so
restart time stays bounded however long a study runs. Saving happens on a
background thread rather than inside an RPC: a call never pays for more than
waiting on the study's lock while one snapshot is written.
"""

from __future__ import annotations

import logging
import threading

from rung.core.errors import NotFound

from .service import StudyService

log = logging.getLogger("rung.server")

DEFAULT_EVERY = 1000  # events per study between snapshots
# ... or sooner, once replaying the events since the last one would cost this much of the
# core's time (a study with a model-based searcher spends milliseconds per decision).
DEFAULT_REPLAY_SECONDS = 1.0
# At most this fraction of a study's time goes to saving its snapshots (calls wait meanwhile).
DEFAULT_BUSY_FRACTION = 0.1
CHECK_SECONDS = 1.0


class Snapshotter:
    def __init__(
        self,
        service: StudyService,
        every: int = DEFAULT_EVERY,
        check_seconds: float = CHECK_SECONDS,
        replay_seconds: float = DEFAULT_REPLAY_SECONDS,
        busy_fraction: float | None = DEFAULT_BUSY_FRACTION,
    ):
        if every < 1:
            raise ValueError("snapshots need every >= 1 events")
        self.service, self.every, self.check_seconds = service, every, check_seconds
        self.replay_seconds = replay_seconds
        self.busy_fraction = busy_fraction
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rung-snapshots", daemon=True)

    def start(self) -> "Snapshotter":
        self._thread.start()
        return self

    def save_due(self, final: bool = False) -> int:
        """Snapshots every study that is due; `final`: every study with any new event."""
        saved = 0
        for name in self.service.study_names():
            try:
                saved += self.service.save_snapshot(
                    name,
                    1 if final else self.every,
                    self.replay_seconds,
                    None if final else self.busy_fraction,
                )
            except NotFound:  # deleted meanwhile
                continue
        return saved

    def stop(self) -> None:
        """Stops the thread and saves a last snapshot of every study that changed."""
        self._stop.set()
        self._thread.join()
        try:
            self.save_due(final=True)
        except Exception:  # e.g. fenced off: another server is active and snapshots itself
            log.exception("the last snapshot failed; the journal alone still holds everything")

    def _run(self) -> None:
        while not self._stop.wait(self.check_seconds):
            try:
                self.save_due()
            except Exception:  # a failed snapshot costs only replay time; keep serving
                log.exception("saving a snapshot failed; the journal alone still holds everything")
