"""A PostgreSQL restart under `loanbook serve`: SERVICE_UNAVAILABLE with 503 and Retry-After, then recovery.

The server runs on a private PostgreSQL cluster the test creates (initdb in a temporary directory, its
own port), never the machine's shared server: stopping it mid-test is the restart a deployment sees.
While it is down every request is answered 503 with code SERVICE_UNAVAILABLE and Retry-After, not
INTERNAL_SERVER_ERROR; once it is back the next requests succeed on fresh connections (every pooled
one died with the old server), and a mutation sent again with the same idempotency key is recorded
once.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from identity.model import Role
from ledger import service
from ledger.errors import DatabaseUnavailable
from ledger.model import EntryDraft, credit, debit
from ledger.store import tables
from ledger.unit_of_work import read_again_if_lost, read_connection, run_in_transaction
from loanbook.db import make_engine
from loanbook.migrate import upgrade
from manual_entries.tables import journal_entry_requests
from tests.api.conftest import ApiServer, _free_port, _start
from tests.conftest import actor_for, new_tenant

POST = """
mutation Post($input: PostJournalEntryInput!) {
  postJournalEntry(input: $input) {
    __typename
    ... on PostJournalEntryPayload { replayed request { id status } }
    ... on Error { code message }
  }
}"""
TRIAL_BALANCE = "{ trialBalance { balanced } }"
pg_command_seconds_max = 120


def _pg_bin(name: str) -> str | None:
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(directory, name), os.X_OK):
            return os.path.join(directory, name)
    return shutil.which(name)


class PrivateCluster:
    """A PostgreSQL cluster of the test's own; as root, run as the `postgres` user (initdb refuses root)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = _free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, name: str, *args: str) -> None:
        command = [*self.as_user, _pg_bin(name) or name, *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=pg_command_seconds_max, check=False)
        if done.returncode != 0:
            log = (self.root / "postgres.log")
            raise AssertionError(f"{name} failed: {done.stderr}\n{log.read_text() if log.exists() else ''}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off -c full_page_writes=off "
                   "-c synchronous_commit=off -c max_connections=60")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-w", "-t", "60", "-o", options, "start")

    def stop(self) -> None:
        # fast: every backend is ended with "terminating connection due to administrator command"
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="module")
def private_cluster() -> Iterator[PrivateCluster]:
    if _pg_bin("initdb") is None or _pg_bin("pg_ctl") is None:
        pytest.skip("PostgreSQL's initdb and pg_ctl are not installed")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser to start a private cluster as the postgres user")
    root = Path(tempfile.mkdtemp(prefix="loanbook-outage-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            pytest.skip("running as root and there is no postgres user to run a private cluster as")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = PrivateCluster(root)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def _new_database(cluster: PrivateCluster) -> str:
    name = f"loanbook_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return cluster.url(name)


@pytest.fixture
def outage_server(private_cluster: PrivateCluster, tmp_path: Path) -> Iterator[ApiServer]:
    # Two workers (two pools, two async readers), as `serve` runs on PostgreSQL by default.
    with contextlib.contextmanager(_start)("postgresql", _new_database(private_cluster), tmp_path) as server:
        yield server


def _capital(key: str) -> dict:
    amount = "100.00"
    return {"input": {
        "effectiveDate": "2026-01-05", "description": "capital paid in", "idempotencyKey": key,
        "postings": [{"accountCode": "1100", "side": "DEBIT", "amount": amount, "currency": "CNY"},
                     {"accountCode": "3100", "side": "CREDIT", "amount": amount, "currency": "CNY"}],
    }}


def _requests_under(url: str, tenant_id: int, key: str) -> int:
    engine = make_engine(url)  # a fresh pool: the server was restarted since the fixture's engine connected
    try:
        with engine.connect() as conn:
            t = journal_entry_requests
            return conn.execute(
                sa.select(sa.func.count()).select_from(t).where(t.c.tenant_id == tenant_id, t.c.idempotency_key == key)
            ).scalar_one()
    finally:
        engine.dispose()


def _assert_unavailable(response) -> None:  # noqa: ANN001
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    errors = response.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["SERVICE_UNAVAILABLE"]
    message = errors[0]["message"]
    assert "same idempotencyKey" in message and "Retry-After" in message
    assert "SELECT" not in message and "psycopg" not in message and "INTERNAL_SERVER_ERROR" not in response.text


def test_a_postgresql_restart_is_503_then_the_same_key_records_once(outage_server, private_cluster):
    server = outage_server
    tenant = server.tenant(Role.FINANCE)
    token = tenant.tokens[Role.FINANCE]
    before, during = f"before-{uuid.uuid4().hex[:8]}", f"during-{uuid.uuid4().hex[:8]}"
    for _ in range(4):  # warm both workers' pools: these are the connections the restart kills
        assert server.graphql(TRIAL_BALANCE, token=token)["data"]["trialBalance"]["balanced"] is True
    first = server.graphql(POST, _capital(before), token=token)["data"]["postJournalEntry"]
    assert first["__typename"] == "PostJournalEntryPayload" and first["replayed"] is False

    private_cluster.stop()
    try:
        _assert_unavailable(server.post({"query": POST, "variables": _capital(during)}, token=token))
        _assert_unavailable(server.post({"query": TRIAL_BALANCE}, token=token))
        assert server.client.get(f"{server.base_url}/health").status_code == 503
    finally:
        private_cluster.start()

    # Back: the very next requests succeed, on both workers, though every pooled connection died.
    for _ in range(4):
        response = server.post({"query": TRIAL_BALANCE}, token=token)
        assert response.status_code == 200 and response.json()["data"]["trialBalance"]["balanced"] is True, response.text
    resent = server.graphql(POST, _capital(during), token=token)["data"]["postJournalEntry"]
    assert resent["__typename"] == "PostJournalEntryPayload" and resent["replayed"] is False, resent
    again = server.graphql(POST, _capital(during), token=token)["data"]["postJournalEntry"]
    assert again["replayed"] is True and again["request"]["id"] == resent["request"]["id"]
    replay = server.graphql(POST, _capital(before), token=token)["data"]["postJournalEntry"]
    assert replay["replayed"] is True and replay["request"]["id"] == first["request"]["id"]
    url = server.engine.url.render_as_string(hide_password=False)
    assert _requests_under(url, tenant.id, during) == 1 and _requests_under(url, tenant.id, before) == 1
    assert server.client.get(f"{server.base_url}/health").status_code == 200
    assert "INTERNAL_SERVER_ERROR" not in server.server_log() and "Traceback" not in server.server_log()


def test_the_unit_of_work_replaces_a_pool_the_restart_killed_and_reports_the_outage(private_cluster):
    """Connections pooled before a restart are dead after it: the first command and read after it succeed
    anyway, whether SQLAlchemy or the driver (ledger.store writes through it) meets the dead socket."""
    engine = make_engine(_new_database(private_cluster), pool_size=3)
    try:
        upgrade(engine)
        tenant_id = new_tenant(engine)
        actor = actor_for(tenant_id)
        draft = EntryDraft(dt.date(2026, 1, 5), (debit("1100", "5.00", "CNY"), credit("3100", "5.00", "CNY")), idempotency_key="k-1")

        def warm_the_pool() -> None:
            held = [engine.connect() for _ in range(3)]
            for conn in held:
                conn.execute(sa.text("SELECT 1"))
            for conn in held:
                conn.close()

        def through_the_driver(conn: sa.Connection) -> int:
            return conn.connection.driver_connection.execute("SELECT 1").fetchone()[0]

        warm_the_pool()
        private_cluster.stop()
        private_cluster.start()
        assert run_in_transaction(engine, through_the_driver) == 1
        warm_the_pool()
        private_cluster.stop()
        private_cluster.start()
        entry = run_in_transaction(engine, lambda c: service.post_entry(c, actor, draft))
        warm_the_pool()
        private_cluster.stop()
        private_cluster.start()

        def count_entries() -> int:
            with read_connection(engine) as conn:
                t = tables.journal_entries
                return conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.tenant_id == tenant_id)).scalar_one()

        assert read_again_if_lost(engine, count_entries) == 1

        private_cluster.stop()
        try:
            with pytest.raises(DatabaseUnavailable) as refused:
                run_in_transaction(engine, lambda c: service.post_entry(c, actor, draft))
            assert refused.value.code == "SERVICE_UNAVAILABLE" and "same idempotency key" in refused.value.message
            with pytest.raises(DatabaseUnavailable):
                read_again_if_lost(engine, count_entries)
        finally:
            private_cluster.start()
        again = run_in_transaction(engine, lambda c: service.post_entry(c, actor, draft))
        assert again.id == entry.id and read_again_if_lost(engine, count_entries) == 1
    finally:
        engine.dispose()
