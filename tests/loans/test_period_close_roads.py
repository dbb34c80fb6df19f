"""A closed period holds on the loan roads: close of business and backdated repayments refuse it."""
from __future__ import annotations

import datetime as dt

import pytest

from ledger import errors, periods
from ledger.unit_of_work import run_in_transaction
from loans import money
from loans.cob import run_close_of_business
from loans.queries import loan_row
from tests.conftest import actor_for
from tests.loans.conftest import apply, check_books, cob

D = dt.date


def test_close_of_business_and_a_backdated_repayment_refuse_a_closed_period(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 1, 18))
    run_in_transaction(engine, lambda c: periods.close_period(c, actor_for(tenant_id), D(2026, 1, 20), "January half"))
    with pytest.raises(errors.PeriodClosed):
        run_close_of_business(engine, tenant_id, D(2026, 1, 19), batch_size=7)
    with pytest.raises(errors.PeriodClosed):
        run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "100", "CNY", D(2026, 1, 17)))
    with engine.connect() as conn:
        assert loan_row(conn, tenant_id, loan_id).last_cob_date == D(2026, 1, 18)
    check_books(engine, tenant_id)
