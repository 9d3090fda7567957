"""The TensorBoard mirror: a study run through a SIGKILL of `rung serve`, read back with
TensorBoard's own EventAccumulator and checked trial by trial against ListTrials; then
`rung export --format tensorboard` of the finished study gives the same runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorboard")

from rung.client import Client
from rung.server.tracking.model import (
    Batch,
    Point,
    StudyInfo,
    TrialChange,
)
from rung.server.tracking.tensorboard_writer import (
    POSITION_FILE,
    SUFFIX,
    TensorBoardWriter,
    scalars,
)
from rung.v1 import rung_pb2 as pb
from support import REPO, ServerProcess, rung_command, subprocess_env
from tracking_support import STATUS, expected_curve, run_study_through_a_kill, wait_for

from rung import wire


def hparams(run_dir: Path) -> tuple[dict[str, object], int | None]:
    """The run's HParams session: its hyperparameters and its end status (None: no end)."""
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    content = acc.PluginTagToContent(metadata.PLUGIN_NAME)
    start = metadata.parse_session_start_info_plugin_data(
        content[metadata.SESSION_START_INFO_TAG])
    values = {}
    for name, v in start.hparams.items():
        kind = v.WhichOneof("kind")
        values[name] = getattr(v, kind)
    end = content.get(metadata.SESSION_END_INFO_TAG)
    return values, None if end is None else metadata.parse_session_end_info_plugin_data(end).status


def check_runs(logdir: Path, study: str, trials: list) -> None:
    from tensorboard.plugins.hparams import api_pb2

    for t in trials:
        run = logdir / study / f"trial-{t.id}"
        got = scalars(run).get("error", [])
        steps = [s for s, _ in got]
        assert steps == sorted(set(steps)), f"trial {t.id}: repeated or unordered steps {steps}"
        want = [(r, float(np.float32(v))) for r, v in expected_curve(t)]
        assert got == want, f"trial {t.id}: {got} != {want}"
        config, end = hparams(run)
        expected = {k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                    for k, v in wire.config_from_pb(t.config).items()}
        assert config == expected
        status = STATUS[t.status]
        if status in ("completed", "stopped"):
            assert end == api_pb2.STATUS_SUCCESS, (t.id, status, end)
        elif status == "failed":
            assert end == api_pb2.STATUS_FAILURE
        else:
            assert end is None, (t.id, status, end)


def test_live_mirror_through_a_server_kill_then_export(tmp_path: Path) -> None:
    logdir = tmp_path / "tb"
    server = ServerProcess(tmp_path / "rung.db", ["--tensorboard-dir", str(logdir)]).start()
    try:
        position = logdir / "tb-study" / POSITION_FILE
        run_study_through_a_kill(server, "tb-study", position.exists)
        with Client(server.address) as client:
            trials = client.list_trials("tb-study")
            assert client.get_study("tb-study").state == pb.STUDY_DONE
        assert len(trials) == 24
        wait_for(lambda: check_runs(logdir, "tb-study", trials), timeout=30)
        # The killed server's files and the restarted one's: several per run at most, none torn.
        assert any(len(list(p.glob(f"*{SUFFIX}"))) > 1 for p in (logdir / "tb-study").iterdir())

        out = tmp_path / "export"
        done = subprocess.run(
            rung_command("export", "tb-study", "--server", server.address,
                         "--format", "tensorboard", "--out", str(out)),
            check=False, cwd=REPO, env=subprocess_env(), capture_output=True, text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        check_runs(out, "tb-study", trials)
        for t in trials:
            name = f"trial-{t.id}"
            assert scalars(out / "tb-study" / name) == scalars(logdir / "tb-study" / name)
    finally:
        server.terminate()


def test_writing_again_after_a_restart_adds_nothing_and_drops_a_torn_record(tmp_path: Path) -> None:
    info = StudyInfo("s", "error", "min")

    def batch(seq: int, resources: range) -> Batch:
        return Batch("s", seq, {0: TrialChange(
            0, config={"lr": 0.1, "opt": "sgd"}, status="running",
            points=[Point(r, {"error": 1.0 / r}, 1000.0 + r) for r in resources],
        )})

    writer = TensorBoardWriter(tmp_path)
    assert writer.open(info) == 0
    writer.write(batch(10, range(1, 4)))
    writer.close()
    run = tmp_path / "s" / "trial-0"
    (first,) = run.glob(f"*{SUFFIX}")
    with open(first, "ab") as f:  # a write cut short by a kill
        f.write(b"\x10\x00\x00")
    # User code's own scalars in the same run are left alone.
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    user = EventFileWriter(str(run))
    user.add_event(event_pb2.Event(step=2, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag="user/lr", simple_value=0.5)])))
    user.close()

    again = TensorBoardWriter(tmp_path)
    assert again.open(info) == 10
    again.write(batch(12, range(1, 6)))  # a replay from an older position, and two more
    again.close()
    got = scalars(run)
    assert got["error"] == [(r, float(np.float32(1.0 / r))) for r in range(1, 6)]
    assert got["user/lr"] == [(2, 0.5)]
    assert hparams(run) == ({"lr": 0.1, "opt": "sgd"}, None)
