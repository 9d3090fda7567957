"""Helpers of the worker fault tests: real `rung worker` processes on tiny data,
a client that can run inside a network namespace, and killing a worker at a chosen moment.

The study (`STUDY`) is ASHA with levels 1 and 4: four trials train 0 -> 1,
then the best resumes from its checkpoint at 1 and trains 1 -> 4. The fault is
injected in that promoted segment, after the worker reported an epoch past the
checkpoint: `kill_in_promoted_segment` freezes every worker (SIGSTOP) between
short slices of running time and looks at the server's view while they are
frozen, so the kill lands in that window however fast or slow the machine is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from google.protobuf import json_format

from rung.v1 import rung_pb2 as pb
from support import REPO, rung_command, subprocess_env

R_MAX = 4
STUDY: dict[str, Any] = {
    "space": {"learning_rate": [0.1, 0.05, 0.02, 0.01], "batch_size": [32]},
    "r_min": 1,
    "r_max": R_MAX,
    "eta": 4,
    "max_trials": 4,
    "seed": 0,
}
ListTrials = Callable[[], Sequence[pb.Trial]]


def start_worker(
    address: str,
    study: str,
    data_dir: Path,
    worker_id: str,
    checkpoints: str,
    log_file: Path,
    prefix: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """`rung worker` on the CPU with 256 training and 64 validation images.

    `prefix` runs it elsewhere (e.g. `ip netns exec NAME`, which execs, so the
    pid is the worker's own); `extra` are more flags (--token-file, --ca-file).
    """
    command = rung_command(
        "worker", "--server", address, "--study", study, "--worker-id", worker_id,
        "--checkpoints", checkpoints, "--max-epochs", str(R_MAX), "--data-dir", str(data_dir),
        "--n-train", "256", "--n-val", "64", "--device", "cpu", "--threads", "1", *extra,
    )
    with open(log_file, "wb") as log:
        return subprocess.Popen(
            [*prefix, *command], stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
            env=subprocess_env(),
        )


def promoted_segment_past_checkpoint(
    trials: Sequence[pb.Trial], epochs_left: int = 1
) -> tuple[int, str] | None:
    """(trial id, worker id) of a running resumed segment that reported past its start and
    has at least `epochs_left` epochs to go."""
    for t in trials:
        if not t.segments or t.status != pb.RUNNING:
            continue
        seg = t.segments[-1]
        reported = [o.resource for o in t.observations if o.seq > seg.seq]
        if (
            seg.resume_from > 0 and not seg.lost and reported
            and max(reported) <= seg.milestone - epochs_left
        ):
            return t.id, seg.worker_id
    return None


def kill_in_promoted_segment(
    list_trials: ListTrials,
    workers: dict[str, subprocess.Popen[bytes]],
    timeout: float = 180,
    sig: int = signal.SIGKILL,
    epochs_left: int = 1,
) -> tuple[int, str]:
    """Sends `sig` (SIGKILL: waits until it died) to the worker training a promoted
    segment once it reported an epoch past the checkpoint, with at least `epochs_left`
    epochs to go; returns (trial id, its worker id)."""
    deadline = time.monotonic() + timeout
    while True:
        running = [p for p in workers.values() if p.poll() is None]
        _signal_all(running, signal.SIGSTOP)
        found = promoted_segment_past_checkpoint(list_trials(), epochs_left)
        if found is not None:
            workers[found[1]].send_signal(sig)
            if sig == signal.SIGKILL:
                workers[found[1]].wait(timeout=30)
        _signal_all(running, signal.SIGCONT)
        if found is not None:
            return found
        assert running and time.monotonic() < deadline, "no worker reached a promoted segment"
        time.sleep(0.03)


def _signal_all(procs: Sequence[subprocess.Popen[bytes]], sig: int) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, sig)


def wait_exit(proc: subprocess.Popen[bytes], log_file: Path, timeout: float = 180) -> None:
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    assert code == 0, f"worker exited with {code}:\n{log_file.read_text()[-3000:]}"


def stop_all(procs: Sequence[subprocess.Popen[Any]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def assert_resumed_by_another_worker(
    trials: Sequence[pb.Trial], trial_id: int, killed: str
) -> pb.Segment:
    """The killed worker's segment is marked lost, and the next segment of that trial was
    run by another worker from the checkpoint the lost segment started from; returns it."""
    trial = next(t for t in trials if t.id == trial_id)
    assert trial.status == pb.COMPLETED, f"trial {trial_id} is not completed: {trial}"
    lost = [i for i, s in enumerate(trial.segments) if s.lost]
    assert len(lost) == 1, f"expected exactly one lost segment: {trial.segments}"
    before, after = trial.segments[lost[0]], trial.segments[lost[0] + 1]
    assert before.worker_id == killed
    assert after.worker_id != killed and not after.lost
    checkpoint_at = max(s.milestone for s in trial.segments[: lost[0]])  # the last milestone
    assert before.resume_from == after.resume_from == checkpoint_at > 0
    assert after.milestone == before.milestone == R_MAX
    assert trial.observations[-1].resource == R_MAX and trial.observations[-1].seq > after.seq
    assert any("lease expired" in f for f in trial.failures)
    assert trial.checkpoint_resource == R_MAX
    return after


class RemoteClient:
    """A `rung.client.Client` in a child process (e.g. in a network namespace), called
    over JSON lines on its stdin and stdout. Messages come back as protobuf objects."""

    _LOOP = (
        "import json, sys\n"
        "from google.protobuf.json_format import MessageToDict\n"
        "from rung.client import Client\n"
        "client = Client(sys.argv[1], retry_seconds=30)\n"
        "for line in sys.stdin:\n"
        "    method, args, kwargs = json.loads(line)\n"
        "    out = getattr(client, method)(*args, **kwargs)\n"
        "    if isinstance(out, list):\n"
        "        out = [MessageToDict(m) for m in out]\n"
        "    else:\n"
        "        out = MessageToDict(out) if hasattr(out, 'DESCRIPTOR') else None\n"
        "    print(json.dumps(out), flush=True)\n"
    )

    def __init__(self, address: str, prefix: Sequence[str] = (), env: dict[str, str] | None = None):
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-c", self._LOOP, address],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
            env=env or subprocess_env(),
        )

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps([method, args, kwargs]) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"remote client died calling {method} (exit {self.proc.poll()})"
        return json.loads(line)

    def list_trials(self, study: str) -> list[pb.Trial]:
        return [json_format.ParseDict(d, pb.Trial()) for d in self.call("list_trials", study)]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
