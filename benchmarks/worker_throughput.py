"""Does `rung worker` slow training down, and how long does it idle between jobs?

    .venv/bin/python benchmarks/worker_throughput.py                 # LeNet / Fashion-MNIST on the CPU
    .venv/bin/python benchmarks/worker_throughput.py --model resnet18 --dataset cifar10 \\
        --device cuda --amp --data-on-device --batch-size 256 --n-train 20000 --data-dir DIR
    (--synthetic: random images of CIFAR-10's shape on both sides, for a machine without the files;
    --write-docs: the output also to docs/generated/worker_throughput.md, or worker_throughput_<model>.md
    for a model other than LeNet)

1. Throughput. A real `rung serve` on 127.0.0.1 and a real `rung worker`
   subprocess train one trial for `--epochs` epochs (a FIFO study with one
   configuration); a bare PyTorch loop in this process trains the same model
   with the same optimizer, batch size, data split, device, precision and
   number of threads. Both evaluate on the same validation images after every
   epoch. Throughput counts epochs 2..E-1, from the end of epoch 1 to the end
   of epoch E-1 (the first epoch warms up, the last one checkpoints): for the worker
   that includes evaluation, the report to the server, heartbeats and progress
   lines (its JSON lines carry the times), for the bare loop its evaluation.
   Three rates: wall-clock images/s end to end; images per CPU second of the
   whole process (all threads: process_time, for the worker from its JSON
   lines' cpu_s), which a shared machine's changing load disturbs far less than wall
   clock; and wall-clock images/s of the training part alone. The bare
   loop indexes its tensors directly, the leanest loop there is (on a GPU with
   --data-on-device it holds the data on the GPU, as the worker then does).
   Rounds alternate which side runs first; each ratio reported is the median
   over rounds of that round's ratio.

2. Gap between jobs. A worker runs an ASHA study of many short jobs (LeNet,
   256 random training images: the gap does not depend on the data); the gap is the time from the server's answer to a job's
   last report to the moment the worker holds its next job (the JSON `epoch`
   and `job` lines): closing the job, stopping its heartbeat thread, and the
   Suggest call (a scheduling decision and a durable SQLite commit on the server).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from rung.client import Client
from rung.server.launch import spawn_server
from rung.workers.data import load_cifar10, load_fashion_mnist, prepare_fashion_mnist
from rung.workers.models import build_model
from rung.workers.training import ImageClassification, TrainingSettings

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_report.py
from _report import Fragment, add_write_docs_flag  # noqa: E402

HERE = Path(__file__).resolve().parent
SYNTHETIC = "worker_throughput:make_synthetic_objective"  # importable by workers started in benchmarks/
SHAPES = {"fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32)}

LEARNING_RATE = 0.05
EVAL_BATCH_SIZE = 1024  # as the worker's objective


def synthetic_images(dataset: str, n: int, seed: int) -> TensorDataset:
    """Random normalized images of `dataset`'s shape: the speed of training does not depend on pixels."""
    shape = SHAPES[dataset]
    generator = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, *shape, generator=generator), torch.randint(0, 10, (n,), generator=generator))


class SyntheticImages(ImageClassification):
    """The built-in CNN objective on random images (for machines without the data set)."""

    def load_data(self) -> tuple[TensorDataset, TensorDataset]:
        s = self.settings
        return synthetic_images(s.dataset, s.n_train or 6000, 1), synthetic_images(s.dataset, s.n_val or 1000, 2)


def make_synthetic_objective(settings: TrainingSettings) -> SyntheticImages:
    return SyntheticImages(settings)


def worker_command(args: argparse.Namespace, address: str, study: str, workdir: Path, **overrides: Any) -> list[str]:
    flags = {
        "--server": address, "--study": study, "--max-epochs": args.epochs, "--checkpoints": workdir / "ckpt",
        "--data-dir": Path(args.data_dir).resolve(),  # workers start in benchmarks/
        "--n-train": args.n_train, "--n-val": args.n_val, "--device": args.device,
        "--threads": args.threads, "--dataset": args.dataset, "--model": args.model, "--progress": "json",
        **overrides,
    }
    if args.synthetic:
        flags["--objective"] = SYNTHETIC
    command = [sys.executable, "-m", "rung.cli", "worker"]
    for flag, value in flags.items():
        command += [flag, str(value)]
    return command + ["--amp"] * args.amp + ["--data-on-device"] * args.data_on_device


