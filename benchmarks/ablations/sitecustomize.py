"""Benchmark-only variants of `rung serve`, for `server_throughput.py --variants`.

Python imports this module at start-up when its folder is on PYTHONPATH; with
RUNG_ABLATION set it patches one piece of the server out, to show what that
piece costs. rung itself never uses it.

RUNG_ABLATION=cached_answers: Suggest and Report give again the first answer each
    gave (gRPC with rung's messages and handlers' entry, no service work).
RUNG_ABLATION=no_durability: the service decides as usual, but nothing is written
    and calls answer at once (what waiting for the commit costs).
RUNG_ABLATION=no_fsync: SQLite journals commit with synchronous=NORMAL: written to
    the operating system, not synced to the disk (what the fsync costs).
"""

import os

_variant = os.environ.get("RUNG_ABLATION", "")

if _variant == "cached_answers":
    from rung.server import rpc

    def _cached(real):  # type: ignore[no-untyped-def]
        answers = []

        async def answer(self, request, context):  # type: ignore[no-untyped-def]
            if not answers:
                answers.append(await real(self, request, context))
            return answers[0]

        return answer

    rpc.RungServicer.Suggest = _cached(rpc.RungServicer.Suggest)
    rpc.RungServicer.Report = _cached(rpc.RungServicer.Report)
elif _variant == "no_durability":
    from rung.server import group_commit

    def _at_once(self, event):  # type: ignore[no-untyped-def]
        self._on_durable(event.study, event.seq)
        return group_commit.DONE

    group_commit.Committer.submit = _at_once
elif _variant == "no_fsync":
    from rung.server import sql_journal

    _open = sql_journal.SqliteJournal.__init__

    def _without_fsync(self, path):  # type: ignore[no-untyped-def]
        _open(self, path)
        self._writer.execute("PRAGMA synchronous=NORMAL")

    sql_journal.SqliteJournal.__init__ = _without_fsync
elif _variant:
    raise SystemExit(
        f"RUNG_ABLATION={_variant!r}: expected cached_answers, no_durability or no_fsync"
    )
