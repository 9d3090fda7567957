"""The `rung` command: serve, worker, demo, status, and study administration."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from rung.commands.common import (
    COMMAND_RETRY_SECONDS,
    DEFAULT_DATA,
    DEFAULT_SERVER,
    WORKER_RETRY_SECONDS,
    add_logging_flags,
)
from rung.commands.demo import add_demo_parser
from rung.commands.serve import add_serve_parser
from rung.commands.steer import add_steer_parsers
from rung.commands.studies import add_study_parsers
from rung.commands.worker import add_worker_parser
from rung.core.errors import InvalidArgument
from rung.credentials import CredentialsError
from rung.logs import setup_logging

__all__ = [
    "COMMAND_RETRY_SECONDS", "DEFAULT_DATA", "DEFAULT_SERVER", "WORKER_RETRY_SECONDS", "build_parser", "main",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rung", description=__doc__)
    add_logging_flags(parser, with_defaults=True)
    sub = parser.add_subparsers(dest="command", required=True)

    add_serve_parser(sub)
    add_worker_parser(sub)
    add_study_parsers(sub)
    add_steer_parsers(sub)
    add_demo_parser(sub)

    from rung.sim.cli import add_bench_parser, add_plot_parser

    add_bench_parser(sub)
    add_plot_parser(sub)  # a secured server: set $RUNG_TOKEN / $RUNG_CA_FILE
    for command in sub.choices.values():  # `rung serve --log-format json` works too
        add_logging_flags(command, with_defaults=False)
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