def json_lines(command: list[str]) -> list[dict[str, Any]]:
    out = subprocess.run(command, capture_output=True, text=True, check=False, cwd=HERE)
    if out.returncode != 0:
        raise RuntimeError(f"worker failed:\n{out.stderr[-3000:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


class Rates(NamedTuple):
    """Images per second over the measured epochs: wall clock end to end, per CPU second, training only."""

    wall: float
    cpu: float
    training: float


def worker_round(args: argparse.Namespace, client: Client, address: str, workdir: Path, n: int) -> Rates:
    """One worker trial, measured from the end of epoch 1 to the end of epoch E-1."""
    study = f"throughput-{n}"
    client.create_study(study, space={"learning_rate": [LEARNING_RATE], "batch_size": [args.batch_size]},
                        scheduler="fifo", r_max=args.epochs, max_trials=1)
    worker = subprocess.Popen(worker_command(args, address, study, workdir), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, cwd=HERE)
    assert worker.stdout is not None
    measured = {}  # epoch -> its JSON line
    for text in worker.stdout:
        line = json.loads(text) if text.startswith("{") else {}
        if line.get("event") == "epoch":
            measured[line["epoch"]] = line
    if worker.wait() != 0 or sorted(measured) != list(range(1, args.epochs + 1)):
        raise RuntimeError(f"worker failed (exit {worker.returncode}), epochs seen: {sorted(measured)}")
    first, last = measured[1], measured[args.epochs - 1]
    images = (args.n_train - args.n_train % args.batch_size) * (args.epochs - 2)
    training = statistics.median(measured[e]["images_per_s"] for e in range(2, args.epochs))
    return Rates(images / (last["time"] - first["time"]), images / (last["cpu_s"] - first["cpu_s"]), training)


def bare_round(args: argparse.Namespace, data: tuple[torch.Tensor, ...], seed: int) -> Rates:
    """The same training as a plain loop, measured over the same epochs."""
    device = torch.device(args.device)
    train_x, train_y, val_x, val_y = data
    torch.manual_seed(seed)
    model = build_model(args.model, 10, input_shape=tuple(train_x.shape[1:])).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.9)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp and device.type == "cuda")
    ends, cpu, train_rates = [], [], []
    images = len(train_y) - len(train_y) % args.batch_size
    for _ in range(args.epochs):
        started = time.perf_counter()
        model.train()
        for idx in torch.randperm(len(train_y))[:images].split(args.batch_size):
            x = train_x[idx].to(device, non_blocking=True)
            y = train_y[idx].to(device, non_blocking=True)
            with amp:
                loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        schedule.step()
        float(loss.detach())  # wait for the device
        train_rates.append(images / (time.perf_counter() - started))
        model.eval()
        with torch.no_grad(), amp:
            wrong = sum(int((model(x).argmax(1) != y).sum())
                        for x, y in zip(val_x.split(EVAL_BATCH_SIZE), val_y.split(EVAL_BATCH_SIZE)))
        assert 0 <= wrong <= len(val_y)
        ends.append(time.perf_counter())
        cpu.append(time.process_time())
    measured = images * (args.epochs - 2)
    return Rates(measured / (ends[-2] - ends[0]), measured / (cpu[-2] - cpu[0]),
                 statistics.median(train_rates[1:-1]))


def load_data(args: argparse.Namespace) -> tuple[torch.Tensor, ...]:
    """The worker's own split, so both sides train on the same images."""
    if args.synthetic:
        train = synthetic_images(args.dataset, args.n_train, 1)
        val = synthetic_images(args.dataset, args.n_val, 2)
    elif args.dataset == "fashion_mnist":
        prepare_fashion_mnist(Path(args.data_dir))
        train, val = load_fashion_mnist(Path(args.data_dir), args.n_train, args.n_val, 0)
    else:
        train, val = load_cifar10(Path(args.data_dir), args.n_train, args.n_val, 0, download=False)
    device = torch.device(args.device)
    on_device = args.data_on_device and device.type == "cuda"
    train_x, train_y = (t.to(device) if on_device else t.pin_memory() if device.type == "cuda" else t
                        for t in train.tensors)
    val_x, val_y = (t.to(device) for t in val.tensors)
    return train_x, train_y, val_x, val_y


