"""Summarize the recorded LeNet curves: spread of errors, costs, and how well early epochs rank.

Prints the markdown tables of docs/benchmarks_lenet.md from the table rung
ships (what the file says about its recording, the spread of errors and costs,
the optimum, how early epochs rank), and with `--plot` draws every curve; with
`--bench` it also runs random search, ASHA and Hyperband on the `lenet`
benchmark in the simulator (`rung bench --methods fifo,asha,hyperband
--benchmarks lenet --r-max 27`) and prints their median simple regret:

    python benchmarks/lenet_curves_summary.py --plot docs/lenet_curves.png
    python benchmarks/lenet_curves_summary.py --bench --bench-plots docs/bench --write-docs

`--write-docs` writes the tables to docs/generated/lenet_curves.md (and, with
`--bench`, docs/generated/lenet_bench.md).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

from rung.sim.analysis import curves, quantiles
from rung.sim.runner import BenchSettings, method_label, run_bench
from rung.sim.tabular import LENET_TABLE, CurveTable, load_table

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "src" / "rung" / "sim" / "data"

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_report.py
from _report import Fragment, add_write_docs_flag  # noqa: E402

EARLY_EPOCHS = (1, 3, 9)
PERCENTILES = (0, 10, 25, 50, 75, 90, 100)


def discordant_fraction(early: np.ndarray, final: np.ndarray) -> float:
    """Among pairs ordered strictly at both epochs, the fraction whose order flips (curves that cross)."""
    i, j = np.triu_indices(len(final), k=1)
    a, b = np.sign(early[i] - early[j]), np.sign(final[i] - final[j])
    strict = (a != 0) & (b != 0)
    return float(np.mean(a[strict] != b[strict]))


def recording(path: Path) -> list[str]:
    """What the packed file says about its recording: when, where, how long."""
    raw = json.loads(gzip.decompress(path.read_bytes()))
    machine, settings = raw.get("machine", {}), raw["settings"]
    cpu = np.asarray(raw["cpu_seconds"], dtype=float)
    wall = np.asarray(raw["wall_seconds"], dtype=float)
    return [
        f"`{path.relative_to(REPO)}` ({path.stat().st_size / 1000:.0f} KB): "
        f"{len(raw['configs'])} configurations x {settings['epochs']} epochs, packed "
        f"{raw.get('packed', 'at an unrecorded time')}, recorded on "
        f"{machine.get('platform', 'an unrecorded platform')} with torch "
        f"{machine.get('torch', '?')}, {settings['threads']} thread(s); "
        f"{cpu.sum() / 60:.1f} CPU minutes of training, "
        f"{wall.sum() / 60:.1f} minutes of summed epoch wall-clock.",
    ]


def summary(table: CurveTable) -> str:
    errors, final = table.val_error, table.val_error[:, -1]
    per_epoch = np.diff(table.cumulative_seconds, axis=1)
    settings = table.settings
    best = int(np.argmin(final))
    optimum = ", ".join(f"{k} {v:.3g}" for k, v in table.configs[best].items())
    n_val = settings["n_val"]
    top_tenth = final[final <= np.percentile(final, 10)]
    lines = [
        f"{len(table.configs)} configurations x {table.epochs} epochs; n_train {settings['n_train']}, "
        f"n_val {n_val}, seed {settings['seed']}, {settings['threads']} thread(s)",
        "",
        "| final validation error | " + " | ".join(f"p{p}" for p in PERCENTILES) + " |",
        "|---|" + "---|" * len(PERCENTILES),
        "| epoch 27 | " + " | ".join(f"{v:.3f}" for v in np.percentile(final, PERCENTILES)) + " |",
        "",
        f"- configurations at 0.80 error or worse after 27 epochs (chance is 0.90): {np.mean(final >= 0.8):.0%}",
        f"- CPU seconds per epoch: median {np.median(per_epoch):.3f}, "
        f"range {per_epoch.min():.3f}-{per_epoch.max():.3f}; "
        f"full 27-epoch run: median {np.median(table.cumulative_seconds[:, -1]):.1f} s; "
        f"whole recording: {table.cumulative_seconds[:, -1].sum() / 60:.1f} CPU minutes",
        "",
        f"- optimum (lowest error at epoch 27): {optimum}: {final[best]:.4f}; its full run costs "
        f"{table.cumulative_seconds[best, -1]:.2f} CPU seconds (the unit of `rung bench --budget`)",
        f"- the best 10 % of final errors lie within {top_tenth.max() - final[best]:.3f} of the best; "
        f"one standard error of an error rate of {final[best]:.2f} on {n_val} images is "
        f"{np.sqrt(final[best] * (1 - final[best]) / n_val):.3f}",
        "",
        "| epoch r vs epoch 27 | Spearman rank correlation | pairs that cross after r | rank at r of the best final config |",
        "|---|---|---|---|",
    ]
    for r in EARLY_EPOCHS:
        early = errors[:, r - 1]
        rho = stats.spearmanr(early, final).statistic
        rank = int(np.sum(early < early[best])) + 1
        lines.append(f"| {r} | {rho:.3f} | {discordant_fraction(early, final):.1%} | {rank} of {len(final)} |")
    good = final <= np.percentile(final, 25)
    early3 = errors[good, 2]
    lines += [
        "",
        f"- within the best quarter of final errors: Spearman(epoch 3, epoch 27) "
        f"{stats.spearmanr(early3, final[good]).statistic:.3f}, "
        f"pairs that cross after epoch 3 {discordant_fraction(early3, final[good]):.1%}",
    ]
    return "\n".join(lines)


def bench(seeds: int, processes: int, plots: Path | None) -> list[str]:
    """Random search, ASHA and Hyperband on `lenet` in the simulator: median simple regret."""
    settings = BenchSettings(methods=("fifo", "asha", "hyperband"), benchmarks=("lenet",),
                             seeds=seeds, r_max=27)
    started = time.perf_counter()
    runs = run_bench(settings, processes or None)["runs"]
    elapsed = time.perf_counter() - started
    end = runs[0]["horizon"]
    unit = end * settings.workers / settings.budget
    lines = [
        f"{len(runs)} runs, {sum(r['jobs'] for r in runs):,} simulated jobs in {elapsed:.0f} s; "
        f"{settings.workers} workers, budget {settings.budget:g} x {unit:.2f} CPU seconds of worker "
        f"time ({end:.1f} s of simulated wall clock), r = {settings.r_min}..{settings.r_max}, "
        f"eta {settings.eta}. Median simple regret [25 %, 75 %] over {seeds} seeds:",
        "",
        "| method | 25 % | 50 % | 100 % |",
        "|---|---|---|---|",
    ]
    grid = np.array([0.25, 0.5, 1.0]) * end
    by_method = {m: [r for r in runs if r["method"] == m] for m in settings.methods}
    for method, method_runs in by_method.items():
        q = quantiles(curves(method_runs, grid), (0.25, 0.5, 0.75))
        cells = [f"{q[1][i]:.4f} [{q[0][i]:.4f}, {q[2][i]:.4f}]" for i in range(len(grid))]
        lines.append(f"| {method_label(method)} | " + " | ".join(cells) + " |")
    if plots:
        from rung.sim.plots import plot_anytime

        labelled = {method_label(m): rs for m, rs in by_method.items()}
        print("wrote", plot_anytime(labelled, end, plots / "anytime_lenet.png",
                                    f"lenet, {settings.workers} workers, {seeds} seeds",
                                    xlabel="simulated wall-clock time (CPU seconds)"), file=sys.stderr)
    return lines


def plot(table: CurveTable, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lrs = sorted({c["learning_rate"] for c in table.configs})
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(lrs)))
    fig, ax = plt.subplots(figsize=(7, 4.2))
    epochs = np.arange(1, table.epochs + 1)
    for config, curve in zip(table.configs, table.val_error):
        ax.plot(epochs, curve, color=colors[lrs.index(config["learning_rate"])], alpha=0.45, lw=0.8)
    for lr, color in zip(lrs, colors):
        ax.plot([], [], color=color, label=f"lr {lr:.3g}")
    ax.set(xlabel="epoch", ylabel="validation error", xscale="log", ylim=(0, 1),
           title=f"LeNet on Fashion-MNIST: {len(table.configs)} recorded curves")
    ax.set_xticks([1, 3, 9, 27], ["1", "3", "9", "27"])
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plot", type=Path, help="draw every curve into this PNG")
    parser.add_argument("--bench", action="store_true",
                        help="also run fifo, asha and hyperband on lenet in the simulator")
    parser.add_argument("--seeds", type=int, default=20, help="seeds per method, with --bench")
    parser.add_argument("--processes", type=int, default=0, help="with --bench (0: one per core)")
    parser.add_argument("--bench-plots", type=Path, help="folder for anytime_lenet.png, with --bench")
    add_write_docs_flag(parser)
    args = parser.parse_args()
    table = load_table(LENET_TABLE)
    out = Fragment("lenet_curves")
    for line in recording(DATA / LENET_TABLE):
        out.print(line)
    out.print()
    out.print(summary(table))
    out.write_if(args.write_docs)
    if args.plot:
        plot(table, args.plot)
    if args.bench:
        print()
        runs = Fragment("lenet_bench")
        for line in bench(args.seeds, args.processes, args.bench_plots):
            runs.print(line)
        runs.write_if(args.write_docs)


if __name__ == "__main__":
    main()
