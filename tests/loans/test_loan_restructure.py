"""Partial prepayment re-schedules the rest; a restructure capitalises arrears into a new schedule."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from ledger.unit_of_work import run_in_transaction
from loans import errors, money
from loans.store.tables import loan_installments, loans
from tests.loans.conftest import apply, check_books, cob, lines

D = dt.date


def installments(engine, loan_id, version=None):
    with engine.connect() as conn:
        if version is None:
            version = conn.execute(sa.select(loans.c.schedule_version).where(loans.c.id == loan_id)).scalar()
        return conn.execute(
            sa.select(loan_installments)
            .where(loan_installments.c.loan_id == loan_id, loan_installments.c.schedule_version == version)
            .order_by(loan_installments.c.number)
        ).all()


def started(book):
    """10,000.00 at 12 % over 12 months from 15 Jan; February's installment paid; business date 2 Mar."""
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 14))
    run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "888.49", "CNY", D(2026, 2, 15)))
    cob(engine, tenant_id, D(2026, 2, 15), D(2026, 3, 1))
    return loan_id


@pytest.mark.parametrize(("mode", "installment", "count"), [("REDUCE_INSTALLMENT", 60050, 13), ("REDUCE_TERM", 88849, 10)])
def test_partial_prepayment_pays_accrued_interest_then_principal_and_reschedules(book, mode, installment, count):
    engine, tenant_id, officer, _, _ = book
    loan_id = started(book)
    result = run_in_transaction(engine, lambda c: money.prepay_loan(c, officer, loan_id, "3000.00", "CNY", D(2026, 3, 2), mode))
    # 15 of the 28 days of March's 92.12 interest (49.35: 14 days accrued by close of business and
    # today's 3.29 accrued now), then 2,950.65 of principal.
    assert result.allocation.interest == 4935 and result.allocation.principal == 295065
    assert lines(engine, tenant_id, result.journal_entry_id) == [("1100", 300000), ("1200", -295065), ("1210", -4606), ("4100", -329)]
    rows = installments(engine, loan_id)
    assert len(rows) == count
    assert (rows[1].due_date, rows[1].principal, rows[1].interest) == (D(2026, 3, 2), 0, 4935)  # cut at the date
    assert rows[3].principal + rows[3].interest == installment
    assert sum(r.principal - r.principal_paid for r in rows) == 1000000 - 78849 - 295065
    assert len(installments(engine, loan_id, version=1)) == 12  # the old schedule stays readable
    cob(engine, tenant_id, D(2026, 3, 2), D(2026, 3, 20))
    check_books(engine, tenant_id)


def test_restructure_capitalises_arrears_into_a_new_schedule(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 3, 1))  # February unpaid: overdue with penalty and late fee
    with engine.begin() as conn:
        preview = money.restructure_preview(conn, tenant_id, loan_id, D(2026, 3, 2), annual_rate="0.10", term_periods=24)
    assert len(preview.installments) == 24
    result = run_in_transaction(
        engine, lambda c: money.restructure_loan(c, officer, loan_id, D(2026, 3, 2), annual_rate="0.10", term_periods=24)
    )
    entry = dict(lines(engine, tenant_id, result.journal_entry_id))
    capitalised = entry["1200"]
    assert capitalised == result.allocation.principal > 10000  # at least February's interest
    assert entry["1210"] < 0 and entry["1220"] == -5000 and entry["1230"] < 0
    rows = installments(engine, loan_id)
    new = [r for r in rows if r.number > 2]
    assert len(new) == 24 and sum(r.principal for r in new) == 1000000 + capitalised
    assert [r.principal + r.interest for r in new] == [to_minor_total(i) for i in preview.installments]
    with engine.connect() as conn:
        assert conn.execute(sa.select(loans.c.dpd).where(loans.c.id == loan_id)).scalar() == 0
    cob(engine, tenant_id, D(2026, 3, 2), D(2026, 4, 5))
    check_books(engine, tenant_id)
    # A repayment backdated across the new schedule replays the restructure and posts the difference.
    late = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "10", "CNY", D(2026, 3, 10)))
    assert late.allocation.total == 1000
    check_books(engine, tenant_id)
    with pytest.raises(errors.DateAfterBusinessDate):
        run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "10", "CNY", D(2026, 4, 30)))


def to_minor_total(installment):
    return int((installment.principal + installment.interest) * 100)
