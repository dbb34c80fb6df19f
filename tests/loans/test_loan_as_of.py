"""Payoff quotes and statements as of any date, complete write-offs and capped recoveries.

The loan is the fixture's: 10,000.00 at 12 % over 12 months from 15 January 2026, installment
888.49. Installment 1 is 100.00 interest + 788.49 principal (9,211.51 left), installment 2 is
92.12 + 796.37 (8,415.14 left), installment 3 accrues 84.15 over the 31 days to 15 April.
"""
from __future__ import annotations

import datetime as dt

import pytest

from ledger.unit_of_work import run_in_transaction
from loans import catalogue, errors, money
from loans.portfolio import statement
from loans.replay import ReplayConflict
from loans.state import LoanStatus
from loans.store.repository import load_loan
from tests.loans.conftest import apply, check_books, cob, lines

D = dt.date


def quote(engine, tenant_id, loan_id, day):
    with engine.begin() as conn:
        return money.payoff_quote(conn, tenant_id, loan_id, day)


def loan_row(engine, tenant_id, loan_id):
    with engine.connect() as conn:
        return load_loan(conn, tenant_id, loan_id, lock=False)


def two_paid_then_late(book):
    """February and March paid on their due dates; April unpaid: closed through 20 April."""
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 14))
    run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "888.49", "CNY", D(2026, 2, 15)))
    cob(engine, tenant_id, D(2026, 2, 15), D(2026, 3, 14))
    run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "888.49", "CNY", D(2026, 3, 15)))
    cob(engine, tenant_id, D(2026, 3, 15), D(2026, 4, 20))
    return loan_id


def test_a_backdated_payoff_quote_is_what_settles_the_loan_on_that_date(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = two_paid_then_late(book)
    # On 20 March: 8,415.14 principal and 5 of installment 3's 31 days of 84.15 interest (13.57).
    march = quote(engine, tenant_id, loan_id, D(2026, 3, 20))
    assert (march.principal, march.interest, march.fee, march.penalty, march.overpayment) == (841514, 1357, 0, 0, 0)
    assert march.total == 842871
    # On the open business date April is 6 days late: its penalty and the 50.00 late fee are owed.
    today = quote(engine, tenant_id, loan_id, D(2026, 4, 21))
    assert today.fee == 5000 and today.penalty > 0 and today.total > march.total
    with pytest.raises(errors.DateBeforeDisbursement):
        quote(engine, tenant_id, loan_id, D(2026, 1, 14))
    with pytest.raises(errors.DateAfterBusinessDate):
        quote(engine, tenant_id, loan_id, D(2026, 4, 22))
    with pytest.raises(errors.AmountNotPositive, match="8428.71"):
        run_in_transaction(engine, lambda c: money.pay_off_loan(c, officer, loan_id, "8428.70", "CNY", D(2026, 3, 20)))
    assert loan_row(engine, tenant_id, loan_id).status is LoanStatus.ACTIVE
    paid = run_in_transaction(engine, lambda c: money.pay_off_loan(c, officer, loan_id, "8428.71", "CNY", D(2026, 3, 20)))
    assert paid.status is LoanStatus.PAID_OFF and paid.allocation.total == 842871 and paid.allocation.overpayment == 0
    loan = loan_row(engine, tenant_id, loan_id)
    assert (loan.principal, loan.interest, loan.fee, loan.penalty, loan.overpayment, loan.allowance) == (0, 0, 0, 0, 0, 0)
    assert loan.closed_on == D(2026, 3, 20)
    check_books(engine, tenant_id)


def test_a_statement_as_of_a_date_shows_that_date(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 14))
    run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "888.49", "CNY", D(2026, 2, 15)))
    cob(engine, tenant_id, D(2026, 2, 15), D(2026, 4, 1))
    late = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "1000.00", "CNY", D(2026, 4, 2)))
    cob(engine, tenant_id, D(2026, 4, 2), D(2026, 4, 5))
    with engine.connect() as conn:
        march = statement(conn, tenant_id, loan_id, D(2026, 3, 20))
        april = statement(conn, tenant_id, loan_id, D(2026, 4, 5))
        paged = statement(conn, tenant_id, loan_id, D(2026, 4, 5), transactions_max=2)
        rest = statement(conn, tenant_id, loan_id, D(2026, 4, 5), transactions_max=200, after=paged.next_page)
    # On 20 March the March installment is 5 days overdue; the April payment is not there yet.
    assert [(s.status, s.paid, s.outstanding) for s in march.installments[:3]] == [
        ("PAID", 88849, 0), ("OVERDUE", 0, 88849), ("DUE", 0, 88849),
    ]
    assert all(t.effective_date <= D(2026, 3, 20) for t in march.transactions)
    assert late.transaction_id not in {t.id for t in march.transactions}
    # 16-20 March: 5 days of round(796.37 x 0.05 %) = 0.40 penalty, and the 50.00 late fee (past 3 days' grace).
    assert (march.state.principal, march.state.penalty, march.state.fee) == (921151, 5 * 40, 5000)
    # By 5 April the late payment settled March (penalty and late fee first) and part of April.
    assert [s.status for s in april.installments[:3]] == ["PAID", "PAID", "DUE"]
    assert late.transaction_id in {t.id for t in april.transactions}
    assert paged.transactions_total == april.transactions_total == len(april.transactions)
    assert len(paged.transactions) == 2 and paged.next_page is not None
    assert [t.id for t in paged.transactions + rest.transactions] == [t.id for t in april.transactions]
    assert rest.next_page is None


