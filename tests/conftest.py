"""Test databases: every test that takes `engine` runs on SQLite and on PostgreSQL.

PostgreSQL is reached at 127.0.0.1:5432 (trust auth) or LOANBOOK_TEST_PG_URL. If the cluster is
installed but stopped, it is started. Each test run gets its own fresh database, dropped at the
end. With CI=true an unreachable server fails the run instead of skipping PostgreSQL tests.
"""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger import service
from ledger.actor import Actor
from ledger.unit_of_work import run_in_transaction
from loanbook.db import make_engine, scratch_database
from loanbook.migrate import upgrade

pg_admin_url = os.environ.get("LOANBOOK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_reachable() -> bool:
    engine = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def _start_pg_if_stopped() -> None:
    clusters = Path("/etc/postgresql")
    if not clusters.is_dir():
        return
    for version in sorted(p.name for p in clusters.iterdir()):
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            check=False, capture_output=True, timeout=60,
        )


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, migrated; dropped afterwards."""
    if not _pg_reachable():
        _start_pg_if_stopped()
    if not _pg_reachable():
        message = f"PostgreSQL is not reachable at {pg_admin_url}"
        if in_ci:
            pytest.fail(message + " (CI=true: PostgreSQL tests are never skipped)")
        pytest.skip(message)
    with scratch_database(pg_admin_url, f"loanbook_test_{os.getpid()}_{uuid.uuid4().hex[:8]}") as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "loanbook.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(pg_url, pool_size=12)
    yield engine
    engine.dispose()


@pytest.fixture
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A database of its own, for tests that tamper with rows or count everything."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    request.getfixturevalue("pg_url")  # skips or fails exactly like the shared database
    with scratch_database(pg_admin_url, f"loanbook_fresh_{uuid.uuid4().hex[:12]}") as url:
        engine = make_engine(url)
        upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()


def new_tenant(engine: sa.Engine, prefix: str = "t") -> int:
    slug = f"{prefix}-{uuid.uuid4().hex[:10]}"
    now = dt.datetime.now(dt.timezone.utc)
    return run_in_transaction(engine, lambda conn: service.create_tenant(conn, slug, f"Tenant {slug}", actor_name="test", now=now))


# Accounts for US dollars: the default chart's accept the tenant's functional currency (CNY) alone.
USD = {"bank": "1105", "capital": "3105", "fee_income": "4205", "expense": "5105"}


def open_usd_accounts(engine: sa.Engine, actor: Actor) -> dict[str, str]:
    def work(conn: sa.Connection) -> None:
        for (role, code), parent, kind in zip(USD.items(), ("1000", "3000", "4000", "5000"),
                                              ("ASSET", "EQUITY", "INCOME", "EXPENSE")):
            service.open_account(conn, actor, code, f"{role} (USD)", kind, parent_code=parent, currencies=["USD"])

    run_in_transaction(engine, work)
    return USD


@pytest.fixture
def tenant_id(engine: sa.Engine) -> int:
    return new_tenant(engine)


def actor_for(tenant_id: int, name: str = "tester", reason: str | None = None) -> Actor:
    return Actor(tenant_id, name, dt.datetime.now(dt.timezone.utc), request_id=uuid.uuid4().hex, reason=reason)


@pytest.fixture
def actor(tenant_id: int) -> Actor:
    return actor_for(tenant_id)
