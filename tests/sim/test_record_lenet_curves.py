"""benchmarks/record_lenet_curves.py at a tiny scale: records, resumes after a crash, packs a replayable table."""

from __future__ import annotations

import gzip
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rung.sim.tabular import CurveTable, TabularBenchmark

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "record_lenet_curves.py"
TINY = ["--epochs", "2", "--n-train", "128", "--n-val", "64", "--threads", "1"]


def load_script():
    spec = importlib.util.spec_from_file_location("record_lenet_curves", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_records_resumes_and_packs(tmp_path: Path, fmnist_dir: Path) -> None:
    out, packed = tmp_path / "curves.jsonl", tmp_path / "curves.json.gz"
    common = ["--out", str(out), "--data-dir", str(fmnist_dir), *TINY]
    subprocess.run([sys.executable, str(SCRIPT), *common, "--configs", "2"], check=True, capture_output=True)
    lines = out.read_text().splitlines()
    assert len(lines) == 3  # settings, then one line per configuration
    out.write_text(out.read_text() + lines[-1][:25])  # a crash in the middle of a write

    script = load_script()
    script.main([*common, "--configs", "3", "--pack", str(packed)])
    header, records = script.read_records(out)
    assert header["settings"]["epochs"] == 2 and len(records) == 3
    assert [r["config"] for r in records] == script.grid_configs(0)[:3]
    for record in records:
        assert len(record["val_error"]) == len(record["cpu_seconds"]) == len(record["wall_seconds"]) == 2
        assert all(0.0 <= e <= 1.0 for e in record["val_error"])
        assert all(s > 0 for s in record["cpu_seconds"])

    with gzip.open(packed, "rt") as f:
        table = CurveTable(json.load(f))
    bench = TabularBenchmark(table, "tiny", r_max=2)
    assert bench.value(records[1]["config"], 2) == records[1]["val_error"][1]
    assert bench.cost(records[1]["config"], 2) == pytest.approx(sum(records[1]["cpu_seconds"]))
    with pytest.raises(ValueError, match="epochs 1..2"):
        TabularBenchmark(table, "tiny", r_max=3)


def test_refuses_to_mix_settings_in_one_file(tmp_path: Path) -> None:
    out = tmp_path / "curves.jsonl"
    out.write_text(json.dumps({"settings": {"epochs": 5}}) + "\n")
    with pytest.raises(SystemExit, match="other settings"):
        load_script().main(["--out", str(out), *TINY, "--configs", "1"])
