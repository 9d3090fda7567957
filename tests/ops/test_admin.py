"""Study administration from the command line: studies, stop, delete, export, status."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rung.client import Client
from rung.v1 import rung_pb2 as pb
from support import ServerProcess

from rung.cli import main

pytestmark = pytest.mark.usefixtures("restore_root_logger")  # main() configures logging


def run_jobs(client: Client, study: str, jobs: int) -> pb.Job:
    """Trains `jobs` jobs to their milestones (value 1/(x*r)); returns one more, left running."""
    for i in range(jobs + 1):
        job = client.study(study).suggest(f"worker-{i % 2}")
        assert job.kind in (pb.START, pb.RESUME)
        if i == jobs:
            return job
        x = job.config.values["x"].int_value
        for r in range(job.resume_from + 1, job.milestone + 1):
            client.call(
                "Report",
                pb.ReportRequest(
                    study=study,
                    trial_id=job.trial_id,
                    lease_id=job.lease_id,
                    resource=r,
                    value=1.0 / (x * r),
                ),
            )
    raise AssertionError("unreachable")


@pytest.fixture
def populated(server: ServerProcess) -> Iterator[tuple[ServerProcess, pb.Job]]:
    with Client(server.address, retry_seconds=10) as client:
        client.create_study(
            "alpha", {"x": [1, 2, 3, 4]}, r_min=1, r_max=9, eta=3, max_trials=20, seed=1
        )
        client.create_study("beta", {"x": [1, 2]}, max_trials=2)
        running = run_jobs(client, "alpha", 4)
    yield server, running


def rung(server: ServerProcess, *args: str) -> int:
    return main([args[0], "--server", server.address, *args[1:]])


def test_studies_lists_every_study(
    populated: tuple[ServerProcess, pb.Job], capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = populated
    assert rung(server, "studies") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["alpha", "beta"]
    assert "running" in lines[0] and "best error=" in lines[0]


def test_status_shows_the_running_job_and_its_lease(
    populated: tuple[ServerProcess, pb.Job], capsys: pytest.CaptureFixture[str]
) -> None:
    server, job = populated
    assert rung(server, "status", "--study", "alpha") == 0
    out = capsys.readouterr().out
    running = [line for line in out.splitlines() if "running: trial" in line]
    assert len(running) == 1
    assert f"trial {job.trial_id} " in running[0] and "on worker-0" in running[0]
    assert "lease expires in" in running[0]
    assert "incumbent: trial" in out


def test_stop(populated: tuple[ServerProcess, pb.Job]) -> None:
    server, _ = populated
    assert rung(server, "stop", "alpha") == 0
    with Client(server.address) as client:
        assert client.get_study("alpha").state == pb.STUDY_STOPPED
        assert client.get_study("beta").state == pb.STUDY_RUNNING


def test_delete_needs_confirmation_and_survives_a_restart(
    populated: tuple[ServerProcess, pb.Job], capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = populated
    assert rung(server, "delete", "alpha") == 2  # stdin is not a terminal: no prompt, no delete
    assert "--yes" in capsys.readouterr().err
    assert rung(server, "delete", "alpha", "--yes") == 0
    assert rung(server, "delete", "alpha", "--yes") == 1
    assert "NOT_FOUND" in capsys.readouterr().err
    server.restart()  # SIGKILL: the deletion was durable when acknowledged
    with Client(server.address) as client:
        assert [s.spec.name for s in client.list_studies()] == ["beta"]
        client.create_study("alpha", {"y": [5, 6]}, max_trials=1)  # the name is free again
        assert client.list_trials("alpha") == []


def test_export_csv(
    populated: tuple[ServerProcess, pb.Job], capsys: pytest.CaptureFixture[str]
) -> None:
    server, job = populated
    assert rung(server, "export", "alpha", "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    with Client(server.address) as client:
        trials = {t.id: t for t in client.list_trials("alpha")}
    assert sorted(int(r["trial_id"]) for r in rows) == sorted(trials)
    assert {
        "config.x",
        "status",
        "bracket",
        "best_value",
        "last_resource",
        "value@1",
        "value@3",
    } <= set(rows[0])
    for row in rows:
        trial = trials[int(row["trial_id"])]
        values = {o.resource: o.value for o in trial.observations}
        assert row["status"] == pb.TrialStatus.Name(trial.status).lower()
        assert int(row["config.x"]) == trial.config.values["x"].int_value
        if values:
            assert float(row["best_value"]) == min(values.values())  # mode min
            assert int(row["last_resource"]) == max(values)
            assert float(row["value@1"]) == values[1]
        else:
            assert int(row["trial_id"]) == job.trial_id and row["best_value"] == ""
    assert any(row["value@3"] for row in rows)  # a promoted trial reached the second rung


def test_export_json_to_a_file(populated: tuple[ServerProcess, pb.Job], tmp_path: Path) -> None:
    server, _ = populated
    out = tmp_path / "alpha.json"
    assert rung(server, "export", "alpha", "-o", str(out)) == 0  # format from the suffix
    data = json.loads(out.read_text())
    assert (data["study"], data["metric"], data["mode"]) == ("alpha", "error", "min")
    with Client(server.address) as client:
        trials = client.list_trials("alpha")
    assert [t["trial_id"] for t in data["trials"]] == sorted(t.id for t in trials)
    curves = {t.id: [(o.resource, o.value) for o in t.observations] for t in trials}
    for t in data["trials"]:
        assert [(o["resource"], o["value"]) for o in t["observations"]] == sorted(
            curves[t["trial_id"]]
        )


def test_a_command_with_no_server_at_its_address_says_so_instead_of_a_deadline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """It used to wait out the 30 s call deadline and print `DEADLINE_EXCEEDED: Deadline
    Exceeded`; now it retries for 10 s, as for a restart, and names what did not answer."""
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sock.getsockname()[1]}"
    assert main(["studies", "--server", address]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("rung studies: UNAVAILABLE: ")
    assert err.endswith(f"(is `rung serve` running at {address}? --server says where)")