def gaps(args: argparse.Namespace, client: Client, address: str, workdir: Path) -> list[float]:
    """Milliseconds from each job's last report to the next job, over an ASHA study of short jobs."""
    client.create_study("gaps", space={"learning_rate": [0.1, 0.05, 0.02, 0.01], "batch_size": [32, 64]},
                        scheduler="asha", r_max=9, eta=3, max_trials=args.gap_trials)
    lines = json_lines(worker_command(args, address, "gaps", workdir, **{
        "--max-epochs": 9, "--n-train": 256, "--n-val": 64, "--dataset": "fashion_mnist", "--model": "lenet",
        "--objective": SYNTHETIC,  # the gap does not depend on the data
    }))
    result, last_report = [], None
    for line in lines:
        if line["event"] == "job" and last_report is not None:
            result.append(1000 * (line["time"] - last_report))
        last_report = line["time"] if line["event"] == "epoch" else None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--model", default="lenet", choices=["lenet", "resnet18"])
    parser.add_argument("--dataset", default="fashion_mnist", choices=["fashion_mnist", "cifar10"])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--synthetic", action="store_true",
                        help="random images of the data set's shape, on both sides (no files needed)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA, in both loops")
    parser.add_argument("--data-on-device", action="store_true", help="training set on the GPU, in both loops")
    parser.add_argument("--epochs", type=int, default=5, help="per trial; epochs 2..E-1 are measured")
    parser.add_argument("--n-train", type=int, default=6000)
    parser.add_argument("--n-val", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gap-trials", type=int, default=30)
    add_write_docs_flag(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True  # as the worker does

    data = load_data(args)
    out = Fragment("worker_throughput" if args.model == "lenet" else f"worker_throughput_{args.model}")
    out.lines.append("```")  # the output as printed, in a code block on the page
    with tempfile.TemporaryDirectory(prefix="rung-worker-bench-") as tmp:
        workdir = Path(tmp)
        server, address = spawn_server(["--port", "0", "--db", str(workdir / "rung.db")], workdir / "rung.log")
        try:
            with Client(address) as client:
                worker, bare = [], []
                for n in range(args.rounds):  # odd rounds run the bare loop first
                    if n % 2:
                        bare.append(bare_round(args, data, n))
                    worker.append(worker_round(args, client, address, workdir, n))
                    if not n % 2:
                        bare.append(bare_round(args, data, n))
                    w, b = worker[-1], bare[-1]
                    out.print(f"round {n + 1}: worker {w.wall:,.0f} images/s ({w.cpu:,.0f} per CPU second), "
                          f"bare loop {b.wall:,.0f} ({b.cpu:,.0f}); ratios {w.wall / b.wall:.3f} wall clock, "
                          f"{w.cpu / b.cpu:.3f} CPU")
                gap_ms = gaps(args, client, address, workdir)
        finally:
            server.terminate()
            server.wait(timeout=30)

    amp = " with bf16 autocast" if args.amp else ""
    data_name = f"random {args.dataset}-shaped images" if args.synthetic else args.dataset
    out.print(f"\n{args.model} on {data_name}, {args.device}{amp}, batch {args.batch_size}, "
          f"{args.n_train} images, {args.threads} threads, epochs 2..{args.epochs - 1} of {args.rounds} rounds "
          "(medians over rounds):")
    for label, field in (("wall clock, end to end", "wall"), ("per CPU second, end to end", "cpu"),
                         ("wall clock, training only", "training")):
        w, b = (statistics.median(getattr(r, field) for r in side) for side in (worker, bare))
        ratios = [getattr(wr, field) / getattr(br, field) for wr, br in zip(worker, bare)]
        out.print(f"  {label:27} rung worker {w:8,.0f} images/s, bare loop {b:8,.0f}, "
                  f"ratio {statistics.median(ratios):.3f} (rounds {min(ratios):.3f}-{max(ratios):.3f})")
    out.print("  (ratio: median of the rounds' ratios; target >= 0.95)")
    gap_ms.sort()
    out.print(f"gap from a job's last report to the next job: median {statistics.median(gap_ms):.1f} ms, "
          f"p90 {gap_ms[int(0.9 * (len(gap_ms) - 1))]:.1f} ms, max {gap_ms[-1]:.1f} ms over {len(gap_ms)} "
          f"job changes (target: median < 10 ms)")
    out.lines.append("```")
    out.write_if(args.write_docs)


if __name__ == "__main__":
    main()
