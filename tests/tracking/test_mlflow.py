"""The MLflow mirror against a real `mlflow server` (SQLite store): a study run through a
SIGKILL of `rung serve`, then checked run by run and step by step against ListTrials; a
study run while MLflow cannot be reached, which the workers never notice and the mirror
catches up on once it can; a write repeated after a lost answer, which adds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")

from mlflow import MlflowClient
from rung.client import Client
from rung.server.tracking.mlflow_writer import MlflowWriter
from rung.server.tracking.model import Batch, Incumbent, Point, StudyInfo, TrialChange
from rung.v1 import rung_pb2 as pb
from support import ServerProcess
from tracking_support import (
    STATUS,
    MlflowServer,
    Relay,
    Workers,
    create_study,
    expected_curve,
    metrics_lines,
    mlflow_cli,
    run_study_through_a_kill,
    sample,
    wait_for,
)

from rung import wire


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    if mlflow_cli() is None:
        pytest.skip("the mlflow CLI is not installed (pip install mlflow)")
    server = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    yield server
    server.stop()


def children(client: MlflowClient, study: str) -> tuple[Any, dict[int, list[Any]]]:
    """The study's parent run and its child runs by trial id (a list, to see duplicates)."""
    experiment = client.get_experiment_by_name(study)
    assert experiment is not None, "no experiment yet"
    ids = [experiment.experiment_id]
    parents = client.search_runs(ids, "tags.`rung.role` = 'study'")
    assert len(parents) == 1, f"{len(parents)} parent runs"
    runs: dict[int, list[Any]] = {}
    token = None
    while True:
        page = client.search_runs(
            ids, f"tags.`mlflow.parentRunId` = '{parents[0].info.run_id}'", max_results=1000,
            page_token=token,
        )
        for run in page:
            runs.setdefault(int(run.data.tags["rung.trial_id"]), []).append(run)
        token = page.token
        if not token:
            return parents[0], runs


def check_mirror(client: MlflowClient, address: str, study: str) -> None:
    """Every trial has exactly one child run with its config, status and every report once."""
    with Client(address) as rung:
        trials = rung.list_trials(study)
        incumbent = rung.get_study(study).incumbent
    parent, runs = children(client, study)
    assert sorted(runs) == [t.id for t in trials]
    for t in trials:
        (run,) = runs[t.id]
        tags = run.data.tags
        assert run.data.params == {k: str(v) for k, v in wire.config_from_pb(t.config).items()}
        assert tags["rung.status"] == STATUS[t.status], t.id
        assert tags["rung.bracket"] == str(t.bracket)
        assert tags["rung.failures"] == str(len(t.failures))
        history = client.get_metric_history(run.info.run_id, "error")
        got = [(m.step, m.value) for m in sorted(history, key=lambda m: (m.step, m.timestamp))]
        steps = [s for s, _ in got]
        assert len(steps) == len(set(steps)), f"trial {t.id}: repeated steps {steps}"
        assert got == expected_curve(t), f"trial {t.id}"
    assert parent.data.tags["rung.incumbent_trial"] == str(incumbent.trial_id)
    best = [i for i, (run,) in runs.items() if run.data.tags.get("rung.incumbent") == "true"]
    assert best == [incumbent.trial_id]


def test_study_through_a_server_kill(mlflow_server: MlflowServer, tmp_path: Path) -> None:
    client = MlflowClient(mlflow_server.uri)
    server = ServerProcess(tmp_path / "rung.db", ["--mlflow-uri", mlflow_server.uri]).start()
    try:
        def mirrored() -> bool:
            try:
                return bool(children(client, "ml-kill")[1])
            except AssertionError:
                return False

        run_study_through_a_kill(server, "ml-kill", mirrored)
        wait_for(lambda: check_mirror(client, server.address, "ml-kill"), timeout=60, every=1)
        parent, _ = children(client, "ml-kill")
        assert parent.data.tags["rung.state"] == "done"
        assert parent.data.params["scheduler"] == "asha"
    finally:
        server.terminate()


def test_mlflow_down_while_the_study_runs(mlflow_server: MlflowServer, tmp_path: Path) -> None:
    relay = Relay(mlflow_server.port)  # not started: nothing listens on its port yet
    server = ServerProcess(tmp_path / "rung.db", [
        "--mlflow-uri", f"http://127.0.0.1:{relay.port}", "--metrics-port", "0",
    ]).start()
    try:
        create_study(server.address, "ml-down")
        workers = Workers(server.address, "ml-down", epoch_seconds=0.0).start()
        workers.join()  # every Suggest and Report answered, MLflow or not
        with Client(server.address) as rung:
            assert rung.get_study("ml-down").state == pb.STUDY_DONE

        def lagging() -> None:
            page = metrics_lines(server)
            assert sample(page, "rung_tracking_up", mirror="mlflow") == 0
            assert (sample(page, "rung_tracking_lag_events", mirror="mlflow", study="ml-down")
                    or 0) > 0
            assert (sample(page, "rung_tracking_failed_pushes_total", mirror="mlflow") or 0) > 0

        wait_for(lagging, timeout=30)
        relay.start()
        client = MlflowClient(mlflow_server.uri)
        wait_for(lambda: check_mirror(client, server.address, "ml-down"), timeout=60, every=1)

        def caught_up() -> None:
            page = metrics_lines(server)
            assert sample(page, "rung_tracking_up", mirror="mlflow") == 1
            assert sample(page, "rung_tracking_lag_events", mirror="mlflow", study="ml-down") == 0

        wait_for(caught_up, timeout=30)
        assert "mlflow mirror cannot write" in server.log.read_text()
        assert "mlflow mirror writing again" in server.log.read_text()
    finally:
        server.terminate()
        relay.stop()


def test_a_write_repeated_after_a_lost_answer_adds_nothing(mlflow_server: MlflowServer) -> None:
    info = StudyInfo("ml-again", "error", "min", {"scheduler": "asha"})
    batch = Batch("ml-again", 12, {0: TrialChange(
        0, config={"lr": 0.1}, status="running", bracket=0, promotions=0, failures=[],
        points=[Point(r, {"error": 1.0 / r, "acc": r / 10}, 1000.0 + r) for r in (1, 2, 3)],
    )}, incumbent=Incumbent(0, 3, 1 / 3), state="running")
    writer = MlflowWriter(mlflow_server.uri)
    assert writer.open(info) == 0
    writer.write(batch)
    # As after a failure: forget everything, open again (the position is there), write again.
    writer.reset("ml-again")
    assert writer.open(info) == 12
    batch.trials[0].points.append(Point(4, {"error": 0.25, "acc": 0.4}, 1004.0))
    writer.write(batch)
    client = MlflowClient(mlflow_server.uri)
    _, runs = children(client, "ml-again")
    (run,) = runs[0]
    for key, f in (("error", lambda r: 1.0 / r), ("acc", lambda r: r / 10)):
        history = client.get_metric_history(run.info.run_id, key)
        assert sorted((m.step, m.value) for m in history) == [(r, f(r)) for r in (1, 2, 3, 4)]
