"""Restart time of a long study whose searcher is model-based: full replay against a snapshot.

    .venv/bin/python benchmarks/replay_cost.py [--trials 1000] [--searcher mfgp]

A study of `--trials` trials (ASHA, r = 1..27, eta 3, multi-fidelity Hartmann 6
as the objective, `--searcher`, one worker reporting at each milestone) is run
through the real service on a SQLite journal, with BLAS limited to one thread
as `rung serve` does. Then the service is rebuilt from that file twice: once
replaying the whole journal (every decision, model fits included, re-made and
checked against the journaled one), once from a snapshot saved at the end, and
once after a second run under the server's default snapshot policy (every
1,000 events, or sooner once the decisions since the last snapshot took 1 s
of the core's time), which bounds the tail a restart replays. Target: a few
seconds for 1,000 trials with `mfgp`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from rung.core.study import SchedulerSettings, StudySpec
from rung.core.types import Budget, Decision, JobKind
from rung.server.service import StudyService
from rung.server.snapshots import Snapshotter
from rung.server.sql_journal import SqliteJournal
from rung.sim.benchmarks import make_benchmark

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_report.py, also when imported
from _report import Fragment, add_write_docs_flag  # noqa: E402


def run_study(db: Path, trials: int, searcher: str, snapshots: bool) -> float:
    """Runs the study to its end; returns the seconds it took. With `snapshots`, the default
    policy (Snapshotter) is applied after every report, as the server's thread would."""
    bench = make_benchmark("hartmann6", r_max=27)
    spec = StudySpec(name="long", space=bench.space, searcher=searcher, seed=0,
                     scheduler=SchedulerSettings("asha", 1, 27, 3),
                     budget=Budget(max_trials=trials))
    service = StudyService(SqliteJournal(db))
    service.create_study(spec)
    saver = Snapshotter(service)
    started = time.perf_counter()
    for n in range(10 * trials):
        issued = service.suggest("long", "w", f"r{n}")
        job = issued.job
        if job.kind is JobKind.DONE:
            break
        value = bench.evaluate(job.config, job.milestone)
        decision, _ = service.report("long", job.trial_id, issued.lease_id, job.milestone, value)
        assert decision is not Decision.CONTINUE
        if snapshots:
            saver.save_due()
    seconds = time.perf_counter() - started
    service.close()
    return seconds


def restart_seconds(db: Path) -> float:
    started = time.perf_counter()
    service = StudyService(SqliteJournal(db))
    seconds = time.perf_counter() - started
    service.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--searcher", default="mfgp")
    add_write_docs_flag(parser)
    args = parser.parse_args()
    with threadpool_limits(1), tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "rung.db"
        ran = run_study(db, args.trials, args.searcher, snapshots=False)
        full = restart_seconds(db)
        service = StudyService(SqliteJournal(db))
        service.save_snapshot("long")
        service.close()
        from_snapshot = restart_seconds(db)
        db = Path(tmp) / "policy.db"
        run_study(db, args.trials, args.searcher, snapshots=True)
        with_policy = restart_seconds(db)
    out = Fragment("replay_cost")
    out.print(f"A study of {args.trials} trials, asha + {args.searcher} on multi-fidelity Hartmann 6, "
              "through the service on a SQLite journal, one core (BLAS 1 thread):")
    out.print()
    out.print("| | seconds |")
    out.print("| --- | ---: |")
    out.print(f"| running the study (every decision, no training) | {ran:.1f} |")
    out.print(f"| restart: full replay of the journal | {full:.2f} |")
    out.print(f"| restart: latest snapshot, no events after it | {from_snapshot:.2f} |")
    out.print(f"| restart: default snapshot policy (1,000 events or 1 s of decisions) | "
              f"{with_policy:.2f} |")
    out.write_if(args.write_docs)


if __name__ == "__main__":
    main()
