"""Summarize the recorded LeNet curves: spread of errors, costs, and how well early epochs rank.

Prints the markdown tables of docs/benchmarks_lenet.md from the table rung
ships, and with `--plot` draws every curve:

    python benchmarks/lenet_curves_summary.py --plot docs/lenet_curves.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import stats

from rung.sim.tabular import LENET_TABLE, CurveTable, load_table

EARLY_EPOCHS = (1, 3, 9)
PERCENTILES = (0, 10, 25, 50, 75, 90, 100)


def discordant_fraction(early: np.ndarray, final: np.ndarray) -> float:
    """Among pairs ordered strictly at both epochs, the fraction whose order flips (curves that cross)."""
    i, j = np.triu_indices(len(final), k=1)
    a, b = np.sign(early[i] - early[j]), np.sign(final[i] - final[j])
    strict = (a != 0) & (b != 0)
    return float(np.mean(a[strict] != b[strict]))


def summary(table: CurveTable) -> str:
    errors, final = table.val_error, table.val_error[:, -1]
    per_epoch = np.diff(table.cumulative_seconds, axis=1)
    settings = table.settings
    lines = [
        f"{len(table.configs)} configurations x {table.epochs} epochs; n_train {settings['n_train']}, "
        f"n_val {settings['n_val']}, seed {settings['seed']}, {settings['threads']} thread(s)",
        "",
        "| final validation error | " + " | ".join(f"p{p}" for p in PERCENTILES) + " |",
        "|---|" + "---|" * len(PERCENTILES),
        "| epoch 27 | " + " | ".join(f"{v:.3f}" for v in np.percentile(final, PERCENTILES)) + " |",
        "",
        f"configurations at 0.80 error or worse after 27 epochs (chance is 0.90): {np.mean(final >= 0.8):.0%}",
        f"CPU seconds per epoch: median {np.median(per_epoch):.3f}, "
        f"range {per_epoch.min():.3f}-{per_epoch.max():.3f}; "
        f"full 27-epoch run: median {np.median(table.cumulative_seconds[:, -1]):.1f} s; "
        f"whole recording: {table.cumulative_seconds[:, -1].sum() / 60:.1f} CPU minutes",
        "",
        "| epoch r vs epoch 27 | Spearman rank correlation | pairs that cross after r | rank at r of the best final config |",
        "|---|---|---|---|",
    ]
    best = int(np.argmin(final))
    for r in EARLY_EPOCHS:
        early = errors[:, r - 1]
        rho = stats.spearmanr(early, final).statistic
        rank = int(np.sum(early < early[best])) + 1
        lines.append(f"| {r} | {rho:.3f} | {discordant_fraction(early, final):.1%} | {rank} of {len(final)} |")
    good = final <= np.percentile(final, 25)
    early3 = errors[good, 2]
    lines += [
        "",
        f"within the best quarter of final errors: Spearman(epoch 3, epoch 27) "
        f"{stats.spearmanr(early3, final[good]).statistic:.3f}, "
        f"pairs that cross after epoch 3 {discordant_fraction(early3, final[good]):.1%}",
    ]
    return "\n".join(lines)


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
    args = parser.parse_args()
    table = load_table(LENET_TABLE)
    print(summary(table))
    if args.plot:
        plot(table, args.plot)


if __name__ == "__main__":
    main()
