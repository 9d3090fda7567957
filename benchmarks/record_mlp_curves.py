"""Record learning curves of scikit-learn's MLPClassifier (adam) for the `mlp-<dataset>` benchmarks.

The space is Table IV of the HPO-tools lecture among the seed documents (hidden
layer size, alpha, batch size, learning rate, tolerance, validation fraction,
beta 1, beta 2, epsilon; `MLP_SPACE` below). Configurations are drawn at random
from it (seeded), and each is trained for real with `MLPClassifier(solver="adam")`,
one `partial_fit` call per epoch (one shuffled pass over the training set in
mini-batches of `batch_size`). After every epoch the error on a fixed held-out
validation set and the CPU seconds of the epoch are kept.

`partial_fit` ignores `tol` and `validation_fraction` (they only act through
`fit(early_stopping=True)`), so this script does what `fit` would: it holds out
`validation_fraction` of the training set, scores it after every epoch, and once
that score has not improved by `tol` for more than `n_iter_no_change` = 10
epochs, restores the best weights and stops; the remaining epochs repeat the
stopped model's error at the cost of evaluating it. A run whose weights go
non-finite (learning rates near 0.1) reports the majority-class error from then on.

Each configuration is trained with its own seed (its index); the first
`--repeats` configurations are trained with two more seeds, which measures the
seed-to-seed noise the benchmark adds. Resumable like record_lenet_curves.py:
one JSON line per configuration in `--out`, a restart skips what is there.

    OMP_NUM_THREADS=1 nice -n 19 python benchmarks/record_mlp_curves.py --dataset digits \\
        --configs 1000 --repeats 100 --pack src/rung/sim/data/mlp_digits.json.gz
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: the measured seconds are single-threaded

import argparse
import datetime
import gzip
import json
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from rung.sim.mlp_curves import MLP_SPACE

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_records.py
from _records import read_records

N_ITER_NO_CHANGE = 10  # scikit-learn's default
EXTRA_SEEDS = (1_000_000, 2_000_000)  # added to a repeated configuration's index
# dataset: (loader, train size, validation size); sizes keep each dataset to minutes on one core
DATASETS: dict[str, tuple[str, int, int]] = {
    "digits": ("load_digits", 600, 400),
    "breast_cancer": ("load_breast_cancer", 369, 200),
    "wine": ("load_wine", 118, 60),
    "iris": ("load_iris", 100, 50),
    "fashion_mnist": ("fashion_mnist", 400, 300),  # 14 x 14 images (2 x 2 means), Debian's copy
}
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")  # Debian's fashion-mnist package


def fashion_mnist() -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST's training images, averaged to 14 x 14 so an epoch costs milliseconds."""
    if not (FASHION_MNIST / "train-images-idx3-ubyte.gz").exists():
        sys.exit(f"Fashion-MNIST is not in {FASHION_MNIST} (apt-get install fashion-mnist)")
    with gzip.open(FASHION_MNIST / "train-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 14, 2, 14, 2)
    with gzip.open(FASHION_MNIST / "train-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(int)
    return images.mean(axis=(2, 4)).reshape(len(labels), -1) / 255.0, labels


def load(name: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A stratified train / validation split of a bundled scikit-learn dataset, standardized."""
    loader, n_train, n_val = DATASETS[name]
    x, y = fashion_mnist() if name == "fashion_mnist" else getattr(datasets, loader)(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, train_size=n_train, test_size=n_val, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_val), y_train, y_val


def mlp_kwargs(config: dict[str, Any], seed: int) -> dict[str, Any]:
    """MLPClassifier's arguments for a configuration of `MLP_SPACE`."""
    return {
        "hidden_layer_sizes": (int(config["hidden_layer_size"]),),
        "alpha": config["alpha"],
        "batch_size": int(config["batch_size"]),
        "learning_rate_init": config["learning_rate_init"],
        "beta_1": 1.0 - config["one_minus_beta_1"],
        "beta_2": 1.0 - config["one_minus_beta_2"],
        "epsilon": config["epsilon"],
        "solver": "adam",
        "shuffle": True,
        "random_state": seed,
    }


def train_curve(config: dict[str, Any], seed: int, data: tuple[np.ndarray, ...],
                epochs: int) -> tuple[list[float], list[float]]:
    """Validation error and CPU seconds of each of `epochs` epochs of one training run."""
    x_train, x_val, y_train, y_val = data
    classes = np.unique(y_train)
    x_fit, x_stop, y_fit, y_stop = train_test_split(
        x_train, y_train, test_size=config["validation_fraction"], stratify=y_train,
        random_state=seed)
    model = MLPClassifier(**mlp_kwargs(config, seed))
    majority = 1.0 - float(np.max(np.bincount(y_val)) / len(y_val))
    errors: list[float] = []
    seconds: list[float] = []
    best_score, best_params, stale, stopped, broken = -np.inf, None, 0, False, False
    for _ in range(epochs):
        started = time.process_time()
        if not (stopped or broken):
            try:
                model.partial_fit(x_fit, y_fit, classes=classes)
            except ValueError:  # "Solver produced non-finite parameter weights"
                broken = True
        if not (stopped or broken):
            score = float(model.score(x_stop, y_stop))
            stale = stale + 1 if score < best_score + config["tol"] else 0
            if score > best_score:
                best_score = score
                best_params = ([c.copy() for c in model.coefs_], [b.copy() for b in model.intercepts_])
            if stale > N_ITER_NO_CHANGE and best_params is not None:
                model.coefs_, model.intercepts_ = best_params
                stopped = True
        error = majority if broken else 1.0 - float(model.score(x_val, y_val))
        seconds.append(round(time.process_time() - started, 5))
        errors.append(round(error, 5))
    return errors, seconds


def record(args: argparse.Namespace) -> None:
    settings = {"dataset": args.dataset, "epochs": args.epochs, "n_train": DATASETS[args.dataset][1],
                "n_val": DATASETS[args.dataset][2], "split_seed": args.seed,
                "n_iter_no_change": N_ITER_NO_CHANGE, "space": MLP_SPACE.to_json()}
    header, done = read_records(args.out)
    if header is not None and header["settings"] != json.loads(json.dumps(settings)):
        sys.exit(f"{args.out} was recorded with other settings; use another --out")
    if header is None:
        machine = {"platform": platform.platform(), "processor": platform.processor(),
                   "sklearn": sklearn.__version__, "numpy": np.__version__}
        args.out.write_text(json.dumps({"settings": settings, "machine": machine}) + "\n")
    elif not args.out.read_bytes().endswith(b"\n"):
        raw = args.out.read_bytes()
        args.out.write_bytes(raw[: raw.rfind(b"\n") + 1])
    rng = np.random.default_rng(args.seed)
    configs = [MLP_SPACE.sample(rng) for _ in range(args.configs)]
    data = load(args.dataset, args.seed)
    finished = {r["index"] for r in done}
    warnings.simplefilter("ignore")  # batch sizes above a small training set are clipped, quietly
    begun = time.perf_counter()
    for index, config in enumerate(configs):
        if index in finished:
            continue
        seeds = [index] + ([index + s for s in EXTRA_SEEDS] if index < args.repeats else [])
        runs = [train_curve(config, seed, data, args.epochs) for seed in seeds]
        line = {"index": index, "config": config, "seeds": seeds,
                "val_error": [e for e, _ in runs], "cpu_seconds": [s for _, s in runs]}
        with args.out.open("a") as out:
            out.write(json.dumps(line) + "\n")
        if index % 100 == 0:
            print(f"{args.dataset} [{index}/{len(configs)}] final error {runs[0][0][-1]:.3f}, "
                  f"{time.perf_counter() - begun:.0f} s so far", flush=True)


def pack(source: Path, target: Path) -> None:
    """The compact table rung.sim.mlp_curves reads: first seed's curves, extra seeds apart."""
    header, records = read_records(source)
    if header is None or not records:
        sys.exit(f"{source} holds no recorded curves")
    records.sort(key=lambda r: r["index"])
    names = list(MLP_SPACE.params)
    table = {
        "settings": header["settings"],
        "machine": header.get("machine", {}),
        "packed": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "configs": [[r["config"][n] for n in names] for r in records],
        "seeds": [r["seeds"][0] for r in records],
        "val_error": [r["val_error"][0] for r in records],
        "cpu_seconds": [r["cpu_seconds"][0] for r in records],
        "repeats": {str(i): {"seeds": r["seeds"][1:], "val_error": r["val_error"][1:]}
                    for i, r in enumerate(records) if len(r["seeds"]) > 1},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(target, "wt", compresslevel=9) as out:
        json.dump(table, out, separators=(",", ":"))
    print(f"wrote {len(records)} curves to {target} ({target.stat().st_size} bytes)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    parser.add_argument("--out", type=Path, help="JSON lines, appended to (default mlp_<dataset>.jsonl)")
    parser.add_argument("--configs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=100, help="configurations with 3 seeds")
    parser.add_argument("--epochs", type=int, default=27)
    parser.add_argument("--seed", type=int, default=0, help="data split and configuration draw")
    parser.add_argument("--pack", type=Path, help="then write the compressed table here")
    parser.add_argument("--pack-only", action="store_true", help="only pack what --out holds")
    args = parser.parse_args(argv)
    args.out = args.out or Path(f"mlp_{args.dataset}.jsonl")
    if not args.pack_only:
        record(args)
    if args.pack is not None:
        pack(args.out, args.pack)


if __name__ == "__main__":
    main()
