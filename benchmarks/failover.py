"""How long from SIGKILL of the active `rung serve` (or a PostgreSQL restart) until
the standby answers?

    .venv/bin/python benchmarks/failover.py [--runs 5] [--trials 2000]
        [--fault sigkill|postgres-restart] [--down 1.0] [--write-docs]

`--write-docs` writes docs/generated/failover.md (failover_postgres_restart.md for
`--fault postgres-restart`).

A throw-away PostgreSQL (as the tests start it), two `rung serve` on it, a
study with `--trials` trials run through Suggest/Report by the benchmark (so
the new leader has a journal to rebuild), then SIGKILL of the active server.
Measured: the time until a Client given both addresses gets its next
GetStudy answered by the standby (detecting the lost lock, taking the lead,
replaying, rebinding the port, the client finding it).

`--fault postgres-restart` restarts PostgreSQL instead (every session ends; it
is down for `--down` seconds): measured from the moment the database accepts
connections again, which adds the standby's reconnecting to the above.
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rung.client import Client, Decision
from rung.server.leadership import POLL_SECONDS
from rung.server.launch import spawn_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pg_support import PostgresServer, unavailable  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_report.py, also when imported
from _report import Fragment, add_write_docs_flag  # noqa: E402


def fill(client: Client, trials: int) -> None:
    """Runs a study of `trials` trials to the end, training instantly."""
    handle = client.create_study(
        "failover", space={"x": [i / 100 for i in range(100)]}, r_min=1, r_max=9, eta=3,
        max_trials=trials,
    )
    for trial in handle.trials(worker_id="bench", max_wait=0.01):
        with trial:
            for epoch in trial.epochs():
                if trial.report(epoch, float(trial.config["x"]) / epoch) is not Decision.CONTINUE:
                    break


def one_run(pg: PostgresServer, folder: Path, trials: int, fault: str, down: float) -> float:
    url = pg.new_database()
    a, address_a = spawn_server(["--port", "0", "--db", url], folder / "a.log")
    time.sleep(0.5)  # let the first one take the lead
    b, address_b = spawn_server(["--port", "0", "--db", url], folder / "b.log")
    try:
        with Client(f"{address_a},{address_b}", retry_seconds=60) as client:
            fill(client, trials)
            client.get_study("failover")
            # At a random moment of the standby's polling for the lock, so that the runs
            # sample it rather than all falling at one phase of it.
            time.sleep(random.uniform(0.0, POLL_SECONDS))
            if fault == "sigkill":
                a.send_signal(signal.SIGKILL)
            else:
                pg.restart(down_seconds=down)  # returns once it accepts connections again
            started = time.perf_counter()
            client.get_study("failover")
            return time.perf_counter() - started
    finally:
        for proc in (a, b):
            if proc.poll() is None:
                proc.terminate()
            proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--fault", choices=["sigkill", "postgres-restart"], default="sigkill")
    parser.add_argument("--down", type=float, default=1.0,
                        help="seconds PostgreSQL stays down (postgres-restart)")
    add_write_docs_flag(parser)
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        raise SystemExit(f"no PostgreSQL: {reason}")
    pg = PostgresServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            times = [
                one_run(pg, Path(tmp), args.trials, args.fault, args.down)
                for _ in range(args.runs)
            ]
    finally:
        pg.stop()
    fault = "SIGKILL" if args.fault == "sigkill" else (
        f"PostgreSQL restarted ({args.down:g} s down), back"
    )
    out = Fragment("failover" if args.fault == "sigkill" else "failover_postgres_restart")
    out.print(f"{args.runs} failovers, studies of {args.trials} trials: {fault} -> next call answered")
    out.print(f"  median {statistics.median(times):.2f} s, max {max(times):.2f} s "
              f"({', '.join(f'{t:.2f}' for t in times)})")
    out.write_if(args.write_docs)


if __name__ == "__main__":
    main()
