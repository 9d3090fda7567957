"""TensorBoard runs of a study: `<logdir>/<study>/trial-<id>`, one per trial.

Each report is one event at step = its resource, a scalar per metric (a
promoted trial continues its run: its resources go on from its last rung).
The trial's configuration is the run's HParams session start, its end
(completed, stopped, failed) the session end, so TensorBoard's HParams table
and parallel-coordinates view show configuration against final result (the
last value at the highest resource) without an experiment file (TensorBoard
builds one from the runs, and several studies can share a logdir).

What was written is read back from the run's own files, never assumed: rung
writes only files ending in `.rung` (user code may log its own scalars into the
same folder), each process a new one, and a run opened after a restart is
scanned for its last step and whether its session started or ended, so nothing
is written twice and a cut-off last record is dropped first. The study's
position (`.rung-mirror.json`) only says where in the journal to start again.

Used live by the mirror (`rung serve --tensorboard-dir`) and from outside by
`rung export --format tensorboard` (`export_study`), the same way.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from .model import TERMINAL, Batch, StudyInfo, TrialChange, change_from_pb

SUFFIX = ".rung"
POSITION_FILE = ".rung-mirror.json"
MAX_OPEN_FILES = 128
_HEADER = struct.Struct("<QI")


class TensorBoardWriter:
    """Writes batches as event files (tensorboard's protos; no TensorFlow needed)."""

    kind = "tensorboard"
    interval = 0.5
    batch_events = 5000
    wants_view = False

    def __init__(self, logdir: str | Path):
        # Imported here: tensorboard is an extra (rung[tensorboard]).
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
        from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

        self._pb = event_pb2, summary_pb2, api_pb2, metadata, plugin_data_pb2
        self._crc = masked_crc32c
        self.logdir = Path(logdir)
        self._runs: dict[tuple[str, int], _Run] = {}
        self._files: OrderedDict[tuple[str, int], BinaryIO] = OrderedDict()  # open, LRU first
        self._positions: dict[str, int] = {}
        self._counter = 0

    # ------------------------------------------------------------------ Writer

    def warm_up(self) -> None:
        pass

    def open(self, info: StudyInfo) -> int:
        self.reset(info.name)
        try:
            seq = int(json.loads((self.logdir / info.name / POSITION_FILE).read_text())["seq"])
        except (OSError, ValueError, KeyError, TypeError):
            seq = 0
        self._positions[info.name] = seq
        return seq

    def write(self, batch: Batch) -> None:
        touched = []
        for change in batch.trials.values():
            if self._write_trial(batch.study, change):
                touched.append((batch.study, change.trial_id))
        for key in touched:
            f = self._files.get(key)
            if f is not None:
                f.flush()
                run = self._runs[key]
                if run.ended:  # nothing more comes: free the handle
                    self._close(key)
        if batch.seq > self._positions.get(batch.study, 0):
            folder = self.logdir / batch.study
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f"{POSITION_FILE}.tmp"
            tmp.write_text(json.dumps({"seq": batch.seq}))
            os.replace(tmp, folder / POSITION_FILE)
            self._positions[batch.study] = batch.seq

    def reset(self, study: str) -> None:
        for key in [k for k in self._runs if k[0] == study]:
            self._close(key)
            del self._runs[key]
        self._positions.pop(study, None)

    def close(self) -> None:
        for key in list(self._files):
            self._close(key)

    # ------------------------------------------------------------------ runs

    def run_dir(self, study: str, trial_id: int) -> Path:
        return self.logdir / study / f"trial-{trial_id}"

    def _write_trial(self, study: str, change: TrialChange) -> bool:
        event_pb2, summary_pb2, api_pb2, metadata, plugin_data_pb2 = self._pb
        key = (study, change.trial_id)
        run = self._runs.get(key)
        if run is None:
            run = self._runs[key] = _Run.scan(self.run_dir(study, change.trial_id), self._crc)
        events = []
        if not run.started and change.config is not None:
            at = change.points[0].at if change.points else time.time()
            start = plugin_data_pb2.SessionStartInfo(start_time_secs=at)
            for name, value in change.config.items():
                _set_value(start.hparams[name], value)
            events.append(self._hparams(plugin_data_pb2.HParamsPluginData(session_start_info=start),
                                        metadata.SESSION_START_INFO_TAG, at, 0))
            run.started = True
        for point in change.points:
            if point.resource <= run.last_step:
                continue
            summary = summary_pb2.Summary(value=[
                summary_pb2.Summary.Value(tag=name, simple_value=value)
                for name, value in point.metrics.items()
            ])
            events.append(event_pb2.Event(wall_time=point.at, step=point.resource, summary=summary))
            run.last_step = point.resource
        if run.started and not run.ended and change.status in TERMINAL:
            status = api_pb2.STATUS_FAILURE if change.status == "failed" else api_pb2.STATUS_SUCCESS
            end = plugin_data_pb2.SessionEndInfo(status=status, end_time_secs=time.time())
            events.append(self._hparams(plugin_data_pb2.HParamsPluginData(session_end_info=end),
                                        metadata.SESSION_END_INFO_TAG, time.time(),
                                        max(run.last_step, 0)))
            run.ended = True
        if not events:
            return False
        f = self._file(key, run)
        for event in events:
            self._record(f, event.SerializeToString())
        return True

    def _hparams(self, data: Any, tag: str, at: float, step: int) -> Any:
        event_pb2, summary_pb2, _, metadata, _ = self._pb
        value = summary_pb2.Summary.Value(
            tag=tag, metadata=metadata.create_summary_metadata(data), tensor=metadata.NULL_TENSOR
        )
        return event_pb2.Event(wall_time=at, step=step, summary=summary_pb2.Summary(value=[value]))

    def _file(self, key: tuple[str, int], run: _Run) -> BinaryIO:
        f = self._files.get(key)
        if f is not None:
            self._files.move_to_end(key)
            return f
        while len(self._files) >= MAX_OPEN_FILES:
            self._close(next(iter(self._files)))
        if run.path is None:  # a file of this process's own, never one a crash may have cut
            run.folder.mkdir(parents=True, exist_ok=True)
            self._counter += 1
            run.path = run.folder / (
                f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
                f"{os.getpid()}.{self._counter}{SUFFIX}"
            )
            f = self._files[key] = open(run.path, "ab")  # noqa: SIM115 - kept open across batches
            version = self._pb[0].Event(wall_time=time.time(), file_version="brain.Event:2")
            self._record(f, version.SerializeToString())
        else:
            f = self._files[key] = open(run.path, "ab")  # noqa: SIM115 - kept open across batches
        return f

    def _record(self, f: BinaryIO, data: bytes) -> None:
        """One TFRecord: length, its masked CRC-32C, the data, the data's masked CRC-32C."""
        header = struct.pack("<Q", len(data))
        f.write(header + struct.pack("<I", self._crc(header)) + data +
                struct.pack("<I", self._crc(data)))

    def _close(self, key: tuple[str, int]) -> None:
        f = self._files.pop(key, None)
        if f is not None:
            f.close()


class _Run:
    """What one run's `.rung` files hold: the last step, and whether its session started/ended."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path: Path | None = None  # this process's file, once opened
        self.last_step = -1
        self.started = self.ended = False

    @classmethod
    def scan(cls, folder: Path, crc: Any) -> _Run:
        from tensorboard.compat.proto import event_pb2
        from tensorboard.plugins.hparams import metadata

        run = cls(folder)
        for path in sorted(folder.glob(f"*tfevents*{SUFFIX}")):
            for data in _records(path, crc):
                event = event_pb2.Event.FromString(data)
                for value in event.summary.value:
                    if value.tag == metadata.SESSION_START_INFO_TAG:
                        run.started = True
                    elif value.tag == metadata.SESSION_END_INFO_TAG:
                        run.ended = True
                    elif value.HasField("simple_value"):
                        run.last_step = max(run.last_step, event.step)
        return run


def _records(path: Path, crc: Any) -> Iterator[bytes]:
    """The file's whole records; a cut-off or damaged tail (a killed writer) is cut off the
    file, so TensorBoard's reader does not stop at it."""
    good = 0
    with open(path, "rb") as f:
        body = f.read()
    while good + _HEADER.size <= len(body):
        length, length_crc = _HEADER.unpack_from(body, good)
        end = good + _HEADER.size + length + 4
        if crc(body[good:good + 8]) != length_crc or end > len(body):
            break
        data = body[good + _HEADER.size:end - 4]
        if crc(data) != struct.unpack_from("<I", body, end - 4)[0]:
            break
        yield data
        good = end
    if good < len(body):
        os.truncate(path, good)


def _set_value(target: Any, value: Any) -> None:
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, (int, float)):
        target.number_value = float(value)
    else:
        target.string_value = str(value)


def export_study(client: Any, study: str, logdir: str | Path) -> int:
    """Writes (or completes) a study's runs from ListTrials; returns the number of trials.
    Safe to repeat, and into a live mirror's logdir: only what is missing is written."""
    from rung import wire

    info = StudyInfo.of(wire.spec_from_pb(client.get_study(study).spec))
    writer = TensorBoardWriter(logdir)
    writer.open(info)
    count, first_seq = 0, None
    try:
        for page in client.trial_pages(study):
            first_seq = page.seq if first_seq is None else first_seq
            # The first page's position: every later page holds at least what it covers.
            writer.write(Batch(study, first_seq, {
                t.id: change_from_pb(t, info.metric) for t in page.trials
            }))
            count += len(page.trials)
    finally:
        writer.close()
    return count


def scalars(run_dir: str | Path) -> Mapping[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} of a run as TensorBoard's own EventAccumulator reads it
    (tests, and a quick look from Python)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
