"""A restructured loan is observed: at least special mention, and no better than before, until its
observation period has passed with timely payments (the tenant's policy sets the period).

The loan is the fixture's: 10,000.00 at 12 % over 12 months from 15 January 2026. February's 888.49 is
not paid; on 2 March the loan is restructured at 10 % over 24 months with the arrears capitalised:
10,204.81 of principal, 470.90 a month from 2 April (385.86, 389.08, 392.32 of principal first).
"""
from __future__ import annotations

import datetime as dt

import pytest

from ledger.unit_of_work import run_in_transaction
from loans import errors, money, policy
from loans.delinquency import LoanClass
from loans.state import LoanStatus
from loans.store.repository import load_loan
from tests.loans.conftest import apply, check_books, cob

D = dt.date


def loan_row(engine, tenant_id, loan_id):
    with engine.connect() as conn:
        return load_loan(conn, tenant_id, loan_id, lock=False)


def observed(row):
    return (row.status, row.dpd, row.loan_class, row.class_floor, row.restructured_on, row.observation_ends_on, row.allowance)


def disbursed_and_february_missed(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    return loan_id


def restructure(engine, officer, loan_id):
    return run_in_transaction(
        engine, lambda c: money.restructure_loan(c, officer, loan_id, D(2026, 3, 2), annual_rate="0.10", term_periods=24)
    )


def pay(engine, officer, loan_id, day):
    run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "470.90", "CNY", day))


def test_a_restructured_loan_is_special_mention_for_a_year_under_the_default_policy(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = disbursed_and_february_missed(book)
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 3, 1))
    assert loan_row(engine, tenant_id, loan_id).loan_class == "SPECIAL_MENTION"  # 14 days past due
    done = restructure(engine, officer, loan_id)
    assert done.allocation.principal == 20481 and done.status is LoanStatus.ACTIVE
    # Observation from the first repayment date after the change (2 April 2026): at least 12 months
    # and at least 2 repayment periods (2 June 2026), so until 2 April 2027.
    row = loan_row(engine, tenant_id, loan_id)
    assert observed(row)[3:6] == ("SPECIAL_MENTION", D(2026, 3, 2), D(2027, 4, 2))
    cob(engine, tenant_id, D(2026, 3, 2), D(2026, 3, 2))
    # Current (0 days past due) yet special mention, provided at 2 % of 10,204.81 = 204.10, not 1 %.
    assert observed(loan_row(engine, tenant_id, loan_id)) == (
        LoanStatus.ACTIVE, 0, "SPECIAL_MENTION", "SPECIAL_MENTION", D(2026, 3, 2), D(2027, 4, 2), 20410,
    )
    check_books(engine, tenant_id)


def test_the_floor_keeps_the_class_before_the_restructure_and_lifts_after_timely_payments(book):
    engine, tenant_id, officer, _, _ = book
    # The tenant's policy: substandard from 10 days past due; observation 1 month and 2 repayment periods.
    run_in_transaction(engine, lambda c: policy.set_classification_policy(c, officer, {
        "substandard_from_dpd": 10, "restructure_observation_months": 1, "restructure_observation_periods": 2,
    }))
    with pytest.raises(errors.InvalidClassificationPolicy):
        run_in_transaction(engine, lambda c: policy.set_classification_policy(c, officer, {"restructure_observation_months": 121}))
    timely, late = disbursed_and_february_missed(book), disbursed_and_february_missed(book)
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 3, 1))
    # 14 days past due: substandard under this policy, provided at 25 % of 10,000.00.
    assert (loan_row(engine, tenant_id, timely).loan_class, loan_row(engine, tenant_id, timely).allowance) == ("SUBSTANDARD", 250000)
    restructure(engine, officer, timely)
    restructure(engine, officer, late)
    cob(engine, tenant_id, D(2026, 3, 2), D(2026, 4, 1))
    # Observation: 2 April + 1 month = 2 May, but 2 repayment periods reach 2 June. Current, and
    # still substandard (no better than before): 25 % of 10,204.81 = 2,551.20.
    assert observed(loan_row(engine, tenant_id, timely)) == (
        LoanStatus.ACTIVE, 0, "SUBSTANDARD", "SUBSTANDARD", D(2026, 3, 2), D(2026, 6, 2), 255120,
    )
    pay(engine, officer, timely, D(2026, 4, 2))
    cob(engine, tenant_id, D(2026, 4, 2), D(2026, 4, 5))
    pay(engine, officer, late, D(2026, 4, 6))  # 4 days late
    # A missed payment restarts the period: from the next repayment date (2 May), 2 periods reach 2 July.
    row = loan_row(engine, tenant_id, late)
    assert (row.loan_class, row.class_floor, row.observation_ends_on) == ("SUBSTANDARD", "SUBSTANDARD", D(2026, 7, 2))
    cob(engine, tenant_id, D(2026, 4, 6), D(2026, 5, 1))
    # Close of business restarted it as a replay of the loan's history does: a backdated payment
    # (10.00 towards the 50.00 late fee April's lateness cost) replays the loan and finds the stored
    # state its history gives.
    part = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, late, "10.00", "CNY", D(2026, 4, 20)))
    assert part.allocation.fee == 1000 and loan_row(engine, tenant_id, late).observation_ends_on == D(2026, 7, 2)
    for day in (D(2026, 5, 2), D(2026, 6, 2)):
        pay(engine, officer, timely, day)
        pay(engine, officer, late, day)
        cob(engine, tenant_id, day, day + dt.timedelta(days=30) if day.month == 5 else day)
    assert loan_row(engine, tenant_id, timely).loan_class == "SUBSTANDARD", "the floor holds through its last day"
    cob(engine, tenant_id, D(2026, 6, 3), D(2026, 6, 3))
    # Passed with timely payments: the floor lifts; NORMAL at 1 % of 10,204.81 - 1,167.26 = 9,037.55.
    row = loan_row(engine, tenant_id, timely)
    assert (row.dpd, row.loan_class, row.class_floor, row.principal, row.allowance) == (0, LoanClass.NORMAL.value, None, 903755, 9038)
    assert row.restructured_on == D(2026, 3, 2), "the loan still shows it was restructured"
    assert (loan_row(engine, tenant_id, late).loan_class, loan_row(engine, tenant_id, late).class_floor) == ("SUBSTANDARD", "SUBSTANDARD")
    check_books(engine, tenant_id)
