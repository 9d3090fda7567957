"""Several objectives, a constraint and a conditional space, end to end through a real server:
the SDK reports named metrics, GetStudy's Pareto front equals a brute-force front, results
come back as Python values, and everything survives a restart (kill -9)."""

from __future__ import annotations

import numpy as np

from rung.client import Client, Decision, Float
from rung.client.results import Incumbent, StudyInfo


def evaluate(config: dict, epoch: int) -> dict[str, float]:
    error = abs(config["lr"] - 0.3) + 1.0 / epoch + (config.get("momentum", 0.5) - 0.5) ** 2
    return {"error": error, "latency_ms": 10.0 * config["width"], "memory_mb": 100.0 * config["width"]}


def brute_front(trials, level: int) -> set[int]:
    """Feasible (memory <= 500) latest results at `level`, then those no other dominates."""
    results = {}
    for t in trials:
        for o in t.observations:
            if o.resource == level and o.metrics["memory_mb"] <= 500:
                results[t.id] = (o.metrics["error"], o.metrics["latency_ms"])
    return {
        i for i, a in results.items()
        if not any(all(x <= y for x, y in zip(b, a)) and b != a for b in results.values())
    }


def test_a_multi_objective_study_with_a_constraint_and_conditions(server):
    with Client(server.address) as client:
        study = client.create_study(
            "moo",
            space={"lr": Float(0.01, 1.0, log=True), "optimizer": ["sgd", "adam"],
                   "momentum": Float(0.0, 0.99), "width": [1, 2, 4, 8]},
            conditions={"momentum": {"parent": "optimizer", "equals": "sgd"}},
            objectives={"error": "min", "latency_ms": "min"},
            constraints=["memory_mb <= 500"],
            scheduler="asha", r_max=9, eta=3, max_trials=18, seed=3,
        )
        for trial in study.trials():
            assert ("momentum" in trial.config) == (trial.config["optimizer"] == "sgd")
            with trial:
                for epoch in trial.epochs():
                    if trial.report(epoch, evaluate(trial.config, epoch)) is not Decision.CONTINUE:
                        break
        info = study.info()
        assert isinstance(info, StudyInfo) and info.state == "done"
        assert isinstance(info.incumbent, Incumbent) and isinstance(info.incumbent.config, dict)
        assert len(repr(info.incumbent)) < 200  # short and readable, not a protobuf dump
        assert info.objectives == {"error": "min", "latency_ms": "min"}
        assert info.constraints == ["memory_mb <= 500"]
        trials = client.list_trials("moo")
        level = max(o.resource for t in trials for o in t.observations)
        front = {p.trial_id for p in info.pareto_front}
        assert front and front == brute_front(trials, level)
        assert all(p.metrics["memory_mb"] <= 500 for p in info.pareto_front)
        hv = [v for _, v in info.hypervolume]
        assert hv and hv[-1] > 0
        before = info

    server.kill()  # kill -9: the journal is all that is left
    server.start()
    with Client(server.address) as client:
        after = client.study("moo").info()
    assert after.pareto_front == before.pareto_front
    assert after.hypervolume == before.hypervolume
    assert after.incumbent == before.incumbent


def test_a_single_objective_study_takes_named_metrics_and_old_style_values(server):
    with Client(server.address) as client:
        study = client.create_study("so", space={"x": Float(0.0, 1.0)}, r_max=3, max_trials=2)
        trial = next(study.trials())
        with trial:
            assert trial.report(1, {"error": 0.25, "latency_ms": 3.0}) is Decision.PAUSE
        trial = next(study.trials())
        with trial:
            assert trial.report(1, 0.5) is Decision.PAUSE
        info = study.info()
        assert info.incumbent.value == 0.25 and info.pareto_front == []
        observed = [t.observations[0] for t in client.list_trials("so")]
        assert dict(observed[0].metrics) == {"error": 0.25, "latency_ms": 3.0}
        assert [o.value for o in observed] == [0.25, 0.5]
        assert not np.isnan(observed[1].value)


def test_rung_create_status_and_export_show_objectives_and_front(server, tmp_path):
    import json
    import subprocess

    from support import rung_command, subprocess_env

    study_file = tmp_path / "study.json"
    study_file.write_text(json.dumps({
        "space": {
            "optimizer": {"type": "Categorical", "choices": ["sgd", "adam"]},
            "momentum": {"type": "Float", "low": 0.0, "high": 0.99,
                         "condition": {"parent": "optimizer", "equals": "sgd"}},
            "width": {"type": "Categorical", "choices": [1, 2, 4]},
        },
        "objectives": {"error": "min", "latency_ms": "min"},
        "constraints": ["memory_mb <= 300"],
    }))

    def rung(*args):
        out = subprocess.run(rung_command(*args, "--server", server.address), capture_output=True,
                             text=True, env=subprocess_env(), timeout=60)
        return out

    out = rung("create", "cli-moo", "--space", str(study_file), "--max-trials", "6", "--r-max", "3",
               "--reference-point", "2,100")
    assert out.returncode == 0, out.stderr
    with Client(server.address) as client:
        study = client.study("cli-moo")
        info = study.info()
        assert info.objectives == {"error": "min", "latency_ms": "min"}
        assert info.constraints == ["memory_mb <= 300"] and info.reference_point == (2.0, 100.0)
        for trial in study.trials():
            with trial:
                for epoch in trial.epochs():
                    if trial.report(epoch, evaluate({"lr": 0.3, **trial.config}, epoch)) is not (
                        Decision.CONTINUE
                    ):
                        break
        info = study.info()
    assert info.reference_point == (2.0, 100.0) and info.pareto_front
    status = rung("status", "--study", "cli-moo")
    assert status.returncode == 0, status.stderr
    assert "objectives: error (min), latency_ms (min) subject to memory_mb <= 300" in status.stdout
    assert "pareto front:" in status.stdout and "hypervolume:" in status.stdout
    exported = rung("export", "cli-moo", "--format", "json")
    data = json.loads(exported.stdout)
    assert {p["trial_id"] for p in data["pareto_front"]} == {p.trial_id for p in info.pareto_front}
    assert data["hypervolume"][-1]["value"] == info.hypervolume[-1][1]
    csv_text = rung("export", "cli-moo", "--format", "csv").stdout
    assert csv_text.splitlines()[0].endswith(",pareto_front")
    plotted = rung("plot", "--study", "cli-moo", "--out", str(tmp_path / "plots"))
    assert plotted.returncode == 0, plotted.stderr
    for name in ("pareto_cli-moo.png", "hypervolume_cli-moo.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 1000

    bad = rung("create", "bad", "--space", str(study_file), "--max-trials", "2",
               "--constraint", "memory_mb < 3")
    assert bad.returncode == 2 and "cannot read constraint" in bad.stderr
    study_file.write_text(json.dumps({"a": {"type": "Int", "low": 1, "high": 3},
                                      "b": {"type": "Int", "low": 1, "high": 3,
                                            "condition": {"parent": "a", "in": [7]}}}))
    bad = rung("create", "bad", "--space", str(study_file), "--max-trials", "2")
    assert bad.returncode == 2 and "outside the domain of 'a'" in bad.stderr
