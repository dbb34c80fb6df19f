"""Period balances on PostgreSQL: the sealer adds each standalone entry as it chains the entry's event.

Until then the entry is on the queue, and every balance as of a date (ledger.queries, the API's
reads, the trial balance, verify) counts it from there: exact at every moment, never counted twice.
"""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from graphql_api import reads
from ledger import queries, service
from ledger.model import EntryDraft, credit, debit
from ledger.store import tables
from ledger.store.sealer import seal_pending
from ledger.store.transaction import run_in_transaction
from ledger.verify import verify_books
from tests.conftest import actor_for, new_tenant

D = dt.date


def period_rows(engine, tenant_id, code):
    t = tables.account_period_balances
    with engine.connect() as conn:
        return conn.execute(
            sa.select(t.c.grain, t.c.period_start, sa.func.sum(t.c.debit_minor), sa.func.sum(t.c.credit_minor))
            .where(t.c.tenant_id == tenant_id, t.c.account_code == code)
            .group_by(t.c.grain, t.c.period_start)
            .order_by(t.c.grain, t.c.period_start)
        ).all()


def as_of_everywhere(engine, tenant_id, code, as_of):
    """The account's net balance as of a date by each reader; they must agree."""
    with engine.connect() as conn:
        single = queries.balance_as_of(conn, tenant_id, code, "CNY", as_of).net_minor
        (api,) = reads.balances_by_account(conn, tenant_id, [code], as_of)[code] or [None]
        lines = {line.account.code: line for line in queries.trial_balance(conn, tenant_id, as_of).lines}
        assert queries.trial_balance(conn, tenant_id, as_of).balanced
    line = lines.get(code)
    trial = 0 if line is None else line.debit_minor - line.credit_minor
    assert single == (api.net_minor if api else 0) == trial
    return single


def test_an_entry_waiting_for_the_sealer_counts_in_every_balance_as_of_and_then_moves_to_the_period_rows(pg_engine):
    engine = pg_engine
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)
    seal_pending(engine, tenant_id)  # the tenant's own setup events
    service.post_standalone(engine, actor, EntryDraft(D(2025, 12, 31), (debit("1100", "100", "CNY"), credit("3100", "100", "CNY"))))
    assert period_rows(engine, tenant_id, "1100") == [
        ("D", D(2025, 12, 31), 10000, 0), ("M", D(2025, 12, 1), 10000, 0), ("Y", D(2025, 1, 1), 10000, 0)
    ]
    # Left on the queue: a standalone entry, whose period rows the sealer owes, and a batch posted in the
    # caller's transaction, which wrote its own.
    service.post_standalone(
        engine, actor, EntryDraft(D(2026, 2, 3), (debit("1200", "30", "CNY"), credit("1100", "30", "CNY"))), seal=False
    )
    batch = [EntryDraft(D(2026, 2, d), (debit("1200", "1.5", "CNY"), credit("1100", "1.5", "CNY"))) for d in (1, 3, 4)]
    run_in_transaction(engine, lambda c: service.post_entries(c, actor, batch), seal=False)
    assert period_rows(engine, tenant_id, "1200") == [
        ("D", D(2026, 2, 1), 150, 0), ("D", D(2026, 2, 3), 150, 0), ("D", D(2026, 2, 4), 150, 0),
        ("M", D(2026, 2, 1), 450, 0), ("Y", D(2026, 1, 1), 450, 0),
    ]
    expected = {D(2026, 1, 31): 10000, D(2026, 2, 1): 9850, D(2026, 2, 3): 6700, D(2026, 2, 28): 6550, D(2025, 12, 30): 0}
    for as_of, net in expected.items():
        assert as_of_everywhere(engine, tenant_id, "1100", as_of) == net
    assert seal_pending(engine, tenant_id) == 4
    assert period_rows(engine, tenant_id, "1200") == [
        ("D", D(2026, 2, 1), 150, 0), ("D", D(2026, 2, 3), 3150, 0), ("D", D(2026, 2, 4), 150, 0),
        ("M", D(2026, 2, 1), 3450, 0), ("Y", D(2026, 1, 1), 3450, 0),
    ]
    for as_of, net in expected.items():
        assert as_of_everywhere(engine, tenant_id, "1100", as_of) == net
    with engine.connect() as conn:
        report = verify_books(conn, [tenant_id])
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.audit_unsealed).where(tables.audit_unsealed.c.tenant_id == tenant_id)).scalar() == 0
    assert report.clean, report.discrepancies


@pytest.mark.parametrize("fresh_engine", ["postgresql"], indirect=True)
def test_verify_counts_what_the_queue_owes_and_catches_a_dropped_queue_row(fresh_engine):
    engine = fresh_engine
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)
    seal_pending(engine, tenant_id)
    entry = service.post_standalone(
        engine, actor, EntryDraft(D(2026, 3, 1), (debit("1200", "8", "CNY"), credit("1100", "8", "CNY"))), seal=False
    )
    with engine.connect() as conn:
        report = verify_books(conn, [tenant_id])
    # Unsealed, so the chain check names it; the balances are whole (period rows plus the queue).
    assert [p for p in report.discrepancies if "balance" in p] == []
    assert any("no sealed audit event" in p for p in report.discrepancies)
    with engine.begin() as conn:  # someone drops the queue row behind the sealer's back
        conn.execute(sa.delete(tables.audit_unsealed).where(tables.audit_unsealed.c.entry_id == entry.id))
    with engine.connect() as conn:
        report = verify_books(conn, [tenant_id])
    assert any("stored period balance of 1200 CNY D 2026-03-01" in p for p in report.discrepancies)


@pytest.mark.parametrize("fresh_engine", ["postgresql"], indirect=True)
def test_migration_0009_downgrade_adds_what_the_queue_owes_to_the_period_rows(fresh_engine):
    from alembic import command

    from loanbook.migrate import alembic_config, upgrade

    engine = fresh_engine
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)
    seal_pending(engine, tenant_id)
    service.post_standalone(engine, actor, EntryDraft(D(2026, 4, 2), (debit("1200", "5", "CNY"), credit("1100", "5", "CNY"))), seal=False)
    config = alembic_config()
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0008_audit_lz4")
        conn.commit()
    assert period_rows(engine, tenant_id, "1200") == [("D", D(2026, 4, 2), 500, 0), ("M", D(2026, 4, 1), 500, 0), ("Y", D(2026, 1, 1), 500, 0)]
    upgrade(engine)
    seal_pending(engine, tenant_id)  # the queue row is back with no entry: sealing adds nothing twice
    assert period_rows(engine, tenant_id, "1200") == [("D", D(2026, 4, 2), 500, 0), ("M", D(2026, 4, 1), 500, 0), ("Y", D(2026, 1, 1), 500, 0)]
    with engine.connect() as conn:
        report = verify_books(conn, [tenant_id])
    assert report.clean, report.discrepancies
