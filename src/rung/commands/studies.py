"""The study administration commands: status, create, studies, stop, delete, export, export-checkpoint.

Each asks a running server through a Client (common.open_client).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rung.core.errors import InvalidArgument

from .common import add_connection_flags, add_study_flags, open_client, scheduler_and_searcher


def add_study_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """The administration commands, in the order `rung --help` lists them."""
    p = sub.add_parser("status", help="show studies, running jobs and leases, rungs, incumbent")
    add_connection_flags(p)
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
    add_study_flags(p)
    add_connection_flags(p)
    p.set_defaults(func=_create)

    p = sub.add_parser("studies", help="list the server's studies")
    add_connection_flags(p)
    p.set_defaults(func=_studies)

    p = sub.add_parser("stop", help="stop a study: no new jobs, running trials stop")
    add_connection_flags(p)
    p.add_argument("study")
    p.set_defaults(func=_stop)

    p = sub.add_parser("delete", help="delete a study and all its results")
    add_connection_flags(p)
    p.add_argument("study")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=_delete)

    p = sub.add_parser("export", help="write a study's trials as CSV, JSON or TensorBoard runs")
    add_connection_flags(p)
    p.add_argument("study")
    p.add_argument("--format", choices=["csv", "json", "tensorboard"], default=None,
                   help="default: json for an -o ending in .json, else csv; tensorboard writes "
                        "the runs `rung serve --tensorboard-dir` does, into --out")
    p.add_argument("-o", "--output", default=None, help="file to write (default: stdout)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="with --format tensorboard: the logdir (runs go to DIR/STUDY/trial-ID)")
    p.set_defaults(func=_export)

    p = sub.add_parser("export-checkpoint", help="save the best trial's checkpoint to a file")
    add_connection_flags(p)
    p.add_argument("study")
    p.add_argument("-o", "--output", required=True, help="file to write")
    p.set_defaults(func=_export_checkpoint)


def _status(args: argparse.Namespace) -> int:
    from rung.status import show_status

    return show_status(open_client(args), args.study, args.watch)


def _create(args: argparse.Namespace) -> int:
    import json

    from rung.study_file import study_options

    try:
        data = json.loads(Path(args.space).read_text())
        initial = [json.loads(text) for text in args.initial_config]
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"cannot read the search space or an initial config: {exc}") from exc
    options = study_options(data, args.objective, args.constraint, args.reference_point)
    scheduler, searcher = scheduler_and_searcher(args)
    with open_client(args) as client:
        client.create_study(
            args.study, **options, metric=args.metric, mode=args.mode,
            scheduler=scheduler, r_min=args.r_min, r_max=args.r_max, eta=args.eta,
            brackets=args.brackets, searcher=searcher, initial_configs=initial,
            max_trials=args.max_trials, max_resource=args.max_resource,
            max_wall_seconds=args.max_wall_seconds, seed=args.seed,
        )
    print(f"study {args.study}: {scheduler} with the {searcher} searcher")
    return 0


def _studies(args: argparse.Namespace) -> int:
    from rung.status import format_study_list

    with open_client(args) as client:
        print(format_study_list(client.list_studies()))
    return 0


def _stop(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        client.stop_study(args.study)
    print(f"study {args.study} stopped: running trials stop at their next report")
    return 0


def _delete(args: argparse.Namespace) -> int:
    with open_client(args) as client:
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

    if args.format == "tensorboard":
        return _export_tensorboard(args)
    fmt = args.format or ("json" if args.output and args.output.endswith(".json") else "csv")
    with open_client(args) as client:
        study, trials = client.get_study(args.study), client.list_trials(args.study)
    if not args.output or args.output == "-":
        write_export(study, trials, fmt, sys.stdout)
        return 0
    with open(args.output, "w", encoding="utf-8", newline="") as out:
        write_export(study, trials, fmt, out)
    print(f"{len(trials)} trials of {args.study} written to {args.output}", file=sys.stderr)
    return 0


def _export_tensorboard(args: argparse.Namespace) -> int:
    from rung.server.tracking.tensorboard_writer import export_study

    if not args.out:
        raise SystemExit("rung export: --format tensorboard needs --out DIR")
    with open_client(args) as client:
        count = export_study(client, args.study, args.out)
    print(f"{count} trials of {args.study} written to {Path(args.out) / args.study}",
          file=sys.stderr)
    return 0


def _export_checkpoint(args: argparse.Namespace) -> int:
    from rung.client.transfer import ChecksumError

    with open_client(args) as client:
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
