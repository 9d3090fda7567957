"""The `rung` command: serve, worker, demo, status, and study administration."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from rung.core.errors import InvalidArgument
from rung.credentials import CA_FILE_ENV, TOKEN_ENV, CredentialsError, read_token_file
from rung.logs import FORMATS as LOG_FORMATS
from rung.logs import LEVELS as LOG_LEVELS
from rung.logs import setup_logging

if TYPE_CHECKING:
    from rung.client import Client
    from rung.server.blobs import CheckpointSettings

DEFAULT_DATA = Path("data")
DEFAULT_SERVER = "127.0.0.1:50051"
WORKER_RETRY_SECONDS = 300.0  # a worker rides out a server restart of up to five minutes
COMMAND_RETRY_SECONDS = 10.0  # a command such as `rung status` retries for this long


def _serve(args: argparse.Namespace) -> int:
    from rung.server.app import CannotListen, serve
    from rung.server.journals import (
        DatabaseInUse,
        DatabaseRefused,
        DatabaseUnreachable,
        UnsupportedDatabase,
        check_target,
    )
    from rung.server.security import ServerSecurity

    try:
        check_target(args.db)
    except UnsupportedDatabase as exc:
        raise SystemExit(f"rung serve: {exc}") from None
    security = ServerSecurity.from_files(args.token_file, args.tls_cert, args.tls_key)
    try:
        return serve(
            args.db, args.host, args.port, args.lease_seconds, security=security,
            insecure=args.insecure, metrics_port=args.metrics_port, metrics_host=args.metrics_host,
            checkpoints=_checkpoint_settings(args), http_port=args.http_port,
            http_host=args.http_host or args.host, snapshot_every=args.snapshot_every,
            max_workers=args.max_workers,
            # Given only when set: their defaults live beside the server (app.py, journals.py).
            **{name: value for name in ("stop_timeout", "db_wait")
               if (value := getattr(args, name)) is not None},
        )
    except (CannotListen, DatabaseInUse, DatabaseRefused, DatabaseUnreachable) as exc:
        raise SystemExit(f"rung serve: {exc}") from None


def _stop_timeout(text: str) -> float:
    from rung.server.app import STOP_GRACE_SECONDS

    value = float(text)
    if not STOP_GRACE_SECONDS < value < float("inf"):  # NaN included
        raise argparse.ArgumentTypeError(
            f"must be a finite number of seconds, more than the {STOP_GRACE_SECONDS:g} calls "
            f"in flight have to finish; got {text}"
        )
    return value


def _non_negative_seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value < float("inf"):  # NaN included
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _use_connection_flags(args: argparse.Namespace) -> None:
    """Hands --token-file and --ca-file to every Client this process (or a child) opens.

    They travel as $RUNG_TOKEN and $RUNG_CA_FILE, which Client reads by
    default, so the worker loop and the admin commands share one path.
    """
    if args.token_file:
        os.environ[TOKEN_ENV] = read_token_file(args.token_file)
    if args.ca_file:
        os.environ[CA_FILE_ENV] = args.ca_file


def _client(args: argparse.Namespace, worker: bool = False) -> "Client":
    """A Client for --server with the connection flags. A worker waits minutes for a server
    that restarts; a command (status, create, export, ...) retries for 10 s and then says
    that nothing answers, instead of waiting out a 30 s deadline in silence."""
    from rung.client import Client

    _use_connection_flags(args)
    if worker:
        return Client(args.server, retry_seconds=WORKER_RETRY_SECONDS)
    return Client(args.server, retry_seconds=COMMAND_RETRY_SECONDS, wait_for_ready=False)


def _worker(args: argparse.Namespace) -> int:
    import torch

    from rung.workers.loop import run_worker

    if args.gpus:
        from rung.client.sdk import default_worker_id
        from rung.workers.launcher import launch, parse_gpus

        try:
            gpus = parse_gpus(args.gpus, torch.cuda.device_count)
            if gpus:
                return launch(args.argv, gpus, args.worker_id or default_worker_id())
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        print(f"rung worker --gpus {args.gpus}: this machine has no CUDA device; "
              "running one worker on the CPU instead", file=sys.stderr)
        args.device = "cpu"
    if args.threads:
        torch.set_num_threads(args.threads)
    objective, progress = _worker_objective(args)
    client = _client(args, worker=True)
    summary = run_worker(
        client, args.study, objective, args.checkpoints, args.worker_id, progress, args.max_failures
    )
    print(
        f"worker done: {summary.jobs} jobs, {summary.epochs_trained} epochs trained, "
        f"{summary.epochs_resumed} epochs skipped by resuming from checkpoints, "
        f"{summary.failed} trials failed"
    )
    return 0


def _worker_objective(args: argparse.Namespace) -> tuple[Any, Any]:
    """The objective (`--objective`, built from the training flags) and the progress display."""
    from rung.workers.datapath import DataPathOptions
    from rung.workers.objective import TrainingSettings, load_objective_factory
    from rung.workers.progress import make_progress

    try:
        options = dict(_key_value(text) for text in args.objective_option)
        factory = load_objective_factory(args.objective)
        settings = TrainingSettings(
            data_dir=Path(args.data_dir),
            max_epochs=args.max_epochs,
            dataset=args.dataset,
            model=args.model,
            n_train=args.n_train or None,
            n_val=args.n_val or None,
            device=args.device,
            amp=args.amp,
            seed=args.data_seed,
            download=args.download,
            model_metrics=args.model_metrics,
            data_path=DataPathOptions(
                loader_workers=args.loader_workers,
                pin_memory=args.pin_memory,
                persistent_workers=args.persistent_workers,
                prefetch_factor=args.prefetch_factor,
                gpu_prefetch=args.gpu_prefetch,
                on_device=args.data_on_device,
                augment=args.augment,
                channels_last=args.channels_last,
                compile=args.compile,
            ),
            options=options,
        )
        return factory(settings), make_progress(args.progress)
    except ValueError as exc:  # bad flags, an unknown objective, a CUDA device that is not there
        raise InvalidArgument(str(exc)) from None


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--objective-option takes KEY=VALUE, got {text!r}")
    return key, value


def _status(args: argparse.Namespace) -> int:
    from rung.status import show_status

    return show_status(_client(args), args.study, args.watch)


def _create(args: argparse.Namespace) -> int:
    import json

    from rung.study_file import study_options

    try:
        data = json.loads(Path(args.space).read_text())
        initial = [json.loads(text) for text in args.initial_config]
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"cannot read the search space or an initial config: {exc}") from exc
    options = study_options(data, args.objective, args.constraint, args.reference_point)
    scheduler, searcher = _scheduler_and_searcher(args)
    with _client(args) as client:
        client.create_study(
            args.study, **options, metric=args.metric, mode=args.mode,
            scheduler=scheduler, r_min=args.r_min, r_max=args.r_max, eta=args.eta,
            brackets=args.brackets, searcher=searcher, initial_configs=initial,
            max_trials=args.max_trials, max_resource=args.max_resource,
            max_wall_seconds=args.max_wall_seconds, seed=args.seed,
        )
    print(f"study {args.study}: {scheduler} with the {searcher} searcher")
    return 0


def _scheduler_and_searcher(args: argparse.Namespace) -> tuple[str, str]:
    """--recommended, or the flags given, or asha with random search."""
    from rung.core.study import RECOMMENDED

    if args.recommended:
        if args.scheduler or args.searcher:
            raise InvalidArgument("--recommended sets --scheduler and --searcher; give one or the other")
        return RECOMMENDED["scheduler"], RECOMMENDED["searcher"]
    return args.scheduler or "asha", args.searcher or "random"


def _add_study_flags(p: argparse.ArgumentParser) -> None:
    """How a study is tuned: shared by `rung create` and `rung demo`."""
    from rung.core.schedulers import SCHEDULERS
    from rung.core.searchers import SEARCHERS

    from rung.core.study import RECOMMENDED

    p.add_argument("--scheduler", choices=sorted(SCHEDULERS), help="default: asha")
    p.add_argument("--searcher", choices=sorted(SEARCHERS), help="default: random")
    p.add_argument(
        "--recommended", action="store_true",
        help=f"the recommended general choice: {RECOMMENDED['scheduler']} scheduler with the "
        f"{RECOMMENDED['searcher']} searcher (docs/compare.md)",
    )
    p.add_argument("--eta", type=int, default=3, help="reduction factor")
    p.add_argument("--seed", type=int, default=0)


def _studies(args: argparse.Namespace) -> int:
    from rung.status import format_study_list

    with _client(args) as client:
        print(format_study_list(client.list_studies()))
    return 0


def _stop(args: argparse.Namespace) -> int:
    with _client(args) as client:
        client.stop_study(args.study)
    print(f"study {args.study} stopped: running trials stop at their next report")
    return 0


def _delete(args: argparse.Namespace) -> int:
    with _client(args) as client:
        info = client.get_study(args.study)  # NOT_FOUND before asking anything
        if not args.yes:
            if not sys.stdin.isatty():
                print("rung delete: pass --yes to delete without a prompt", file=sys.stderr)
                return 2
            answer = input(
                f"delete study {args.study} and its {info.trials_started} trials? "
                "Type the study name to confirm: "
            )
            if answer.strip() != args.study:
                print("not deleted")
                return 1
        client.delete_study(args.study)
    print(f"study {args.study} deleted")
    return 0


def _export(args: argparse.Namespace) -> int:
    from rung.export import write_export

    fmt = args.format or ("json" if args.output and args.output.endswith(".json") else "csv")
    with _client(args) as client:
        study, trials = client.get_study(args.study), client.list_trials(args.study)
    if not args.output or args.output == "-":
        write_export(study, trials, fmt, sys.stdout)
        return 0
    with open(args.output, "w", encoding="utf-8", newline="") as out:
        write_export(study, trials, fmt, out)
    print(f"{len(trials)} trials of {args.study} written to {args.output}", file=sys.stderr)
    return 0


def _add_checkpoint_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint-dir", default=None,
                   help="where workers' uploaded checkpoints are kept (default: DB.checkpoints)")
    p.add_argument("--max-checkpoint-mb", type=float, default=512.0,
                   help="largest checkpoint a worker may upload, in MiB")
    p.add_argument("--checkpoint-sweep-seconds", type=float, default=30.0,
                   help="how often checkpoints no trial can resume from are deleted")


def _checkpoint_settings(args: argparse.Namespace) -> "CheckpointSettings":
    from rung.server.blobs import CheckpointSettings

    if args.max_checkpoint_mb <= 0 or args.checkpoint_sweep_seconds <= 0:
        raise SystemExit(
            "rung serve: --max-checkpoint-mb and --checkpoint-sweep-seconds must be > 0"
        )
    return CheckpointSettings(
        directory=Path(args.checkpoint_dir) if args.checkpoint_dir else None,
        max_bytes=int(args.max_checkpoint_mb * (1 << 20)),
        sweep_seconds=args.checkpoint_sweep_seconds,
    )


def _export_checkpoint(args: argparse.Namespace) -> int:
    from rung.client.transfer import ChecksumError

    with _client(args) as client:
        try:
            trial = client.study(args.study).export_best_checkpoint(args.output)
        except (LookupError, OSError, ChecksumError) as exc:
            print(f"rung export-checkpoint: {exc}", file=sys.stderr)
            return 1
    print(
        f"trial {trial.id} (the incumbent), checkpoint at resource {trial.checkpoint_resource}, "
        f"written to {args.output}"
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from rung.demo import DemoSettings, run_demo

    scheduler, searcher = _scheduler_and_searcher(args)
    return run_demo(
        DemoSettings(
            workdir=Path(args.workdir),
            data_dir=Path(args.data_dir),
            workers=args.workers,
            trials=args.trials,
            r_max=args.r_max,
            eta=args.eta,
            scheduler=scheduler,
            searcher=searcher,
            n_train=args.n_train,
            n_val=args.n_val,
            seed=args.seed,
        )
    )


def _add_training_flags(p: argparse.ArgumentParser, n_train: int) -> None:
    p.add_argument("--data-dir", default=str(DEFAULT_DATA), help="dataset folder")
    p.add_argument("--n-train", type=int, default=n_train, help="training images (0 = all)")
    p.add_argument("--n-val", type=int, default=1000, help="validation images held out of train")


def _add_data_path_flags(p: argparse.ArgumentParser) -> None:
    """How batches reach the model; every choice is recorded with each trial."""
    g = p.add_argument_group("data path (recorded with each trial)")
    g.add_argument("--loader-workers", type=int, default=0, help="DataLoader processes")
    g.add_argument("--pin-memory", action=argparse.BooleanOptionalAction, default=True,
                   help="page-locked batches for asynchronous copies (CUDA)")
    g.add_argument("--persistent-workers", action="store_true",
                   help="keep loader processes across epochs and trials")
    g.add_argument("--prefetch-factor", type=int, default=None,
                   help="batches each loader process prepares ahead")
    g.add_argument("--gpu-prefetch", action=argparse.BooleanOptionalAction, default=True,
                   help="copy the next batch to the GPU while the current one trains (CUDA)")
    g.add_argument("--data-on-device", action="store_true",
                   help="hold the training set on the GPU as tensors (small data sets)")
    g.add_argument("--augment", action="store_true",
                   help="random crop and flip, computed where the batch is")
    g.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    g.add_argument("--compile", action="store_true", help="torch.compile the model")


def _add_connection_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", default=DEFAULT_SERVER,
                   help="HOST:PORT of `rung serve`; several, comma-separated, for standby servers")
    p.add_argument("--token-file", default=None,
                   help=f"file holding the server's token (default: ${TOKEN_ENV})")
    p.add_argument("--ca-file", default=None,
                   help=f"CA certificate that signed the server's TLS certificate; turns TLS on "
                        f"(default: ${CA_FILE_ENV}; neither: plaintext)")


def _add_logging_flags(p: argparse.ArgumentParser, with_defaults: bool) -> None:
    """On the main parser with defaults; on subcommands without, so they never reset them."""

    def default(value: object) -> object:
        return value if with_defaults else argparse.SUPPRESS

    p.add_argument("-v", "--verbose", action="store_true", default=default(False),
                   help="debug logging")
    p.add_argument("--log-level", choices=LOG_LEVELS, default=default(None),
                   help="default: info for serve, warning otherwise")
    p.add_argument("--log-format", choices=LOG_FORMATS, default=default("text"),
                   help="json: one JSON object per line on stderr, for log collectors")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rung", description=__doc__)
    _add_logging_flags(parser, with_defaults=True)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the server daemon")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on; anything but loopback needs a token or --insecure")
    p.add_argument("--port", type=int, default=50051, help="0 picks a free port")
    p.add_argument("--db", default="rung.db",
                   help="SQLite journal file, or postgresql://user@host:5432/dbname")
    p.add_argument("--snapshot-every", type=_positive_int, default=1000,
                   help="save a study's state every N events, so a restart replays at most N")
    p.add_argument("--lease-seconds", type=float, default=60.0,
                   help="a job whose worker stops heartbeating for this long is resumed elsewhere")
    p.add_argument("--max-workers", type=_positive_int, default=16,
                   help="threads for the calls that may block: listings, checkpoints, WatchStudy, "
                        "model-fitting searchers (workers' calls are answered on an event loop)")
    p.add_argument("--db-wait", type=_non_negative_seconds, default=None,
                   help="with PostgreSQL: seconds a starting server waits for the database to "
                        "answer before it gives up (default: 60); once reached, outages are "
                        "waited out")
    p.add_argument("--stop-timeout", type=_stop_timeout, default=None,
                   help="seconds a stop (SIGTERM, SIGINT) may take before the server exits at "
                        "once, status 1, with every thread's stack on stderr (default: 45); a "
                        "second signal does the same at once")
    p.add_argument("--token-file", default=None,
                   help=f"require this shared token from every client (default: ${TOKEN_ENV}; "
                        "neither: no authentication)")
    p.add_argument("--tls-cert", default=None, help="server certificate (PEM); turns TLS on")
    p.add_argument("--tls-key", default=None, help="private key of --tls-cert (PEM)")
    p.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback --host without a token (trusted networks only)")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="serve Prometheus metrics on this port (0 picks one; default: off)")
    p.add_argument("--metrics-host", default="127.0.0.1", help="address of the metrics endpoint")
    p.add_argument("--http-port", type=int, default=None,
                   help="serve the web dashboard on this port (0 picks one; default: off)")
    p.add_argument("--http-host", default=None,
                   help="address of the dashboard (default: --host); same token and TLS rules")
    _add_checkpoint_flags(p)
    p.set_defaults(func=_serve)

    p = sub.add_parser("worker", help="train jobs of a study (one process per GPU)")
    _add_connection_flags(p)
    p.add_argument("--study", required=True)
    p.add_argument("--checkpoints", default="checkpoints",
                   help="checkpoint folder shared by all workers of a study, or `server` to "
                        "keep checkpoints on the server (no shared filesystem needed)")
    p.add_argument("--objective", default="cnn", metavar="cnn|dropout_mlp|MODULE:FACTORY",
                   help="what to train: the built-in CNN (--model on --dataset), the seeds' "
                        "dropout MLP, or your own factory by import path, e.g. "
                        "mypkg.train:make_objective (see docs/workers.md)")
    p.add_argument("--objective-option", action="append", default=[], metavar="KEY=VALUE",
                   help="passed to your objective as settings.options (repeatable)")
    p.add_argument("--dataset", default="fashion_mnist", choices=["fashion_mnist", "cifar10"])
    p.add_argument("--model", default="lenet", choices=["lenet", "resnet18"])
    p.add_argument("--max-epochs", type=int, required=True,
                   help="the study's r_max (horizon of the learning-rate schedule)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--amp", action="store_true", help="mixed precision on CUDA")
    p.add_argument("--model-metrics", action="store_true",
                   help="report params and latency_ms beside error (multi-objective studies)")
    p.add_argument("--download", action="store_true",
                   help="let torchvision download CIFAR-10 if it is missing (start one worker "
                        "with it first; Fashion-MNIST falls back to a download by itself)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the train/validation split")
    p.add_argument("--worker-id", default=None)
    p.add_argument("--gpus", default=None, metavar="all|0,1,...",
                   help="start one worker process per GPU (CUDA_VISIBLE_DEVICES set for each); "
                        "without a GPU, `all` runs one worker on the CPU")
    p.add_argument("--progress", default="auto", choices=["auto", "bar", "json", "off"],
                   help="a bar per epoch on a terminal, JSON lines otherwise (auto)")
    p.add_argument("--max-failures", type=int, default=3, metavar="N",
                   help="stop after N trials in a row failed with an error other than divergence "
                        "or out-of-memory (0 = never)")
    _add_training_flags(p, n_train=6000)
    _add_data_path_flags(p)
    p.set_defaults(func=_worker)

    p = sub.add_parser("status", help="show studies, running jobs and leases, rungs, incumbent")
    _add_connection_flags(p)
    p.add_argument("--study", default=None)
    p.add_argument("--watch", type=float, default=0.0, metavar="SECONDS",
                   help="refresh every SECONDS until interrupted")
    p.set_defaults(func=_status)

    p = sub.add_parser("create", help="create a study (or open the same one)")
    p.add_argument("study")
    p.add_argument("--space", required=True, metavar="FILE",
                   help='JSON search space, e.g. {"lr": {"type": "Float", "low": 0.001, '
                        '"high": 1, "log": true}, "bs": {"type": "Int", "low": 16, "high": 256}}')
    p.add_argument("--initial-config", action="append", default=[], metavar="JSON",
                   help="a config to try first (repeatable)")
    p.add_argument("--metric", default="error")
    p.add_argument("--mode", default="min", choices=["min", "max"])
    p.add_argument("--objective", action="append", default=[], metavar="NAME:MODE",
                   help="an objective, e.g. error:min (repeatable; replaces --metric/--mode)")
    p.add_argument("--constraint", action="append", default=[], metavar="'METRIC <= BOUND'",
                   help="a bound that must hold, e.g. 'memory_mb <= 4000' (repeatable)")
    p.add_argument("--reference-point", default=None, metavar="V1,V2,...",
                   help="hypervolume reference point, one value per objective")
    p.add_argument("--r-min", type=int, default=1)
    p.add_argument("--r-max", type=int, default=9)
    p.add_argument("--brackets", type=int, default=0, help="Hyperband brackets (0 = all)")
    p.add_argument("--max-trials", type=int, default=0)
    p.add_argument("--max-resource", type=int, default=0)
    p.add_argument("--max-wall-seconds", type=float, default=0.0)
    _add_study_flags(p)
    _add_connection_flags(p)
    p.set_defaults(func=_create)

    p = sub.add_parser("studies", help="list the server's studies")
    _add_connection_flags(p)
    p.set_defaults(func=_studies)

    p = sub.add_parser("stop", help="stop a study: no new jobs, running trials stop")
    _add_connection_flags(p)
    p.add_argument("study")
    p.set_defaults(func=_stop)

    p = sub.add_parser("delete", help="delete a study and all its results")
    _add_connection_flags(p)
    p.add_argument("study")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=_delete)

    p = sub.add_parser("export", help="write a study's trials as CSV or JSON")
    _add_connection_flags(p)
    p.add_argument("study")
    p.add_argument("--format", choices=["csv", "json"], default=None,
                   help="default: json for an -o ending in .json, else csv")
    p.add_argument("-o", "--output", default=None, help="file to write (default: stdout)")
    p.set_defaults(func=_export)

    p = sub.add_parser("export-checkpoint", help="save the best trial's checkpoint to a file")
    _add_connection_flags(p)
    p.add_argument("study")
    p.add_argument("-o", "--output", required=True, help="file to write")
    p.set_defaults(func=_export_checkpoint)

    p = sub.add_parser("demo", help="ASHA tunes LeNet on Fashion-MNIST with local workers")
    p.add_argument("--workdir", default="runs/demo", help="server database and checkpoints")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--trials", type=int, default=32)
    p.add_argument("--r-max", type=int, default=27, help="epochs of a fully trained trial")
    _add_study_flags(p)
    _add_training_flags(p, n_train=20000)
    p.set_defaults(func=_demo)

    from rung.sim.cli import add_bench_parser, add_plot_parser

    add_bench_parser(sub)
    add_plot_parser(sub)  # a secured server: set $RUNG_TOKEN / $RUNG_CA_FILE
    for command in sub.choices.values():  # `rung serve --log-format json` works too
        _add_logging_flags(command, with_defaults=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # `worker --gpus` re-runs it
    level = "debug" if args.verbose else args.log_level
    setup_logging(level or ("info" if args.command == "serve" else "warning"), args.log_format)
    import grpc

    try:
        return int(args.func(args) or 0)
    except (CredentialsError, InvalidArgument) as exc:
        print(f"rung {args.command}: {exc}", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:  # a refusal from the server, said plainly
        hint = ""
        if exc.code() == grpc.StatusCode.UNAVAILABLE and getattr(args, "server", None):
            hint = f" (is `rung serve` running at {args.server}? --server says where)"
        print(f"rung {args.command}: {exc.code().name}: {exc.details()}{hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
