"""Steering a running study: `rung budget`, `rung retry`, `rung import`.

Each change is journaled by the server and applied once, however often the
command's request is retried.
"""

from __future__ import annotations

import argparse
import sys

from .common import add_connection_flags, open_client


def add_steer_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "budget", help="raise or lower a study's budget; a finished study given more goes on"
    )
    p.add_argument("study")
    p.add_argument("--max-trials", type=int, default=None, help="0: unlimited")
    p.add_argument("--max-resource", type=int, default=None, help="0: unlimited")
    p.add_argument("--max-wall-seconds", type=float, default=None, help="0: unlimited")
    add_connection_flags(p)
    p.set_defaults(func=_budget)

    p = sub.add_parser("retry", help="run failed trials again from their last checkpoint")
    p.add_argument("study")
    p.add_argument("--trial", type=int, action="append", default=[], metavar="ID",
                   help="a failed trial to run again (repeatable; default: every failed trial)")
    add_connection_flags(p)
    p.set_defaults(func=_retry)

    p = sub.add_parser(
        "import", help="add results measured elsewhere (CSV or JSON, e.g. from `rung export`)"
    )
    p.add_argument("study")
    p.add_argument("file", help="CSV or JSON of configurations and their metrics at resources")
    add_connection_flags(p)
    p.set_defaults(func=_import)


def _budget(args: argparse.Namespace) -> int:
    limits = {
        "max_trials": args.max_trials, "max_resource": args.max_resource,
        "max_wall_seconds": args.max_wall_seconds,
    }
    if all(v is None for v in limits.values()):
        print("rung budget: give --max-trials, --max-resource or --max-wall-seconds",
              file=sys.stderr)
        return 2
    with open_client(args) as client:
        study = client.set_budget(args.study, **limits)
    b = study.budget
    shown = ", ".join(
        f"{name} {value or 'unlimited'}" for name, value in
        (("max_trials", b.max_trials), ("max_resource", b.max_resource),
         ("max_wall_seconds", b.max_wall_seconds))
    )
    state = {1: "running", 2: "done", 3: "stopped"}.get(study.state, "unknown")
    print(f"study {args.study}: budget {shown}; {study.trials_started} trials started, "
          f"{study.resource_spent} resource spent; {state}")
    return 0


def _retry(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        ids = client.retry_trials(args.study, args.trial)
    if not ids:
        print(f"study {args.study}: no failed trials to run again")
    else:
        print(f"study {args.study}: trials {', '.join(map(str, ids))} run again from their "
              "last checkpoint")
    return 0


def _import(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        answer, empty = client.import_file(args.study, args.file)
    print(f"study {args.study}: imported {len(answer.trial_ids)} trials from {args.file}"
          + (f"; {answer.skipped} imported before, skipped" if answer.skipped else "")
          + (f"; {empty} without results, skipped" if empty else ""))
    return 0
