"""`rung budget`, `rung retry` and `rung import` against a real `rung serve`, killed with
SIGKILL and restarted on the same SQLite file: the steered state comes back equal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rung.cli import main
from rung.client import Client
from rung.core.space import Float, SearchSpace
from rung.v1 import rung_pb2 as pb
from support import ServerProcess


def value(config: dict[str, Any], resource: int) -> float:
    return round((float(config["x"]) - 0.3) ** 2 + 1.0 / resource, 12)


def drive(client: Client, name: str, fail: frozenset[int] = frozenset()) -> None:
    """Trains every job the study hands out; the trials in `fail` fail at their first job."""
    for trial in client.study(name).trials(worker_id="w", max_wait=0.05):
        if trial.trial_id in fail and trial.resume_from == 0:
            trial.fail("diverged")
            fail = fail - {trial.trial_id}
            continue
        for r in trial.epochs():
            trial.report(r, value(trial.config, r))


def state(client: Client, name: str) -> tuple[Any, ...]:
    study = client.get_study(name)
    study.ClearField("created_at")
    return study.SerializeToString(deterministic=True), [
        t.SerializeToString(deterministic=True) for t in client.list_trials(name)
    ]


def rung(capsys: pytest.CaptureFixture[str], address: str, *args: str) -> tuple[int, str, str]:
    rc = main([*args[:1], *args[1:], "--server", address])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def server(tmp_path: Path) -> Any:
    proc = ServerProcess(tmp_path / "rung.db").start()
    yield proc
    proc.terminate()


def create(client: Client, name: str, max_trials: int, searcher: str = "random") -> None:
    client.create_study(name, space={"x": Float(0.0, 1.0)},
                        r_min=1, r_max=9, eta=3, max_trials=max_trials, searcher=searcher, seed=5)


def test_steering_from_the_command_line_survives_a_sigkill(
    server: ServerProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    restore_root_logger: None,
) -> None:
    with Client(server.address) as client:
        create(client, "src", max_trials=4)
        drive(client, "src", fail=frozenset({1}))
        assert client.get_study("src").state == pb.STUDY_DONE
        before = state(client, "src")

        rc, out, _ = rung(capsys, server.address, "budget", "src", "--max-trials", "6")
        assert rc == 0 and "max_trials 6" in out and "running" in out
        rc, out, _ = rung(capsys, server.address, "retry", "src")
        assert rc == 0 and "trials 1 run again" in out
        assert state(client, "src") != before

        export = tmp_path / "src.csv"
        assert main(["export", "src", "-o", str(export), "--server", server.address]) == 0
        create(client, "dst", max_trials=3, searcher="gp")
        rc, out, _ = rung(capsys, server.address, "import", "dst", str(export))
        # Trial 1 failed before it reported: its row holds no result.
        assert rc == 0 and "imported 3 trials" in out and "1 without results, skipped" in out
        rc, out, _ = rung(capsys, server.address, "import", "dst", str(export))
        assert "imported 0 trials" in out and "3 imported before, skipped" in out

        as_json = tmp_path / "src.json"  # the JSON export, through the SDK
        assert main(["export", "src", "-o", str(as_json), "--server", server.address]) == 0
        create(client, "dst2", max_trials=3, searcher="gp")
        assert len(client.study("dst2").import_results(as_json)) == 3
        assert client.study("dst2").info().trials_imported == 3

        steered = {name: state(client, name) for name in ("src", "dst")}
        server.kill()
        server.start()
        assert {name: state(client, name) for name in ("src", "dst")} == steered

        drive(client, "src")  # the raised budget and the retried trial run, then it ends
        done = client.get_study("src")
        assert done.state == pb.STUDY_DONE and done.trials_started == 6
        assert all(t.status != pb.FAILED for t in client.list_trials("src"))
        dst = client.get_study("dst")
        assert dst.trials_imported == 3 and dst.has_incumbent and dst.trials_started == 0


def test_refusals_say_their_code_and_what_they_name(
    server: ServerProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    restore_root_logger: None,
) -> None:
    with Client(server.address) as client:
        create(client, "s", max_trials=3)
        drive(client, "s")
    rc, _, err = rung(capsys, server.address, "budget", "s", "--max-trials", "2")
    assert rc == 1 and "FAILED_PRECONDITION: max_trials 2 is below the 3 trials" in err
    rc, _, err = rung(capsys, server.address, "budget", "s", "--max-resource=-4")
    assert rc == 1 and "INVALID_ARGUMENT: budget max_resource must be" in err
    rc, _, err = rung(capsys, server.address, "budget", "s", "--max-wall-seconds", "nan")
    assert rc == 1 and "INVALID_ARGUMENT: budget max_wall_seconds must be" in err
    rc, _, err = rung(capsys, server.address, "retry", "s", "--trial", "99")
    assert rc == 1 and "NOT_FOUND: no trial 99" in err
    rc, _, err = rung(capsys, server.address, "retry", "s", "--trial", "0")
    assert rc == 1 and "FAILED_PRECONDITION: trial 0 is" in err

    bad = tmp_path / "runs.csv"
    bad.write_text("config.x,resource,value\n0.2,3,0.5\n0.4,3,nan\n")
    rc, _, err = rung(capsys, server.address, "import", "s", str(bad))
    assert rc == 1 and f"INVALID_ARGUMENT: {bad} row 3: metric must be finite" in err
    bad.write_text("config.x,config.depth,resource,value\n0.2,3,3,0.5\n")
    rc, _, err = rung(capsys, server.address, "import", "s", str(bad))
    assert rc == 1 and "row 2: config does not match the search space (unknown ['depth'])" in err
    bad.write_text("config.x,value@27\n0.2,0.5\n")
    rc, _, err = rung(capsys, server.address, "import", "s", str(bad))
    assert rc == 1 and "row 2: resource 27 is outside [r_min, r_max] = [1, 9]" in err
    runs = tmp_path / "runs.json"
    runs.write_text(json.dumps([{"config": {"x": 1.5}, "resource": 9, "value": 0.1}]))
    rc, _, err = rung(capsys, server.address, "import", "s", str(runs))
    assert rc == 1 and f"{runs} trial 1: parameter 'x': 1.5 is outside" in err
    runs.write_text(json.dumps([{"config": {"x": 0.5}, "resource": 9, "metrics": {"acc": 1}}]))
    rc, _, err = rung(capsys, server.address, "import", "s", str(runs))
    assert rc == 1 and "trial 1: the result at resource 9 is missing metric 'error'" in err
    rc, _, err = rung(capsys, server.address, "budget", "s")
    assert rc == 2 and "give --max-trials" in err


def test_an_export_of_imported_trials_imports_again_as_it_was() -> None:
    import io

    from rung import wire
    from rung.export import write_export
    from rung.warm_start import parse_results

    curve = [pb.Observation(resource=r, value=v) for r, v in ((1, 0.5), (3, 0.4))]
    trial = pb.Trial(id=0, config=wire.config_to_pb({"x": 0.25}), status=pb.PAUSED,
                     imported=True, observations=curve)
    study = pb.Study(spec=pb.StudySpec(name="s", metric=pb.Metric(name="error", mode=pb.MIN)))
    out = io.StringIO()
    write_export(study, [trial], "csv", out)
    rows, empty = parse_results(out.getvalue(), "e.csv", SearchSpace({"x": Float(0, 1)}), "error")
    assert empty == 0 and rows == [
        {"config": {"x": 0.25}, "results": [(1, 0.5, {}), (3, 0.4, {})], "label": "e.csv row 2"}
    ]
