"""`--model-metrics`: the CNN objective reports parameter count and inference latency beside error."""

from __future__ import annotations

from pathlib import Path

from rung.workers.model_metrics import parameter_count
from rung.workers.models import build_model
from rung.workers.training import NUM_CLASSES, ImageClassification, TrainingSettings

CONFIG = {"learning_rate": 0.05, "batch_size": 64, "momentum": 0.9, "weight_decay": 1e-4}


def test_the_objective_reports_error_params_and_latency(fake_fmnist_dir: Path, tmp_path: Path) -> None:
    settings = TrainingSettings(
        data_dir=fake_fmnist_dir, max_epochs=2, n_train=256, n_val=64, device="cpu", model_metrics=True
    )
    objective = ImageClassification(settings)
    calls = []
    last = objective.train(CONFIG, 0, 2, None, tmp_path / "c.pt", lambda e, r: calls.append((e, r)) or True)
    assert [e for e, _ in calls] == [1, 2]
    lenet = build_model("lenet", NUM_CLASSES, input_shape=objective.input_shape)
    for _, result in calls:
        assert set(result) == {"error", "params", "latency_ms"}
        assert 0.0 <= result["error"] <= 1.0
        assert result["params"] == parameter_count(lenet) > 10_000
        assert result["latency_ms"] > 0.0
    assert calls[-1][1]["error"] == last  # train() still returns the error alone
