"""PostgreSQL roles as operators set them up: without the privileges rung needs, read-only,
or allowed only to use tables made beforehand. Each on a real PostgreSQL server."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from pg_support import PostgresServer
from rung.client import Client
from rung.v1 import rung_pb2 as pb
from support import ServerProcess
from test_storage_targets import refused_start

psycopg = pytest.importorskip("psycopg")


class Roles:
    """Roles and databases made by the server's superuser; the names are fresh per test."""

    def __init__(self, postgres: PostgresServer):
        self.postgres = postgres
        self.tag = uuid.uuid4().hex[:10]

    def admin(self, database: str = "postgres") -> "psycopg.Connection":
        return psycopg.connect(self.postgres.url(database), autocommit=True)

    def role(self, name: str, *options: str) -> str:
        role = f"{name}_{self.tag}"
        with self.admin() as admin:
            admin.execute(f"CREATE ROLE {role} LOGIN {' '.join(options)}")
        return role

    def database(self, owner: str) -> str:
        name = f"db_{self.tag}"
        with self.admin() as admin:
            admin.execute(f"CREATE DATABASE {name} OWNER {owner}")
        return name

    def url(self, role: str, database: str) -> str:
        return f"postgresql://{role}@127.0.0.1:{self.postgres.port}/{database}"


@pytest.fixture
def roles(postgres: PostgresServer) -> Roles:
    return Roles(postgres)


def last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


def test_a_role_that_may_not_create_rungs_tables_is_refused_at_once_with_the_remedy(
    tmp_path: Path, roles: Roles
) -> None:
    """PostgreSQL 15 and later give no one but the owner CREATE on `public`. Before, this
    was a traceback; waiting `--db-wait` would not help (refused_start's 60 s timeout would
    fail the test before a 120 s wait ended)."""
    owner, app = roles.role("owner"), roles.role("app")
    database = roles.database(owner)
    line = last_line(refused_start(
        "--port", "0", "--db", roles.url(app, database), "--db-wait", "120", cwd=tmp_path
    ).stderr)
    assert line.startswith(f"rung serve: PostgreSQL at {roles.url(app, database)} refuses")
    assert "permission denied for schema public" in line
    assert "CREATE on the schema, or to own the database" in line


def test_a_read_only_server_is_refused_and_told_to_use_the_primary(
    tmp_path: Path, roles: Roles
) -> None:
    """A role whose sessions are read-only stands in for a replica (both answer 25006)."""
    owner = roles.role("replica")
    database = roles.database(owner)
    with roles.admin() as admin:
        admin.execute(f"ALTER ROLE {owner} SET default_transaction_read_only = on")
    line = last_line(refused_start(
        "--port", "0", "--db", roles.url(owner, database), "--db-wait", "120", cwd=tmp_path
    ).stderr)
    assert "read-only transaction" in line
    assert "point --db at the primary" in line


def tables_made_by_the_owner(roles: Roles, tmp_path: Path) -> tuple[str, str]:
    """rung's tables made by a first start as the database's owner, and a role that may
    only read and write them, as a careful operator sets it up: (database, role)."""
    owner, app = roles.role("owner"), roles.role("app")
    database = roles.database(owner)
    first = ServerProcess(roles.url(owner, database), log=tmp_path / "owner.log").start()
    with Client(first.address) as client:
        client.list_studies()  # answered once it took the lead, and so made the tables
    first.terminate()
    with roles.admin(database) as admin:
        admin.execute(f"GRANT USAGE ON SCHEMA public TO {app}")
        admin.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app}"
        )
        admin.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {app}")
    return database, app


@pytest.fixture
def least_privilege(
    tmp_path: Path, roles: Roles
) -> Iterator[tuple[Roles, str, str, ServerProcess]]:
    """A server running as that role."""
    database, app = tables_made_by_the_owner(roles, tmp_path)
    server = ServerProcess(roles.url(app, database), log=tmp_path / "app.log").start()
    yield roles, database, app, server
    server.terminate()


def test_a_server_that_takes_the_lead_but_cannot_read_the_journal_says_why_in_one_line(
    tmp_path: Path, roles: Roles
) -> None:
    """The take-over's restore fails (here: no SELECT on the events): the server gives the
    lead back and exits with the reason, not a traceback."""
    database, app = tables_made_by_the_owner(roles, tmp_path)
    with roles.admin(database) as admin:
        admin.execute(f"REVOKE SELECT ON rung_events FROM {app}")
    line = last_line(refused_start(
        "--port", "0", "--db", roles.url(app, database), "--db-wait", "120", cwd=tmp_path
    ).stderr)
    assert line.startswith("rung serve: cannot restore the studies from the journal:")
    assert "permission denied for table rung_events" in line


