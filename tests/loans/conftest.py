"""Fixtures and steps shared by the loan scenarios: a lender with a cash-loan product and a borrower."""
from __future__ import annotations

import base64
import datetime as dt

import pytest

from ledger import queries
from ledger.unit_of_work import run_in_transaction
from ledger.verify import verify_books
from loans import applications, borrowers, catalogue
from loans.cob import run_close_of_business
from loans.pii import FieldCipher
from loans.state import LoanStatus
from loans.verify import verify_subledger
from tests.conftest import actor_for, new_tenant

D = dt.date


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(base64.urlsafe_b64decode(base64.urlsafe_b64encode(b"k" * 32)))


@pytest.fixture
def book(engine, cipher):
    """A tenant with a cash-loan product and one borrower."""
    tenant_id = new_tenant(engine, "lend")
    officer, approver = actor_for(tenant_id, "officer"), actor_for(tenant_id, "approver")
    run_in_transaction(engine, lambda c: catalogue.create_product(c, officer, {
        "code": "CASH12", "name": "Cash loan 12m", "currency": "CNY", "origination_fee_rate": "0.02",
        "penalty_daily_rate": "0.0005", "late_fee": "50", "late_fee_grace_days": 3,
    }))
    borrower = run_in_transaction(engine, lambda c: borrowers.create_borrower(
        c, officer, cipher, name="张三", national_id="110105199001011234", phone="13800138000", bank_account="6222020200112233445",
    ))
    return engine, tenant_id, officer, approver, borrower


def apply(book, principal="10000", term=12, start=D(2026, 1, 15)):
    engine, tenant_id, officer, approver, borrower = book
    loan_id = run_in_transaction(engine, lambda c: applications.submit_application(
        c, officer, borrower_id=borrower, product_code="CASH12", principal=principal, annual_rate="0.12",
        term_periods=term, disbursement_date=start,
    ))
    run_in_transaction(engine, lambda c: applications.decide_application(c, approver, loan_id, LoanStatus.APPROVED))
    return loan_id


def lines(engine, tenant_id, entry_id):
    with engine.connect() as conn:
        entry = queries.get_entry(conn, tenant_id, entry_id)
    return [(p.account_code, p.amount_minor) for p in entry.postings]


def cob(engine, tenant_id, start, end):
    day = start
    while day <= end:
        run_close_of_business(engine, tenant_id, day, batch_size=7)
        day += dt.timedelta(days=1)


def check_books(engine, tenant_id):
    with engine.connect() as conn:
        assert verify_books(conn, [tenant_id]).discrepancies == []
        assert verify_subledger(conn, tenant_id) == []
        assert queries.trial_balance(conn, tenant_id).balanced


