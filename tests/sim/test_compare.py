"""The comparison harness: scheduler:searcher methods, merging, the run cache and the tables."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from rung.sim.cache import RunCache
from rung.sim.cli import add_bench_parser
from rung.sim.compare import (
    budget_to_reach, default_candidates_table, head_to_head, markdown_table, safe_default_table,
    summarize,
)
from rung.sim.runner import BenchSettings, Task, merge_results, parse_method, run_task

TINY = BenchSettings(workers=2, budget=6.0, r_max=9, rung_seeds=0)


def test_plain_scheduler_means_random_searcher() -> None:
    assert parse_method("asha") == ("asha", "random")
    assert parse_method("hyperband:bohb") == ("hyperband", "bohb")
    plain = run_task(Task("asha", "branin", 3, TINY))
    explicit = run_task(Task("asha:random", "branin", 3, TINY))
    assert (plain["times"], plain["regrets"]) == (explicit["times"], explicit["regrets"])
    assert explicit["method"] == "asha:random"


def test_searcher_changes_the_run() -> None:
    random = run_task(Task("asha:random", "hartmann3", 0, TINY))
    gp = run_task(Task("asha:gp", "hartmann3", 0, TINY))  # enough trials for the GP to fit
    assert random["jobs"] > 0 and gp["jobs"] > 0
    assert (random["times"], random["regrets"]) != (gp["times"], gp["regrets"])


@pytest.mark.parametrize("bad", ["nope", "asha:nope", "nope:gp", "asha:"])
def test_unknown_methods_are_refused_with_their_name(bad: str) -> None:
    if bad == "asha:":  # an empty searcher is the default one
        assert parse_method(bad) == ("asha", "random")
        return
    with pytest.raises(ValueError, match="nope"):
        parse_method(bad)


def test_bench_cli_takes_scheduler_searcher_pairs(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="rung")
    add_bench_parser(parser.add_subparsers(required=True))
    args = parser.parse_args(["bench", "--methods", "asha:gp,fifo", "--benchmarks", "branin",
                              "--seeds", "1", "--budget", "4", "--r-max", "9",
                              "--processes", "1", "--out", str(tmp_path), "--no-plots"])
    assert args.func(args) == 0
    runs = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert [r["method"] for r in runs] == ["asha:gp", "fifo"]
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "--methods", "asha:nope"])


def _run(method: str, seed: int, times: list[float], regrets: list[float],
         benchmark: str = "b", horizon: float = 10.0) -> dict:
    return {"method": method, "benchmark": benchmark, "seed": seed, "horizon": horizon,
            "times": times, "regrets": regrets, "wall_seconds": 1.0 + seed}


def test_merge_keeps_every_run_and_refuses_other_settings() -> None:
    ours = {"settings": {**vars(TINY), "methods": ["asha"], "benchmarks": ["branin"]},
            "runs": [_run("asha", 0, [1.0], [0.5], "branin")]}
    theirs = {"settings": {**vars(TINY), "methods": ["synetune:random"], "seeds": 5},
              "runs": [_run("synetune:random", 0, [2.0], [0.4], "cnn")]}
    merged = merge_results(ours, theirs)
    assert merged["settings"]["methods"] == ["asha", "synetune:random"]
    assert merged["settings"]["benchmarks"] == ["branin", "cnn"]
    assert len(merged["runs"]) == 2
    other = {"settings": {**vars(TINY), "workers": 8}, "runs": []}
    with pytest.raises(ValueError, match="workers"):
        merge_results(ours, other)


def test_budget_fraction_of_a_hand_made_curve() -> None:
    # three seeds; the median is 8 from t=1, 4 from t=3 (two runs at or below 4), 1 from t=6
    runs = [_run("m", 0, [1.0, 3.0], [8.0, 4.0]),
            _run("m", 1, [0.5, 2.0, 6.0], [9.0, 2.0, 1.0]),
            _run("m", 2, [1.0, 6.0], [8.0, 0.5])]
    assert budget_to_reach(runs, 10.0, 8.0) == pytest.approx(0.1)
    assert budget_to_reach(runs, 10.0, 5.0) == pytest.approx(0.3)
    assert budget_to_reach(runs, 10.0, 1.0) == pytest.approx(0.6)
    assert budget_to_reach(runs, 10.0, 0.9) is None
    assert budget_to_reach(runs, 4.0, 1.0) is None  # the drop at t=6 is past the horizon


def test_summary_and_table_from_a_tiny_fake_result_set() -> None:
    runs = [_run("fifo:random", s, [1.0, 8.0], [4.0, 2.0]) for s in range(3)]
    runs += [_run("asha:gp", s, [0.5, 2.0 + s], [3.0, 1.0]) for s in range(2)]
    runs += [_run("late", 0, [9.0], [5.0])]
    summary = summarize(runs, reference="fifo:random")
    bench = summary["b"]
    assert bench["reference_final_median"] == 2.0
    fifo, gp, late = (bench["methods"][m] for m in ("fifo:random", "asha:gp", "late"))
    assert fifo["regret"]["0.25"] == [4.0, 4.0, 4.0]  # t = 2.5
    assert fifo["regret"]["1"] == [2.0, 2.0, 2.0]
    assert fifo["budget_to_reference"] == pytest.approx(0.8)
    assert gp["seeds"] == 2
    # at t = 2.5 seed 0 is at 1.0 and seed 1 still at 3.0: every quartile of two is their midpoint
    assert gp["regret"]["0.25"] == [2.0, 2.0, 2.0]
    assert gp["budget_to_reference"] == pytest.approx(0.2)  # that midpoint is 2.0 from t = 2
    assert gp["seconds_per_run"] == 1.5
    assert math.isinf(late["regret"]["0.5"][1]) and late["budget_to_reference"] is None
    json.dumps(summary)  # plain JSON

    table = markdown_table(bench, label=str.upper).splitlines()
    assert table[0] == ("| method | seeds | regret at 10% of budget | regret at 25% of budget | "
                        "regret at 50% of budget | regret at 100% of budget | budget to reach "
                        "random search's final median | s / run |")
    assert len(table) == 2 + 3
    assert table[3].startswith(
        "| ASHA:GP | 2 | 3 [3, 3] | 2 [2, 2] | 1 [1, 1] | 1 [1, 1] | 0.20 | 1.5 |")
    assert "| – [–, –] |" in table[4] and "not reached" in table[4]


def test_head_to_head_says_where_a_method_is_not_ahead_of_a_peer() -> None:
    runs = [_run("mine", 0, [1.0, 9.0], [0.1, 0.01]), _run("peer", 0, [1.0], [0.05])]
    runs += [_run("mine", 0, [1.0], [0.2], "c"), _run("peer", 0, [1.0, 9.0], [0.3, 0.25], "c")]
    runs += [_run("mine", 0, [1.0], [0.2], "alone")]  # no peer runs: left out
    lines = head_to_head(summarize(runs, reference="fifo:random"), "mine", "peer").splitlines()
    assert len(lines) == 2 + 2
    # b: behind at 25 and 50 % (0.1 > 0.05), a fifth of the peer's regret at 100 %
    assert lines[2] == (
        "| b | 1 / 1 | 0.1 / 0.05 | 0.1 / 0.05 | 0.1 / 0.05 | 0.01 / 0.05 | **no** | yes |")
    # c: ahead everywhere, but not by half at 100 % (0.2 against 0.25)
    assert lines[3] == "| c | 1 / 1 | 0.2 / 0.3 | 0.2 / 0.3 | 0.2 / 0.3 | 0.2 / 0.25 | yes | no |"


def test_safe_default_table_compares_with_the_best_rival_at_each_point() -> None:
    runs = [_run("mine", s, [1.0, 6.0], [0.3, 0.01]) for s in range(2)]
    runs += [_run("fast", s, [1.0, 9.0], [0.1, 0.05]) for s in range(2)]
    runs += [_run("strong", s, [4.0], [0.02]) for s in range(2)]
    runs += [_run("lucky", 0, [1.0], [0.0])]  # one seed: too few to judge by
    table = safe_default_table(summarize(runs, reference="fifo:random"), "mine",
                               ["fast", "strong", "lucky", "absent"], min_seeds=2).splitlines()
    # mine improves at t = 6 only; "strong" leads from t = 4, "fast" before it
    assert table[2] == ("| b | **0.3 / 0.1 `fast`** | **0.3 / 0.1 `fast`** "
                        "| **0.3 / 0.02 `strong`** | 0.01 / 0.02 `strong` | 1 of 4 |")
    assert table[3] == "| all |  |  |  |  | 1 of 4 |"


def test_each_candidate_is_counted_against_the_rivals_and_against_the_baselines_alone() -> None:
    runs = [_run("mine", s, [1.0, 6.0], [0.3, 0.01]) for s in range(2)]
    runs += [_run("fast", s, [1.0, 9.0], [0.1, 0.05]) for s in range(2)]
    runs += [_run("strong", s, [4.0], [0.02]) for s in range(2)]
    summary = summarize(runs, reference="fifo:random")
    table = default_candidates_table(summary, ["mine", "strong", "absent"], peers=["fast"],
                                     baselines=["strong"], min_seeds=2).splitlines()
    # mine (points t = 1, 2.5, 5, 10): at most both rivals only at t = 10 (0.01); at most
    # "strong" alone also while strong has no result (before t = 4), not at t = 5 (0.3 > 0.02).
    # strong: none before t = 4, then 0.02 against fast's 0.1 and 0.05; it is not its own
    # rival, so against the baselines alone nothing is compared.
    assert table[2:] == ["| `mine` | 2 | 1 of 4 | 3 of 4 |", "| `strong` | 2 | 2 of 4 | 0 of 0 |"]


def test_run_cache_stores_whole_files_and_lists_what_is_missing(tmp_path: Path) -> None:
    cache = RunCache(tmp_path, vars(TINY))
    run = _run("asha:gp", 2, [1.0], [0.1], "branin")
    path = cache.store(run)
    assert path == tmp_path / "w2-b6-r1-9-eta3" / "branin" / "asha+gp" / "2.json"
    assert cache.load("asha:gp", "branin", 2) == run
    assert cache.load("asha:gp", "branin", 3) is None
    wanted = [("asha:gp", "branin", s) for s in range(4)]
    assert cache.missing(wanted) == [w for w in wanted if w[2] != 2]
    assert not list(path.parent.glob("*.tmp"))


def test_method_labels() -> None:
    from rung.sim.runner import method_label

    assert method_label("asha") == method_label("asha:random") == "ASHA"
    assert method_label("hyperband:gp") == "async Hyperband + gp"
    assert method_label("fifo:random") == "random search (FIFO)"
    assert method_label("fifo:gp") == "FIFO + gp"
    assert method_label("synetune:bayesopt") == "synetune:bayesopt"


def test_compare_command_caches_runs_and_keeps_the_notes(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "compare.py"
    doc = tmp_path / "docs" / "compare.md"
    doc.parent.mkdir()
    doc.write_text("old tables\n<!-- notes: everything below is kept when benchmarks/compare.py "
                   "rewrites this file -->\nMy notes.\n")
    argv = [sys.executable, str(script), "--benchmarks", "branin", "--methods",
            "fifo:random,asha:random", "--seeds", "2", "--seeds-for", "asha:random=1", "--workers", "2",
            "--budget", "4", "--r-max", "9", "--processes", "1", "--cache", str(tmp_path / "cache"),
            "--out", str(tmp_path / "docs" / "compare"), "--doc", str(doc)]
    first = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert "0 runs cached, 3 to run" in first.stdout
    files = sorted(p.relative_to(tmp_path / "cache") for p in (tmp_path / "cache").rglob("*.json"))
    assert [str(p) for p in files] == ["w2-b4-r1-9-eta3/branin/asha+random/0.json",
                                       "w2-b4-r1-9-eta3/branin/fifo+random/0.json",
                                       "w2-b4-r1-9-eta3/branin/fifo+random/1.json"]
    text = doc.read_text()
    assert "old tables" not in text and text.endswith("My notes.\n")
    assert "| random search (FIFO) (`fifo:random`) | 2 |" in text
    assert "| ASHA (`asha:random`) | 1 |" in text
    assert "![branin](compare/anytime_branin.png)" in text
    assert (tmp_path / "docs" / "compare" / "anytime_branin.png").stat().st_size > 1000
    summary = json.loads((tmp_path / "docs" / "compare" / "summary.json").read_text())
    assert set(summary["benchmarks"]["branin"]["methods"]) == {"fifo:random", "asha:random"}

    again = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert "to run" not in again.stdout  # everything came from the cache
    assert doc.read_text() == text
