"""Summarize the recorded MLP curves of the `mlp-<dataset>` benchmarks, without re-recording.

Reads the packed recordings rung ships (src/rung/sim/data/mlp_<dataset>.json.gz,
made by benchmarks/record_mlp_curves.py) and prints the tables of
docs/benchmarks.md:

- the recordings: train / validation sizes, features, CPU seconds of the
  recorded curves, best and median final error, file size, when and where;
- the surrogate's held-out error: 200 random recorded configurations (numpy
  seed 0, as tests/sim/test_mlp_benchmark.py draws them) predicted by the
  surrogate built on the other 800, as mean absolute error over all epochs and
  at epoch 27, against predicting the mean curve of the 800 and against a
  second seed of the same configuration (the repeated configurations), and the
  Spearman rank correlation of predicted and recorded final errors;
- the benchmark's noise (the standard deviation across seeds) and how far the
  best tenth of the recorded configurations ends from the optimum.

    .venv/bin/python benchmarks/mlp_curves_summary.py [--write-docs]

`--write-docs` writes both tables to docs/generated/mlp_curves.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from rung.sim.mlp_curves import DATASETS, MLPBenchmark, load_curves

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = REPO / "src" / "rung" / "sim" / "data"
HELD_OUT = 200

sys.path.insert(0, str(HERE))  # benchmarks/_report.py, benchmarks/record_mlp_curves.py
from _report import Fragment, add_write_docs_flag  # noqa: E402


def features(dataset: str) -> int:
    from record_mlp_curves import load  # scikit-learn; the data set as the recording split it

    return int(load(dataset, 0)[0].shape[1])


def recording_row(dataset: str) -> str:
    path = DATA / f"mlp_{dataset}.json.gz"
    raw = json.loads(gzip.decompress(path.read_bytes()))
    curves = load_curves(dataset)
    final = curves.val_error[:, -1]
    settings = raw["settings"]
    return (f"| {dataset} | {settings['n_train']} / {settings['n_val']} | {features(dataset)} "
            f"| {len(curves.configs):,} + {len(curves.repeats)} x 2 | {curves.cumulative_seconds[:, -1].sum():.0f} "
            f"| {final.min():.3f} / {np.median(final):.3f} | {path.stat().st_size / 1000:.0f} KB "
            f"| {raw.get('packed', '?')[:10]}, scikit-learn {raw.get('machine', {}).get('sklearn', '?')} |")


def held_out_row(dataset: str) -> str:
    curves = load_curves(dataset)
    order = np.random.default_rng(0).permutation(len(curves.configs))
    held_out, kept = order[:HELD_OUT], order[HELD_OUT:]
    predicted, _ = curves.surrogate(kept).predict(curves.units[held_out])
    truth = curves.val_error[held_out]
    mae = np.abs(predicted - truth).mean()
    mae_final = np.abs(predicted[:, -1] - truth[:, -1]).mean()
    constant = np.abs(curves.val_error[kept].mean(axis=0) - truth).mean()
    seeds = np.mean([np.abs(runs[0] - runs[1]).mean() for runs in curves.repeats.values()])
    rho = stats.spearmanr(predicted[:, -1], truth[:, -1]).statistic
    bench = MLPBenchmark(dataset)
    regrets = np.array([bench.regret(config) for config in curves.configs])
    std = curves.seed_std
    return (f"| {dataset} | {mae:.3f} | {mae_final:.3f} | {constant:.3f} | {seeds:.3f} | {rho:.2f} "
            f"| {np.mean(std):.3f} ({std.min():.3f}-{std.max():.3f}) | {np.percentile(regrets, 10):.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_write_docs_flag(parser)
    args = parser.parse_args()
    out = Fragment("mlp_curves")
    out.print("The recordings (`src/rung/sim/data/mlp_<dataset>.json.gz`); CPU seconds summed over "
              "the recorded curves (the repeats' seconds are not kept), errors at epoch 27:")
    out.print()
    out.print("| dataset | train / validation | features | trainings (configurations + repeats) "
              "| CPU seconds | best / median final error | file | packed |")
    out.print("|---|---|---:|---|---:|---|---:|---|")
    for dataset in DATASETS:
        out.print(recording_row(dataset))
    out.print()
    out.print(f"The surrogate on {HELD_OUT} held-out recorded configurations (built on the others); "
              "mean absolute errors of the validation error, and the benchmark's noise "
              "(standard deviation across seeds, mean over epochs (range)):")
    out.print()
    out.print("| dataset | MAE, all epochs | MAE, epoch 27 | predicting the mean curve "
              "| two seeds of one configuration | Spearman, epoch 27 | noise std | "
              "regret of the best tenth of recorded configurations |")
    out.print("|---|---:|---:|---:|---:|---:|---|---:|")
    for dataset in DATASETS:
        out.print(held_out_row(dataset))
    out.write_if(args.write_docs)


if __name__ == "__main__":
    main()
