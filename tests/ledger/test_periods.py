"""Period close: no entry dated in a closed period posts, whatever road it takes; reopen; year end."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa

from ledger import errors, periods, queries, service
from ledger.model import EntryDraft, credit, debit
from ledger.store import tables
from ledger.store.periods import period_open_function
from ledger.unit_of_work import run_in_transaction
from tests.conftest import actor_for, new_tenant, open_usd_accounts
from tests.ledger.test_journal import net, post, snapshot

D = dt.date


def close(engine, actor, through, reason="month end"):
    return run_in_transaction(engine, lambda c: periods.close_period(c, actor, through, reason))


def test_a_closed_period_refuses_entries_on_or_before_its_date_and_writes_nothing(engine, actor):
    post(engine, actor, debit("1100", "500.00", "CNY"), credit("3100", "500.00", "CNY"), on=D(2026, 1, 31))
    closure = close(engine, actor, D(2026, 1, 31))
    assert (closure.seq, closure.through_date, closure.closed_by) == (1, D(2026, 1, 31), actor.name)
    before = snapshot(engine, actor.tenant_id)
    for day in (D(2026, 1, 31), D(2025, 6, 1)):
        with pytest.raises(errors.PeriodClosed) as caught:
            post(engine, actor, debit("1100", "1.00", "CNY"), credit("3100", "1.00", "CNY"), on=day)
        assert caught.value.code == "PERIOD_CLOSED" and caught.value.details["closed_through"] == "2026-01-31"
    # A batch with one closed-period entry among open ones posts none of them.
    drafts = [EntryDraft(D(2026, 2, 3), (debit("1100", "2.00", "CNY"), credit("3100", "2.00", "CNY"))),
              EntryDraft(D(2026, 1, 3), (debit("1100", "3.00", "CNY"), credit("3100", "3.00", "CNY")))]
    with pytest.raises(errors.PeriodClosed):
        run_in_transaction(engine, lambda c: service.post_entries(c, actor, drafts))
    with pytest.raises(errors.PeriodClosed):
        run_in_transaction(engine, lambda c: service.import_entries(c, actor, drafts, reference="legacy.csv"))
    assert snapshot(engine, actor.tenant_id) == before
    post(engine, actor, debit("1100", "7.00", "CNY"), credit("3100", "7.00", "CNY"), on=D(2026, 2, 1))
    run_in_transaction(engine, lambda c: service.import_entries(c, actor, drafts[:1]))
    assert net(engine, actor.tenant_id, "1100") == 50900
    assert net(engine, actor.tenant_id, "1100", as_of=D(2026, 1, 31)) == 50000


def test_a_closed_period_entry_is_corrected_by_a_reversal_in_the_open_period(engine, actor):
    original = post(engine, actor, debit("1100", "80.00", "CNY"), credit("4200", "80.00", "CNY"), on=D(2026, 3, 10))
    close(engine, actor, D(2026, 3, 31))
    with pytest.raises(errors.PeriodClosed):
        run_in_transaction(engine, lambda c: service.reverse_entry(c, actor, original.id, D(2026, 3, 31)))
    reversal = run_in_transaction(engine, lambda c: service.reverse_entry(c, actor, original.id, D(2026, 4, 1)))
    assert reversal.reverses_entry_id == original.id and reversal.metadata["reverses"] == str(original.id)
    assert net(engine, actor.tenant_id, "4200", as_of=D(2026, 3, 31)) == -8000
    assert net(engine, actor.tenant_id, "4200") == 0


def test_closes_stack_and_only_the_latest_reopens_with_a_reason_audited(engine, actor):
    close(engine, actor, D(2026, 1, 31))
    with pytest.raises(errors.InvalidPeriodClose):
        close(engine, actor, D(2026, 1, 15))  # earlier than the current close
    with pytest.raises(errors.InvalidPeriodClose):
        close(engine, actor, actor.now.date())  # today is still open
    with pytest.raises(errors.InvalidInput):
        close(engine, actor, D(2026, 2, 28), reason=" ")
    close(engine, actor, D(2026, 2, 28))
    reopened = run_in_transaction(engine, lambda c: periods.reopen_period(c, actor, "late supplier invoice"))
    assert (reopened.seq, reopened.reopen_reason, reopened.reopened_by) == (2, "late supplier invoice", actor.name)
    post(engine, actor, debit("5100", "9.00", "CNY"), credit("1100", "9.00", "CNY"), on=D(2026, 2, 20))
    with pytest.raises(errors.PeriodClosed):  # January is still closed
        post(engine, actor, debit("5100", "9.00", "CNY"), credit("1100", "9.00", "CNY"), on=D(2026, 1, 20))
    run_in_transaction(engine, lambda c: periods.reopen_period(c, actor, "audit adjustment"))
    with pytest.raises(errors.InvalidPeriodClose):
        run_in_transaction(engine, lambda c: periods.reopen_period(c, actor, "nothing left"))
    with engine.connect() as conn:
        assert [c.seq for c in periods.list_closures(conn, actor.tenant_id)] == [2, 1]
        events = conn.execute(
            sa.select(tables.audit_events.c.action, tables.audit_events.c.reason)
            .where(tables.audit_events.c.tenant_id == actor.tenant_id, tables.audit_events.c.entity_type == "period_closure")
            .order_by(tables.audit_events.c.occurred_at, tables.audit_events.c.action)
        ).all()
    assert sorted(events) == sorted([
        ("period.closed", "month end"), ("period.closed", "month end"),
        ("period.reopened", "late supplier invoice"), ("period.reopened", "audit adjustment"),
    ])


def test_closing_a_fiscal_year_moves_income_and_expense_to_retained_earnings(engine, actor):
    post(engine, actor, debit("1100", "1000.00", "CNY"), credit("3100", "1000.00", "CNY"), on=D(2025, 1, 2))
    post(engine, actor, debit("1100", "300.00", "CNY"), credit("4100", "300.00", "CNY"), on=D(2025, 5, 2))
    usd = open_usd_accounts(engine, actor)
    post(engine, actor, debit(usd["bank"], "20.00", "USD"), credit(usd["fee_income"], "20.00", "USD"), on=D(2025, 6, 2))
    post(engine, actor, debit("5100", "120.00", "CNY"), credit("1100", "120.00", "CNY"), on=D(2025, 7, 2))
    post(engine, actor, debit("1100", "5.00", "CNY"), credit("4100", "5.00", "CNY"), on=D(2026, 1, 5))
    done = run_in_transaction(engine, lambda c: periods.close_fiscal_year(c, actor, 2025, "FY2025 audited"))
    with engine.connect() as conn:
        entry = queries.get_entry(conn, actor.tenant_id, done.entry_id)
        assert periods.closed_through_date(conn, actor.tenant_id) == D(2025, 12, 31)
        tb = queries.trial_balance(conn, actor.tenant_id, D(2025, 12, 31))
    assert entry.effective_date == D(2025, 12, 31) and entry.metadata["kind"] == "year_end_close"
    assert sorted((p.account_code, p.currency, p.amount_minor) for p in entry.postings) == [
        ("3200", "CNY", -18000), ("3200", "USD", -2000), ("4100", "CNY", 30000), ("4205", "USD", 2000), ("5100", "CNY", -12000),
    ]
    assert tb.balanced and {line.account.code for line in tb.lines} == {"1100", "1105", "3100", "3200"}
    for code, currency in (("4100", "CNY"), ("4205", "USD"), ("5100", "CNY")):
        assert net(engine, actor.tenant_id, code, currency, as_of=D(2025, 12, 31)) == 0
    assert net(engine, actor.tenant_id, "4100", as_of=D(2026, 1, 5)) == -500
    with pytest.raises(errors.InvalidPeriodClose):
        run_in_transaction(engine, lambda c: periods.close_fiscal_year(c, actor, 2025, "again"))
    with pytest.raises(errors.PeriodClosed):
        post(engine, actor, debit("1100", "1.00", "CNY"), credit("4100", "1.00", "CNY"), on=D(2025, 12, 31))


def test_the_migration_creates_the_function_the_store_describes():
    import importlib

    migration = importlib.import_module("migrations.versions.0016_period_close")
    assert migration.period_open_function == period_open_function


def test_a_close_waits_for_postings_in_flight_and_refuses_those_after(pg_engine):
    tenant_id = new_tenant(pg_engine)
    actor = actor_for(tenant_id)
    draft = EntryDraft(D(2026, 1, 20), (debit("1100", "4.00", "CNY"), credit("3100", "4.00", "CNY")))
    closed = threading.Event()

    def close_in_thread():
        close(pg_engine, actor_for(tenant_id, "controller"), D(2026, 1, 31))
        closed.set()

    with pg_engine.connect() as conn:
        with conn.begin():
            service.post_entry(conn, actor, draft)  # in flight: holds the period lock shared
            closer = threading.Thread(target=close_in_thread)
            closer.start()
            time.sleep(0.5)
            assert not closed.is_set()  # the close waits for the posting to commit
        closer.join(10)
    assert closed.is_set()
    assert net(pg_engine, tenant_id, "1100", as_of=D(2026, 1, 31)) == 400
    with pytest.raises(errors.PeriodClosed):
        run_in_transaction(pg_engine, lambda c: service.post_entry(c, actor, draft))


def test_close_period_from_the_command_line_refuses_posting_into_it(engine, monkeypatch, capsys):
    from loanbook.cli import main as cli_main

    monkeypatch.setenv("LOANBOOK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    tenant_id = new_tenant(engine)
    with engine.connect() as conn:
        slug = conn.execute(sa.select(tables.tenants.c.slug).where(tables.tenants.c.id == tenant_id)).scalar()
    assert cli_main(["close-period", "--tenant", slug, "--through", "2026-03-31", "--reason", "Q1 filed"]) == 0
    assert "through 2026-03-31 (closure 1)" in capsys.readouterr().out
    posting = ["post", "--tenant", slug, "--date", "2026-03-31", "--debit", "1100:5", "--credit", "3100:5", "--currency", "CNY"]
    assert cli_main(posting) == 1
    assert "PERIOD_CLOSED" in capsys.readouterr().err
    assert cli_main(["reopen-period", "--tenant", slug, "--reason", "late invoice"]) == 0
    assert cli_main(posting) == 0
    assert net(engine, tenant_id, "1100") == 500