def observations(client: Client, study: str, trial_id: int) -> list[tuple[int, float]]:
    (trial,) = [t for t in client.study(study).list_trials() if t.id == trial_id]
    return [(o.resource, o.value) for o in trial.observations]


def test_a_role_that_may_only_use_tables_made_beforehand_runs_rung(
    least_privilege: tuple[Roles, str, str, ServerProcess]
) -> None:
    """PostgreSQL checks CREATE on the schema even for CREATE ... IF NOT EXISTS: rung asks
    which tables exist first and creates only the missing ones."""
    _, _, _, server = least_privilege
    with Client(server.address) as client:
        study = client.create_study("least", space={"x": [1, 2, 3]}, r_max=3, max_trials=2)
        job = study.suggest()
        client.call("Report", pb.ReportRequest(
            study="least", trial_id=job.trial_id, lease_id=job.lease_id, resource=1, value=0.5,
        ))
        assert observations(client, "least", job.trial_id) == [(1, 0.5)]
    assert "Traceback" not in server.log.read_text()


def test_a_privilege_revoked_under_a_running_server_gets_unavailable_until_granted_again(
    least_privilege: tuple[Roles, str, str, ServerProcess]
) -> None:
    """The Report answers UNAVAILABLE (retried by the SDK, as for an outage), not INTERNAL;
    once the operator grants INSERT again the retry is stored, once."""
    roles, database, app, server = least_privilege
    with Client(server.address) as client:
        study = client.create_study("revoked", space={"x": [1, 2, 3]}, r_max=3, max_trials=2)
        job = study.suggest()
        with roles.admin(database) as admin:
            admin.execute(f"REVOKE INSERT ON rung_events FROM {app}")
        request = pb.ReportRequest(
            study="revoked", trial_id=job.trial_id, lease_id=job.lease_id, resource=1, value=0.25
        )
        with Client(server.address, retry_seconds=0.0) as impatient:
            with pytest.raises(grpc.RpcError) as refused:
                impatient.call("Report", request)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "permission denied for table rung_events" in refused.value.details()
        answered = threading.Event()
        retrying = threading.Thread(
            target=lambda: (client.call("Report", request), answered.set()), daemon=True
        )
        retrying.start()
        assert not answered.wait(1.0)  # still refused, still retrying
        with roles.admin(database) as admin:
            admin.execute(f"GRANT INSERT ON rung_events TO {app}")
        retrying.join(timeout=30)
        assert answered.is_set()
        assert observations(client, "revoked", job.trial_id) == [(1, 0.25)]


def test_a_server_that_turns_read_only_under_rung_gets_unavailable_and_a_new_connection(
    tmp_path: Path, roles: Roles
) -> None:
    """As after a managed database's failover demoted the server rung's connections reach,
    while a new connection would find the primary: the sessions already open are made
    read-only (ALTER SYSTEM and a reload reach them), new ones of the role are not (a
    role's setting wins at session start). The write answers UNAVAILABLE and drops its
    connection; the very next attempt connects afresh and is stored, once."""
    owner = roles.role("demoted")
    database = roles.database(owner)
    server = ServerProcess(roles.url(owner, database), log=tmp_path / "server.log").start()
    try:
        with Client(server.address) as client:
            study = client.create_study("demoted", space={"x": [1, 2]}, r_max=3, max_trials=2)
            job = study.suggest()
        request = pb.ReportRequest(
            study="demoted", trial_id=job.trial_id, lease_id=job.lease_id, resource=1,
            value=0.75,
        )
        with roles.admin() as admin:
            admin.execute(f"ALTER ROLE {owner} SET default_transaction_read_only = off")
        system_read_only(roles, "on")
        with Client(server.address, retry_seconds=0.0) as no_retries:
            with pytest.raises(grpc.RpcError) as refused:
                no_retries.call("Report", request)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "read-only transaction" in refused.value.details()
            no_retries.call("Report", request)  # on a new connection, still without retries
            assert observations(no_retries, "demoted", job.trial_id) == [(1, 0.75)]
    finally:
        system_read_only(roles, "off")
        server.terminate()


def system_read_only(roles: Roles, value: str) -> None:
    """Sets default_transaction_read_only for every session, and returns once a new session
    sees it: the postmaster signals the open sessions before it forks one that does, and
    they apply it before their next statement (pg_reload_conf only asks for all that)."""
    with roles.admin() as admin:
        if value == "on":
            admin.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        else:
            admin.execute("ALTER SYSTEM RESET default_transaction_read_only")
        admin.execute("SELECT pg_reload_conf()")
    for _ in range(200):
        with roles.admin() as admin:
            if admin.execute("SHOW default_transaction_read_only").fetchone()[0] == value:
                return
        time.sleep(0.05)
    raise AssertionError(f"default_transaction_read_only never became {value}")