def write_off_book(engine, officer):
    run_in_transaction(engine, lambda c: catalogue.create_product(c, officer, {
        "code": "SHORT6", "name": "Short loan", "currency": "CNY", "penalty_daily_rate": "0.0005", "late_fee": "50",
        "late_fee_grace_days": 3, "non_accrual_dpd": 30, "term_max": 12,
    }))


def test_a_write_off_records_every_component_and_recoveries_are_capped(book):
    from loans import applications

    engine, tenant_id, officer, approver, borrower = book
    write_off_book(engine, officer)
    loan_id = run_in_transaction(engine, lambda c: applications.submit_application(
        c, officer, borrower_id=borrower, product_code="SHORT6", principal="6000", annual_rate="0.12", term_periods=6,
        disbursement_date=D(2026, 1, 15),
    ))
    run_in_transaction(engine, lambda c: applications.decide_application(c, approver, loan_id, LoanStatus.APPROVED))
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 4, 1))  # nothing paid: non-accrual from 31 days past due
    before = loan_row(engine, tenant_id, loan_id)
    assert before.non_accrual and before.interest_suspended > 0 and before.penalty_suspended > 0
    written = run_in_transaction(engine, lambda c: money.write_off_loan(c, officer, loan_id, D(2026, 4, 2)))
    a = written.allocation
    assert (a.principal, a.interest, a.fee, a.penalty) == (600000, before.interest, before.fee, before.penalty)
    entry = lines(engine, tenant_id, written.journal_entry_id)
    credits = -sum(amount for _, amount in entry if amount < 0)
    assert credits == a.total == written.transaction.amount
    import json

    details = json.loads(written.transaction.details)
    assert details["interest_suspended"] == before.interest_suspended and details["penalty_suspended"] == before.penalty_suspended
    assert details["entry"] == a.total and details["from_allowance"] + details["to_expense"] == a.total
    after = loan_row(engine, tenant_id, loan_id)
    total_written_off = a.total + before.interest_suspended + before.penalty_suspended
    assert after.written_off + after.written_off_interest + after.written_off_fee + after.written_off_penalty == total_written_off
    assert details["total"] == total_written_off
    check_books(engine, tenant_id)
    first = run_in_transaction(engine, lambda c: money.record_recovery(c, officer, loan_id, "1000.00", "CNY", D(2026, 4, 10)))
    assert first.allocation.principal == 100000 and first.allocation.total == 100000
    with pytest.raises(errors.RecoveryExceedsWrittenOff):
        run_in_transaction(engine, lambda c: money.record_recovery(c, officer, loan_id, "10000.00", "CNY", D(2026, 4, 11)))
    rest = total_written_off - 100000
    amount = f"{rest // 100}.{rest % 100:02d}"
    last = run_in_transaction(engine, lambda c: money.record_recovery(c, officer, loan_id, amount, "CNY", D(2026, 4, 12)))
    assert (last.allocation.principal, last.allocation.interest, last.allocation.fee, last.allocation.penalty) == (
        500000, after.written_off_interest, after.written_off_fee, after.written_off_penalty,
    )
    with pytest.raises(errors.RecoveryExceedsWrittenOff):
        run_in_transaction(engine, lambda c: money.record_recovery(c, officer, loan_id, "0.01", "CNY", D(2026, 4, 13)))
    # A reversal reads what it undid: the recovery's allocation.
    undone = run_in_transaction(engine, lambda c: money.reverse_transaction(c, officer, loan_id, first.transaction_id, D(2026, 4, 14)))
    assert undone.allocation == first.allocation and undone.transaction.principal == 100000
    check_books(engine, tenant_id)
