"""Reversals and backdated transactions across a regenerated schedule (a prepayment or a restructure).

The loan is the fixture's: 10,000.00 at 12 % over 12 months from 15 January 2026, installment 888.49
(1: 100.00 interest + 788.49 principal; 2: 92.12 + 796.37), 0.05 % a day of penalty on overdue
principal, a 50.00 late fee after 3 days' grace. The replay rebuilds every schedule version the
change crosses, writes the result as the loan's next schedule version and posts only the difference.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from ledger.unit_of_work import run_in_transaction
from loans import applications, catalogue, money
from loans.replay import ReplayConflict
from loans.state import LoanStatus
from loans.store.repository import load_loan
from loans.store.tables import loan_installments, loans
from tests.loans.conftest import apply, check_books, cob, lines

D = dt.date


def schedule(engine, loan_id, version=None):
    """(version, [(number, due date, principal, interest, principal paid, interest paid)])."""
    with engine.connect() as conn:
        if version is None:
            version = conn.execute(sa.select(loans.c.schedule_version).where(loans.c.id == loan_id)).scalar()
        rows = conn.execute(
            sa.select(loan_installments)
            .where(loan_installments.c.loan_id == loan_id, loan_installments.c.schedule_version == version)
            .order_by(loan_installments.c.number)
        ).all()
    return version, [(r.number, r.due_date, r.principal, r.interest, r.principal_paid, r.interest_paid) for r in rows]


def loan_row(engine, tenant_id, loan_id):
    with engine.connect() as conn:
        return load_loan(conn, tenant_id, loan_id, lock=False)


def february_paid(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 14))
    paid = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "888.49", "CNY", D(2026, 2, 15)))
    cob(engine, tenant_id, D(2026, 2, 15), D(2026, 3, 1))
    return loan_id, paid


def test_a_repayment_bouncing_after_a_partial_prepayment_rebuilds_the_new_schedule(book):
    engine, tenant_id, officer, _, _ = book
    loan_id, paid = february_paid(book)
    prepaid = run_in_transaction(engine, lambda c: money.prepay_loan(
        c, officer, loan_id, "3000.00", "CNY", D(2026, 3, 2), "REDUCE_INSTALLMENT"))
    assert (prepaid.allocation.interest, prepaid.allocation.principal) == (4935, 295065)
    cob(engine, tenant_id, D(2026, 3, 2), D(2026, 3, 20))  # the new 15 March installment (573.37 + 27.13) is unpaid
    version, rows = schedule(engine, loan_id)
    assert version == 2 and rows[2][2:4] == (57337, 2713)
    before = loan_row(engine, tenant_id, loan_id)
    assert (before.principal, before.interest, before.fee, before.penalty, before.allowance) == (626086, 3630, 5000, 145, 12522)

    # The February payment bounces on 21 March. Replayed without it, February was 15 days late by
    # 2 March: 14 days of round(788.49 x 0.05 %) = 0.39 penalty (5.46) and the 50.00 late fee. The
    # 3,000.00 prepayment now pays those 55.46, February's 888.49 and March's 49.35 accrued interest,
    # and only 2,006.70 of principal: 7,204.81 is left instead of 6,260.86 (+943.95), re-scheduled to
    # 691.03 a month instead of 600.50. Since 15 March the unpaid installment's penalty is
    # 5 x 0.33 instead of 5 x 0.29 (+0.20); 2-20 March accrue 41.78 of interest instead of 36.30
    # (+5.48); the allowance is 2 % of 7,204.81 = 144.10 instead of 125.22 (+18.88).
    bounced = run_in_transaction(engine, lambda c: money.reverse_transaction(c, officer, loan_id, paid.transaction_id, D(2026, 3, 21)))
    assert lines(engine, tenant_id, bounced.journal_entry_id) == [
        ("1200", 94395), ("1210", 548), ("1230", 20), ("5100", 1888),
        ("1100", -88849), ("1290", -1888), ("4100", -548), ("4200", -5000), ("4300", -566),
    ]
    # The reversal's allocation is what it undid: the bounced payment's own.
    assert (bounced.allocation.interest, bounced.allocation.principal, bounced.allocation.total) == (10000, 78849, 88849)
    assert json.loads(bounced.transaction.details) == {"rescheduled": True}
    version, rows = schedule(engine, loan_id)
    assert version == 3
    assert rows[:5] == [
        (1, D(2026, 2, 15), 78849, 10000, 78849, 10000),  # paid by the prepayment now
        (2, D(2026, 3, 2), 0, 4935, 0, 4935),  # the installment in progress, cut at the prepayment
        (3, D(2026, 3, 15), 65981, 3122, 0, 0),
        (4, D(2026, 4, 15), 62558, 6545, 0, 0),
        (5, D(2026, 5, 15), 63184, 5919, 0, 0),
    ]
    assert sum(r[2] for r in rows) == 1000000 - 200670 and len(rows) == 13
    assert schedule(engine, loan_id, version=2)[1][2][2:4] == (57337, 2713), "the replaced version stays readable"
    after = loan_row(engine, tenant_id, loan_id)
    assert (after.principal, after.interest, after.fee, after.penalty, after.allowance) == (720481, 4178, 5000, 165, 14410)
    check_books(engine, tenant_id)
    cob(engine, tenant_id, D(2026, 3, 21), D(2026, 4, 20))  # business goes on from the rebuilt schedule
    check_books(engine, tenant_id)


def restructured_after_a_missed_february(book):
    """February unpaid; on 2 March restructured at 10 % over 24 months, arrears capitalised."""
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 3, 1))
    done = run_in_transaction(
        engine, lambda c: money.restructure_loan(c, officer, loan_id, D(2026, 3, 2), annual_rate="0.10", term_periods=24)
    )
    return loan_id, done


def test_a_repayment_backdated_before_a_restructure_capitalises_less(book):
    engine, tenant_id, officer, _, _ = book
    loan_id, restructured = restructured_after_a_missed_february(book)
    # Capitalised: February's 100.00 and March's 49.35 interest to 2 March, the 50.00 late fee and
    # 14 days x 0.39 = 5.46 of penalty: 204.81, re-scheduled at 470.90 a month from 2 April.
    assert restructured.allocation.principal == 20481
    assert lines(engine, tenant_id, restructured.journal_entry_id) == [
        ("1200", 20481), ("1210", -14606), ("1220", -5000), ("1230", -546), ("4100", -329),
    ]
    assert schedule(engine, loan_id)[1][2] == (3, D(2026, 4, 2), 38586, 8504, 0, 0)
    cob(engine, tenant_id, D(2026, 3, 2), D(2026, 3, 10))
    # The borrower's February payment turns up, dated 15 February: replayed, February was paid on
    # time, so no late fee or penalty (-50.00, -5.46 income), and the restructure capitalises only
    # March's 49.35: principal 9,260.86 instead of 10,204.81 (-943.95), 427.34 a month. 2-10 March
    # accrue 19.91 of interest instead of 21.95 (-2.04); the allowance is 2 % of the smaller
    # principal, 185.22 instead of 204.10 (-18.88).
    late = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "888.49", "CNY", D(2026, 2, 15)))
    assert (late.allocation.interest, late.allocation.principal) == (10000, 78849)
    assert lines(engine, tenant_id, late.journal_entry_id) == [
        ("1100", 88849), ("1290", 1888), ("4100", 204), ("4200", 5000), ("4300", 546),
        ("1200", -94395), ("1210", -204), ("5100", -1888),
    ]
    assert json.loads(late.transaction.details) == {"rescheduled": True}
    version, rows = schedule(engine, loan_id)
    assert version == 3 and rows[0] == (1, D(2026, 2, 15), 78849, 10000, 78849, 10000)
    assert rows[2] == (3, D(2026, 4, 2), 35017, 7717, 0, 0) and sum(r[2] - r[4] for r in rows) == 926086
    loan = loan_row(engine, tenant_id, loan_id)
    assert (loan.principal, loan.interest, loan.fee, loan.penalty, loan.allowance) == (926086, 1991, 0, 0, 18522)
    check_books(engine, tenant_id)
    # It bounces: the exact mirror, and the schedule of the restructure as first recorded.
    bounced = run_in_transaction(engine, lambda c: money.reverse_transaction(c, officer, loan_id, late.transaction_id, D(2026, 3, 11)))
    assert sorted(lines(engine, tenant_id, bounced.journal_entry_id)) == sorted((code, -amount) for code, amount in lines(
        engine, tenant_id, late.journal_entry_id))
    assert schedule(engine, loan_id) == (4, schedule(engine, loan_id, version=2)[1])
    check_books(engine, tenant_id)


def test_reversing_a_prepayment_restores_the_schedule_it_replaced_and_a_backdated_one_rebuilds_it(book):
    engine, tenant_id, officer, _, _ = book
    loan_id, _ = february_paid(book)
    prepaid = run_in_transaction(engine, lambda c: money.prepay_loan(c, officer, loan_id, "3000.00", "CNY", D(2026, 3, 2), "REDUCE_TERM"))
    cob(engine, tenant_id, D(2026, 3, 2), D(2026, 3, 20))  # the 15 March installment (861.36 + 27.13) is unpaid
    # Reversed on 21 March: principal 9,211.51 again (+2,950.65), the 49.35 of interest it paid is
    # owed again and 2-20 March accrue 20.50 more on the larger principal (+69.85); the unpaid
    # 15 March installment is 796.37 of principal again: 5 days x 0.40 instead of 0.43 of penalty
    # (-0.15); the allowance is 2 % of 9,211.51 = 184.23 instead of 125.22 (+59.01).
    undone = run_in_transaction(engine, lambda c: money.reverse_transaction(c, officer, loan_id, prepaid.transaction_id, D(2026, 3, 21)))
    assert lines(engine, tenant_id, undone.journal_entry_id) == [
        ("1200", 295065), ("1210", 6985), ("4300", 15), ("5100", 5901),
        ("1100", -300000), ("1230", -15), ("1290", -5901), ("4100", -2050),
    ]
    assert (undone.allocation.interest, undone.allocation.principal) == (4935, 295065)
    version, rows = schedule(engine, loan_id)
    booked = schedule(engine, loan_id, version=1)[1]
    assert version == 3 and [r[:4] for r in rows] == [r[:4] for r in booked], "the booked schedule is back"
    check_books(engine, tenant_id)
    # A prepayment backdated to 5 March: 18 of February-March's 28 days of interest (59.22), then
    # 1,940.78 of principal; re-scheduled (REDUCE_INSTALLMENT) from 5 March.
    backdated = run_in_transaction(engine, lambda c: money.prepay_loan(
        c, officer, loan_id, "2000.00", "CNY", D(2026, 3, 5), "REDUCE_INSTALLMENT"))
    assert (backdated.allocation.interest, backdated.allocation.principal) == (5922, 194078)
    assert lines(engine, tenant_id, backdated.journal_entry_id) == [
        ("1100", 200000), ("1290", 3882), ("4100", 1159), ("4300", 30),
        ("1200", -194078), ("1210", -7081), ("1230", -30), ("5100", -3882),
    ]
    version, rows = schedule(engine, loan_id)
    assert version == 4 and rows[1:4] == [
        (2, D(2026, 3, 5), 0, 5922, 0, 5922), (3, D(2026, 3, 15), 67242, 2424, 0, 0), (4, D(2026, 4, 15), 63068, 6598, 0, 0),
    ]
    assert loan_row(engine, tenant_id, loan_id).principal == 921151 - 194078
    check_books(engine, tenant_id)


def unchanged(engine, tenant_id, loan_id, attempt):
    """`attempt` answers REPLAY_CONFLICT and leaves the loan, its schedule and the books as they were."""
    loan, version = loan_row(engine, tenant_id, loan_id), schedule(engine, loan_id)
    with engine.connect() as conn:
        entries = conn.execute(sa.text("SELECT count(*) FROM journal_entries WHERE tenant_id = :t"), {"t": tenant_id}).scalar()
    with pytest.raises(ReplayConflict) as refused:
        run_in_transaction(engine, lambda c: attempt(c))
    assert refused.value.code == "REPLAY_CONFLICT"
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM journal_entries WHERE tenant_id = :t"), {"t": tenant_id}).scalar() == entries
    assert loan_row(engine, tenant_id, loan_id) == loan and schedule(engine, loan_id) == version
    check_books(engine, tenant_id)
    return refused.value.message


def test_a_payoff_that_would_no_longer_settle_the_loan_is_a_replay_conflict(book):
    engine, tenant_id, officer, _, _ = book
    loan_id, paid = february_paid(book)
    with engine.begin() as conn:
        quote = money.payoff_quote(conn, tenant_id, loan_id, D(2026, 3, 2))
    assert quote.total == 921151 + 4935
    payoff = run_in_transaction(engine, lambda c: money.pay_off_loan(c, officer, loan_id, "9260.86", "CNY", D(2026, 3, 2)))
    assert payoff.status is LoanStatus.PAID_OFF
    # Without the February payment the payoff of 2 March would need 888.49 and 55.46 more.
    message = unchanged(engine, tenant_id, loan_id, lambda c: money.reverse_transaction(c, officer, loan_id, paid.transaction_id, D(2026, 3, 3)))
    assert "PAYOFF of 2026-03-02" in message
    # The way through: reverse the payoff first (the loan is ACTIVE again), then the bounced payment.
    run_in_transaction(engine, lambda c: money.reverse_transaction(c, officer, loan_id, payoff.transaction_id, D(2026, 3, 2)))
    run_in_transaction(engine, lambda c: money.reverse_transaction(c, officer, loan_id, paid.transaction_id, D(2026, 3, 2)))
    assert loan_row(engine, tenant_id, loan_id).principal == 1000000
    check_books(engine, tenant_id)


def test_a_prepayment_that_would_now_repay_everything_is_a_replay_conflict(book):
    engine, tenant_id, officer, _, _ = book
    loan_id, _ = february_paid(book)
    cob(engine, tenant_id, D(2026, 3, 2), D(2026, 3, 14))
    run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "888.49", "CNY", D(2026, 3, 15)))
    cob(engine, tenant_id, D(2026, 3, 15), D(2026, 3, 19))
    run_in_transaction(engine, lambda c: money.prepay_loan(c, officer, loan_id, "5000.00", "CNY", D(2026, 3, 20), "REDUCE_INSTALLMENT"))
    cob(engine, tenant_id, D(2026, 3, 20), D(2026, 3, 25))
    # 4,000.00 more prepaid on 5 March would leave less principal than the 20 March prepayment pays.
    message = unchanged(engine, tenant_id, loan_id, lambda c: money.prepay_loan(
        c, officer, loan_id, "4000.00", "CNY", D(2026, 3, 5), "REDUCE_INSTALLMENT"))
    assert "PREPAYMENT of 2026-03-20" in message and "payoff" in message


def test_a_restructure_of_a_loan_now_in_non_accrual_is_a_replay_conflict(book):
    engine, tenant_id, officer, approver, borrower = book
    run_in_transaction(engine, lambda c: catalogue.create_product(c, officer, {
        "code": "SHORT6", "name": "Short loan", "currency": "CNY", "penalty_daily_rate": "0.0005", "late_fee": "50",
        "late_fee_grace_days": 3, "non_accrual_dpd": 30, "term_max": 12,
    }))
    loan_id = run_in_transaction(engine, lambda c: applications.submit_application(
        c, officer, borrower_id=borrower, product_code="SHORT6", principal="6000", annual_rate="0.12", term_periods=6,
        disbursement_date=D(2026, 1, 15),
    ))
    run_in_transaction(engine, lambda c: applications.decide_application(c, approver, loan_id, LoanStatus.APPROVED))
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 14))
    paid = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "1035.29", "CNY", D(2026, 2, 15)))
    cob(engine, tenant_id, D(2026, 2, 15), D(2026, 4, 9))  # March unpaid: 25 days past due, still accruing
    run_in_transaction(engine, lambda c: money.restructure_loan(c, officer, loan_id, D(2026, 4, 10), term_periods=12))
    cob(engine, tenant_id, D(2026, 4, 10), D(2026, 4, 12))
    # Without the February payment the loan was 54 days past due on 10 April: non-accrual (past 30),
    # with interest and penalties accrued off the books, which a restructure refuses.
    message = unchanged(engine, tenant_id, loan_id, lambda c: money.reverse_transaction(c, officer, loan_id, paid.transaction_id, D(2026, 4, 13)))
    assert "RESTRUCTURE of 2026-04-10" in message and "non-accrual" in message


def test_a_recovery_after_its_write_off_is_reversed_is_a_replay_conflict(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    written = run_in_transaction(engine, lambda c: money.write_off_loan(c, officer, loan_id, D(2026, 1, 15)))
    run_in_transaction(engine, lambda c: money.record_recovery(c, officer, loan_id, "100.00", "CNY", D(2026, 1, 20)))
    message = unchanged(engine, tenant_id, loan_id, lambda c: money.reverse_transaction(c, officer, loan_id, written.transaction_id, D(2026, 1, 21)))
    assert "RECOVERY of 2026-01-20" in message
