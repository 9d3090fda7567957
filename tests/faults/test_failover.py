"""Failover: two `rung serve` on one PostgreSQL database; SIGKILL the active one (or
restart PostgreSQL itself) while 16 workers run an ASHA study. The standby takes over,
and at the end no acknowledged report is lost, no trial was promoted twice, and the
study completes.

The workers are the crash-safety suite's (test_crash_safety.Fleet), given both
addresses ("A,B"): their Client follows whichever server is active.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from pg_support import PostgresServer, unavailable
from rung.client import Client
from rung.server.app import LOST_THE_LEAD
from rung.v1 import rung_pb2 as pb
from rung.v1 import rung_pb2_grpc
from support import ServerProcess
from test_crash_safety import (
    ETA,
    LEASE_SECONDS,
    R_MAX,
    R_MIN,
    TRIALS,
    Fleet,
    check_accounted_for,
    check_promotions,
    check_reports,
    check_segments,
)


def health(address: str) -> int:
    with grpc.insecure_channel(address) as channel:
        return health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="rung.v1.Rung"), timeout=10
        ).status


def wait_for_health(address: str, status: int) -> None:
    """Polls (no timing asserted; the test's timeout bounds it). A standby that takes the
    lead rebinds its port: refused connections in between are expected, and so is a call
    cancelled by the standby's listener closing under it (GOAWAY), which the SDK retries."""
    while True:
        try:
            if health(address) == status:
                return
        except grpc.RpcError as exc:
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                raise
        time.sleep(0.1)


def test_the_standby_refuses_calls_and_names_the_active_server(
    tmp_path: Path, postgres_url: str
) -> None:
    active = ServerProcess(postgres_url, log=tmp_path / "a.log").start()
    wait_for_health(active.address, health_pb2.HealthCheckResponse.SERVING)
    standby = ServerProcess(postgres_url, log=tmp_path / "b.log").start()
    try:
        assert health(standby.address) == health_pb2.HealthCheckResponse.NOT_SERVING
        with grpc.insecure_channel(standby.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)  # the channel works ...
            stub.Check(health_pb2.HealthCheckRequest(), timeout=10)
            rung = rung_pb2_grpc.RungStub(channel)
            for call in (
                lambda: rung.ListStudies(pb.ListStudiesRequest(), timeout=10),
                lambda: list(rung.WatchStudy(pb.WatchStudyRequest(study="x"), timeout=10)),
            ):
                with pytest.raises(grpc.RpcError) as info:  # ... but rung calls are refused
                    call()
                assert info.value.code() == grpc.StatusCode.UNAVAILABLE
                assert "standby" in info.value.details()
                assert active.address in info.value.details()
        # A client given both addresses, standby first, finds the active one.
        with Client(f"{standby.address},{active.address}", retry_seconds=30) as client:
            client.create_study("s", space={"x": [1, 2]}, r_min=1, r_max=3, eta=3, max_trials=4)
            assert [s.spec.name for s in client.list_studies()] == ["s"]
    finally:
        standby.terminate()
        active.terminate()


def run_through_failover(
    tmp_path: Path, url: str, fail: Callable[[ServerProcess], None]
) -> tuple[ServerProcess, ServerProcess]:
    """Two servers on `url`, the first active; 16 workers run a study given both addresses,
    and halfway through `fail(first)`. Checks that the study completed with nothing
    acknowledged lost and nothing promoted twice, on the second server; returns both."""
    first = ServerProcess(url, lease_seconds=LEASE_SECONDS, log=tmp_path / "a.log")
    first.start()
    wait_for_health(first.address, health_pb2.HealthCheckResponse.SERVING)
    second = ServerProcess(url, lease_seconds=LEASE_SECONDS, log=tmp_path / "b.log")
    second.start()
    both = f"{first.address},{second.address}"
    try:
        with Client(both, retry_seconds=60) as client:
            client.create_study(
                "failover", space={"x": [round(0.05 * i, 2) for i in range(21)]},
                r_min=R_MIN, r_max=R_MAX, eta=ETA, max_trials=TRIALS, seed=11,
            )
            fleet = Fleet(both, "failover")
            fleet.start()
            while fleet.acknowledged() < TRIALS // 2 and any(t.is_alive() for t in fleet.threads):
                time.sleep(0.01)
            fail(first)  # mid-study, calls in flight
            fleet.join(timeout=180)
            assert fleet.errors == [] and fleet.bad_checkpoints == []
            assert health(second.address) == health_pb2.HealthCheckResponse.SERVING

            trials = client.list_trials("failover")
            check_reports(trials, fleet.acks)
            check_segments(trials, fleet.jobs)
            assert check_promotions(trials) >= TRIALS // ETA
            check_accounted_for(client, "failover", trials)
        assert "took the lead" in second.log.read_text()
        return first, second
    finally:
        second.terminate()
        if first.proc is not None and first.proc.poll() is None:
            first.terminate()


@pytest.mark.timeout(240)
def test_sigkill_of_the_active_server_hands_the_study_to_the_standby(
    tmp_path: Path, postgres_url: str
) -> None:
    run_through_failover(tmp_path, postgres_url, lambda first: first.kill())


@pytest.mark.timeout(240)
def test_a_postgresql_restart_hands_the_study_to_the_standby(tmp_path: Path) -> None:
    """Every session ends: the active server's writes fail (its calls answer UNAVAILABLE,
    which workers retry) and it gives up the lead; the standby, which lost its session
    too, reconnects once the database is back and takes over."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    postgres = PostgresServer().start()  # of its own: the session's server is not restarted
    try:
        first, second = run_through_failover(
            tmp_path, postgres.new_database(), lambda _: postgres.restart(down_seconds=1.0)
        )
        assert first.proc is not None and first.proc.wait(timeout=60) == LOST_THE_LEAD
        standby_log = second.log.read_text()
        assert "lost the connection to PostgreSQL" in standby_log
        assert "Traceback" not in standby_log
    finally:
        postgres.stop()
