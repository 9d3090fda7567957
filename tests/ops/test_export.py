"""Export rows from protobuf trials: best by the study's mode, rung-level columns."""

from __future__ import annotations

import csv
import io

import pytest
from rung.v1 import rung_pb2 as pb

from rung import wire
from rung.export import study_export, write_export


def trial(tid: int, curve: list[tuple[int, float]], milestones: list[int]) -> pb.Trial:
    return pb.Trial(
        id=tid,
        config=wire.config_to_pb({"lr": 0.1 * tid, "opt": "sgd"}),
        status=pb.PAUSED,
        segments=[pb.Segment(milestone=m) for m in milestones],
        observations=[pb.Observation(resource=r, value=v) for r, v in curve],
    )


def study(mode: int) -> pb.Study:
    return pb.Study(spec=pb.StudySpec(name="s", metric=pb.Metric(name="acc", mode=mode)))


TRIALS = [
    trial(2, [(1, 0.5), (2, 0.9), (3, 0.7)], [1, 3]),
    trial(1, [(1, 0.6)], [1]),
    trial(3, [], [1]),
]


@pytest.mark.parametrize("mode,best", [(pb.MAX, (2, 0.9)), (pb.MIN, (1, 0.5))])
def test_best_follows_the_mode(mode: int, best: tuple[int, float]) -> None:
    export = study_export(study(mode), TRIALS)
    assert [t["trial_id"] for t in export["trials"]] == [1, 2, 3]
    t2 = export["trials"][1]
    assert (t2["best_resource"], t2["best_value"]) == best
    assert (t2["last_resource"], t2["last_value"]) == (3, 0.7)
    assert export["rung_levels"] == [1, 3]


def test_csv_columns() -> None:
    out = io.StringIO()
    write_export(study(pb.MAX), TRIALS, "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == [
        "trial_id",
        "status",
        "bracket",
        "config.lr",
        "config.opt",
        "last_resource",
        "last_value",
        "best_resource",
        "best_value",
        "value@1",
        "value@3",
    ]
    assert [r["value@3"] for r in rows] == ["", "0.7", ""]
    assert rows[2]["best_value"] == "" and rows[2]["status"] == "paused"


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        write_export(study(pb.MIN), TRIALS, "xlsx", io.StringIO())
