"""The unit of work when the server ends its connection: before COMMIT it runs the work again, during
COMMIT it says SERVICE_UNAVAILABLE at once (the work may have committed), and the same idempotency
key sent again records the entry once.

The connection is ended for real, by pg_terminate_backend on the test's own database, waiting until
the backend is gone (PostgreSQL 14+), so the next statement meets a closed connection.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from ledger import service
from ledger.errors import DatabaseUnavailable
from ledger.model import EntryDraft, credit, debit
from ledger.store import tables
from ledger.unit_of_work import run_in_transaction
from loanbook.db import make_engine
from tests.conftest import actor_for, new_tenant


@pytest.fixture
def admin(pg_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def small_engine(pg_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(pg_url, pool_size=2)
    yield engine
    engine.dispose()


def _end_connection(admin: sa.Engine, conn: sa.Connection) -> None:
    pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    with admin.connect() as other:
        assert other.execute(sa.text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid}).scalar_one()


def _entries_under(engine: sa.Engine, tenant_id: int, key: str) -> int:
    with engine.connect() as conn:
        t = tables.journal_entries
        return conn.execute(
            sa.select(sa.func.count()).select_from(t).where(t.c.tenant_id == tenant_id, t.c.idempotency_key == key)
        ).scalar_one()


def _draft(key: str) -> EntryDraft:
    return EntryDraft(dt.date(2026, 1, 5), (debit("1100", "25.00", "CNY"), credit("3100", "25.00", "CNY")), "capital",
                      idempotency_key=key)


def test_a_connection_ended_before_commit_is_run_again_on_a_fresh_one(small_engine, admin):
    tenant_id = new_tenant(small_engine)
    actor = actor_for(tenant_id)
    attempts = []

    def work(conn: sa.Connection):
        attempts.append(1)
        if len(attempts) == 1:
            _end_connection(admin, conn)
        return service.post_entry(conn, actor, _draft("before-commit"))

    entry = run_in_transaction(small_engine, work)
    assert len(attempts) == 2 and _entries_under(small_engine, tenant_id, "before-commit") == 1
    assert run_in_transaction(small_engine, lambda c: service.post_entry(c, actor, _draft("before-commit"))).id == entry.id


def test_a_connection_ended_at_commit_is_unavailable_and_the_same_key_records_once(small_engine, admin):
    tenant_id = new_tenant(small_engine)
    actor = actor_for(tenant_id)

    def work(conn: sa.Connection):
        entry = service.post_entry(conn, actor, _draft("at-commit"))
        _end_connection(admin, conn)  # the work is done; COMMIT is what meets the closed connection
        return entry

    with pytest.raises(DatabaseUnavailable) as lost:
        # Unsealed: a transaction holding the sealer lock chains the queue before COMMIT, which would meet it first.
        run_in_transaction(small_engine, work, seal=False)
    assert lost.value.code == "SERVICE_UNAVAILABLE" and "while committing" in lost.value.message
    assert "same idempotency key" in lost.value.message
    assert _entries_under(small_engine, tenant_id, "at-commit") == 0  # the server rolled it back
    first = run_in_transaction(small_engine, lambda c: service.post_entry(c, actor, _draft("at-commit")))
    again = run_in_transaction(small_engine, lambda c: service.post_entry(c, actor, _draft("at-commit")))
    assert again.id == first.id and _entries_under(small_engine, tenant_id, "at-commit") == 1
