"""`rung serve`: its flags, and starting the server with them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from rung.credentials import TOKEN_ENV

if TYPE_CHECKING:
    from rung.server.blobs import CheckpointSettings


def add_serve_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """`rung serve`: run the server daemon."""
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
    p.add_argument("--tensorboard-dir", default=None, metavar="DIR",
                   help="mirror every study to TensorBoard runs DIR/STUDY/trial-ID (needs "
                        "rung[tensorboard]; docs/tracking.md)")
    p.add_argument("--mlflow-uri", default=None, metavar="URI",
                   help="mirror every study to this MLflow tracking server: a parent run per "
                        "study, a child run per trial (needs rung[mlflow]; docs/tracking.md)")
    p.add_argument("--mlflow-experiment", default=None, metavar="NAME",
                   help="the MLflow experiment of every study (default: one named after each)")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from rung.server.app import CannotListen, serve
    from rung.server.database import (
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
            max_workers=args.max_workers, tensorboard_dir=args.tensorboard_dir,
            mlflow_uri=args.mlflow_uri, mlflow_experiment=args.mlflow_experiment,
            # Given only when set: their defaults live beside the server (app.py, database.py).
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
