"""What the `rung` commands share: where the server is, how to reach it, the flags of a study.

Connection and logging flags, the Client a command or a worker opens, and the
flags `rung create` and `rung demo` (or `rung worker` and `rung demo`) have in
common.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from rung.core.errors import InvalidArgument
from rung.credentials import CA_FILE_ENV, TOKEN_ENV, read_token_file
from rung.logs import FORMATS as LOG_FORMATS
from rung.logs import LEVELS as LOG_LEVELS

if TYPE_CHECKING:
    from rung.client import Client

DEFAULT_DATA = Path("data")
DEFAULT_SERVER = "127.0.0.1:50051"
WORKER_RETRY_SECONDS = 300.0  # a worker rides out a server restart of up to five minutes
COMMAND_RETRY_SECONDS = 10.0  # a command such as `rung status` retries for this long


def use_connection_flags(args: argparse.Namespace) -> None:
    """Hands --token-file and --ca-file to every Client this process (or a child) opens.

    They travel as $RUNG_TOKEN and $RUNG_CA_FILE, which Client reads by
    default, so the worker loop and the admin commands share one path.
    """
    if args.token_file:
        os.environ[TOKEN_ENV] = read_token_file(args.token_file)
    if args.ca_file:
        os.environ[CA_FILE_ENV] = args.ca_file


def open_client(args: argparse.Namespace, worker: bool = False) -> "Client":
    """A Client for --server with the connection flags. A worker waits minutes for a server
    that restarts; a command (status, create, export, ...) retries for 10 s and then says
    that nothing answers, instead of waiting out a 30 s deadline in silence."""
    from rung.client import Client

    use_connection_flags(args)
    if worker:
        return Client(args.server, retry_seconds=WORKER_RETRY_SECONDS)
    return Client(args.server, retry_seconds=COMMAND_RETRY_SECONDS, wait_for_ready=False)


def add_connection_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", default=DEFAULT_SERVER,
                   help="HOST:PORT of `rung serve`; several, comma-separated, for standby servers")
    p.add_argument("--token-file", default=None,
                   help=f"file holding the server's token (default: ${TOKEN_ENV})")
    p.add_argument("--ca-file", default=None,
                   help=f"CA certificate that signed the server's TLS certificate; turns TLS on "
                        f"(default: ${CA_FILE_ENV}; neither: plaintext)")


def add_logging_flags(p: argparse.ArgumentParser, with_defaults: bool) -> None:
    """On the main parser with defaults; on subcommands without, so they never reset them."""

    def default(value: object) -> object:
        return value if with_defaults else argparse.SUPPRESS

    p.add_argument("-v", "--verbose", action="store_true", default=default(False),
                   help="debug logging")
    p.add_argument("--log-level", choices=LOG_LEVELS, default=default(None),
                   help="default: info for serve, warning otherwise")
    p.add_argument("--log-format", choices=LOG_FORMATS, default=default("text"),
                   help="json: one JSON object per line on stderr, for log collectors")


def add_study_flags(p: argparse.ArgumentParser) -> None:
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


def scheduler_and_searcher(args: argparse.Namespace) -> tuple[str, str]:
    """--recommended, or the flags given, or asha with random search."""
    from rung.core.study import RECOMMENDED

    if args.recommended:
        if args.scheduler or args.searcher:
            raise InvalidArgument("--recommended sets --scheduler and --searcher; give one or the other")
        return RECOMMENDED["scheduler"], RECOMMENDED["searcher"]
    return args.scheduler or "asha", args.searcher or "random"


def add_training_flags(p: argparse.ArgumentParser, n_train: int) -> None:
    p.add_argument("--data-dir", default=str(DEFAULT_DATA), help="dataset folder")
    p.add_argument("--n-train", type=int, default=n_train, help="training images (0 = all)")
    p.add_argument("--n-val", type=int, default=1000, help="validation images held out of train")
