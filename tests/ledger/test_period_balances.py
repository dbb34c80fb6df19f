"""Period balances: every posting statement writes its day/month/year rows in its own transaction.

A balance as of a date (ledger.queries, the API's reads, the trial balance, verify) reads the period
rows alone, so it is exact the moment an entry commits, sealed or not. Databases whose queue still
names entries whose period rows were left to the sealer get them from migration 0012.
"""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from ledger import queries, service
from ledger.model import EntryDraft, credit, debit
from ledger.sealing import seal_pending
from ledger.store import tables
from ledger.unit_of_work import run_in_transaction
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
        (api,) = queries.balances_by_account(conn, tenant_id, [code], as_of)[code] or [None]
        lines = {line.account.code: line for line in queries.trial_balance(conn, tenant_id, as_of).lines}
        assert queries.trial_balance(conn, tenant_id, as_of).balanced
    line = lines.get(code)
    trial = 0 if line is None else line.debit_minor - line.credit_minor
    assert single == (api.net_minor if api else 0) == trial
    return single


def post(engine, actor, drafts, *, seal=True):
    return run_in_transaction(engine, lambda c: service.post_entries(c, actor, drafts), seal=seal)


def test_an_unsealed_entry_is_in_the_period_rows_and_every_balance_as_of_and_sealing_adds_nothing(engine):
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)
    post(engine, actor, [EntryDraft(D(2025, 12, 31), (debit("1100", "100", "CNY"), credit("3100", "100", "CNY")))])
    assert period_rows(engine, tenant_id, "1100") == [
        ("D", D(2025, 12, 31), 10000, 0), ("M", D(2025, 12, 1), 10000, 0), ("Y", D(2025, 1, 1), 10000, 0)
    ]
    # Left on the queue: one entry alone and a batch, each in a transaction of its own.
    post(engine, actor, [EntryDraft(D(2026, 2, 3), (debit("1200", "30", "CNY"), credit("1100", "30", "CNY")))], seal=False)
    batch = [EntryDraft(D(2026, 2, d), (debit("1200", "1.5", "CNY"), credit("1100", "1.5", "CNY"))) for d in (1, 3, 4)]
    post(engine, actor, batch, seal=False)
    expected_rows = [
        ("D", D(2026, 2, 1), 150, 0), ("D", D(2026, 2, 3), 3150, 0), ("D", D(2026, 2, 4), 150, 0),
        ("M", D(2026, 2, 1), 3450, 0), ("Y", D(2026, 1, 1), 3450, 0),
    ]
    assert period_rows(engine, tenant_id, "1200") == expected_rows
    expected = {D(2026, 1, 31): 10000, D(2026, 2, 1): 9850, D(2026, 2, 3): 6700, D(2026, 2, 28): 6550, D(2025, 12, 30): 0}
    for as_of, net in expected.items():
        assert as_of_everywhere(engine, tenant_id, "1100", as_of) == net
    assert seal_pending(engine, tenant_id) == 4
    assert period_rows(engine, tenant_id, "1200") == expected_rows
    for as_of, net in expected.items():
        assert as_of_everywhere(engine, tenant_id, "1100", as_of) == net
    with engine.connect() as conn:
        report = verify_books(conn, [tenant_id])
    assert report.clean, report.discrepancies


@pytest.mark.parametrize("fresh_engine", ["postgresql"], indirect=True)
def test_verify_catches_a_period_row_that_disagrees_with_the_postings(fresh_engine):
    engine = fresh_engine
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)
    post(engine, actor, [EntryDraft(D(2026, 3, 1), (debit("1200", "8", "CNY"), credit("1100", "8", "CNY")))])
    with engine.begin() as conn:  # someone edits a period row behind the ledger's back
        conn.execute(sa.text("ALTER TABLE account_period_balances DISABLE TRIGGER USER"))
        t = tables.account_period_balances
        conn.execute(
            sa.update(t).where(t.c.tenant_id == tenant_id, t.c.account_code == "1200", t.c.grain == "D")
            .values(debit_minor=t.c.debit_minor + 1)
        )
        conn.execute(sa.text("ALTER TABLE account_period_balances ENABLE TRIGGER USER"))
    with engine.connect() as conn:
        report = verify_books(conn, [tenant_id])
    assert any("stored period balance of 1200 CNY D 2026-03-01" in p for p in report.discrepancies), report.discrepancies


@pytest.mark.parametrize("fresh_engine", ["postgresql"], indirect=True)
def test_migration_0012_adds_the_period_rows_a_queued_entry_was_owed(fresh_engine):
    """A database at 0011 whose queue names an entry with no period rows (as entries posted by a
    statement of their own were left for the sealer) gets that entry's rows, once, and verifies clean."""
    from alembic import command

    from loanbook.migrate import alembic_config, upgrade

    engine = fresh_engine
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)
    seal_pending(engine, tenant_id)
    # Posted by today's code, then the schema goes back: the statement names objects 0011 lacks.
    (entry,) = post(engine, actor, [EntryDraft(D(2026, 4, 2), (debit("1200", "5", "CNY"), credit("1100", "5", "CNY")))], seal=False)
    config = alembic_config()
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0011_balance_fillfactor")
        conn.commit()
    with engine.begin() as conn:  # the state that road left: current counters, no period rows, the entry on the queue
        conn.execute(sa.text("DELETE FROM account_period_balances WHERE tenant_id = :t"), {"t": tenant_id})
        conn.execute(
            sa.text("UPDATE audit_unsealed SET entry_id = :e WHERE tenant_id = :t"), {"e": entry.id, "t": tenant_id}
        )
    assert period_rows(engine, tenant_id, "1200") == []
    upgrade(engine)
    expected = [("D", D(2026, 4, 2), 500, 0), ("M", D(2026, 4, 1), 500, 0), ("Y", D(2026, 1, 1), 500, 0)]
    assert period_rows(engine, tenant_id, "1200") == expected
    assert seal_pending(engine, tenant_id) == 1  # sealing adds nothing to the period rows
    assert period_rows(engine, tenant_id, "1200") == expected
    assert as_of_everywhere(engine, tenant_id, "1100", D(2026, 4, 2)) == -500
    with engine.connect() as conn:
        report = verify_books(conn, [tenant_id])
    assert report.clean, report.discrepancies
