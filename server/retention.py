"""Which stored checkpoints may be deleted, and a background sweeper that deletes them.

The rule (`unreachable`) keeps every blob that some future job could load:

- the trial's recorded checkpoint (the one its next segment would load) while
  the trial is running or paused, since a paused trial may still be promoted
  and a running one may lose its lease and be resumed;
- uploads of a running or paused trial above its recorded resource: a worker
  uploads before it reports, so the report that will record them may be in flight;
- the incumbent's recorded checkpoint, forever (what `rung export-checkpoint` exports).

Everything else can never be loaded again: blobs of completed, stopped or
failed trials other than the incumbent, and blobs of a trial at or below its
recorded resource that are not the recorded one (superseded by a later
milestone, or uploaded by a worker that lost its lease). Once unreachable, a
blob stays unreachable (recorded resources only grow, an ended trial never
runs again, and an ended trial never becomes the incumbent), so a sweep may
act on a snapshot that is slightly stale.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Iterable, Mapping, Protocol

from rung.core.errors import NotFound

from .blobs import BlobKey, BlobStore

log = logging.getLogger("rung.server.retention")


@dataclass(frozen=True)
class TrialCheckpoints:
    """What retention needs to know about one trial."""

    resumable: bool  # running or paused: it may still train again
    incumbent: bool
    checkpoint: str  # reference its next segment would load; "" when none
    checkpoint_resource: int  # resource of that reference


def unreachable(
    stored: Iterable[BlobKey], trials: Mapping[int, TrialCheckpoints]
) -> list[BlobKey]:
    """The stored blobs no future job can load (see the module docstring)."""
    drop = []
    for key in stored:
        trial = trials.get(key.trial_id)
        if trial is None:
            continue  # not a trial the service knows: never guess
        if key.ref == trial.checkpoint:
            keep = trial.resumable or trial.incumbent
        else:
            keep = trial.resumable and key.resource > trial.checkpoint_resource
        if not keep:
            drop.append(key)
    return drop


class CheckpointStates(Protocol):
    def checkpoint_states(self, study: str) -> dict[int, TrialCheckpoints]: ...


def sweep(service: CheckpointStates, blobs: BlobStore) -> int:
    """Deletes the unreachable blobs of every study; returns how many."""
    removed = 0
    for study in blobs.studies():
        stored = blobs.stored(study)  # listed before the snapshot: later uploads are not touched
        try:
            states = service.checkpoint_states(study)
        except NotFound:
            continue  # a deleted study's blobs stay until an operator removes them
        drop = unreachable(stored, states)
        blobs.delete(drop)
        removed += len(drop)
    if removed:
        log.info("deleted %d unreachable checkpoints", removed)
    return removed


class Sweeper:
    """Runs `sweep` every `interval` seconds on a daemon thread until stopped."""

    def __init__(self, service: CheckpointStates, blobs: BlobStore, interval: float):
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(service, blobs, interval), name="rung-retention", daemon=True
        )

    def start(self) -> "Sweeper":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self, service: CheckpointStates, blobs: BlobStore, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                sweep(service, blobs)
            except Exception:
                log.exception("checkpoint retention sweep failed; retrying later")
