"""A page of loans with schedules, balances, transactions, borrowers and products costs a constant number
of SQL statements, whatever the page size. In-process, on both databases."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from identity import service as identity_service
from identity.model import Role
from ledger.store.transaction import run_in_transaction
from loans import service
from loans.state import LoanStatus
from tests.api.test_api_loaders import statements_for_page, test_cipher
from tests.conftest import actor_for, new_tenant

LOANS_PAGE = """
query Page($first: Int!) {
  loans(first: $first) {
    edges { node {
      id status daysPastDue bucket class nonAccrual
      balances { principal { amount } interest { amount } totalOutstanding { amount } }
      borrower { name nationalId }
      product { code version }
      schedule { number dueDate total { amount } outstanding { amount } status }
      transactions(last: 10) { type amount { amount } allocation { principal { amount } } journalEntry { id } reversedBy { id } }
    } }
    pageInfo { hasNextPage }
  }
}"""


def book_with(engine: sa.Engine, loans: int) -> str:
    """A tenant with `loans` disbursed 36-month loans, every third with a repayment and a fee; an auditor token."""
    tenant_id = new_tenant(engine)
    officer, approver = actor_for(tenant_id, "officer"), actor_for(tenant_id, "approver")
    day = dt.date(2026, 1, 15)

    def seed(conn: sa.Connection) -> None:
        service.create_product(conn, officer, {"code": "CASH36", "name": "Cash 36m", "currency": "CNY"})
        for n in range(loans):
            borrower = service.create_borrower(conn, officer, test_cipher, name=f"borrower {n}", national_id=f"11010519900101{n:04d}")
            loan_id = service.submit_application(
                conn, officer, borrower_id=borrower, product_code="CASH36", principal=str(1000 + n), annual_rate="0.12",
                term_periods=36, disbursement_date=day,
            )
            service.decide_application(conn, approver, loan_id, LoanStatus.APPROVED)
            service.disburse_loan(conn, officer, loan_id, day)
            if n % 3 == 0:
                service.record_repayment(conn, officer, loan_id, "10.00", "CNY", day)
                service.charge_fee(conn, officer, loan_id, "5.00", "CNY", day)

    run_in_transaction(engine, seed)
    now = dt.datetime.now(dt.timezone.utc)
    return run_in_transaction(engine, lambda c: identity_service.create_token(c, tenant_id, Role.AUDITOR, actor_name="test", now=now)).secret


def test_a_page_of_loans_costs_the_same_statements_whatever_its_size(engine):
    small, small_page = statements_for_page(engine, book_with(engine, loans=4), first=3, document=LOANS_PAGE)
    large, large_page = statements_for_page(engine, book_with(engine, loans=50), first=50, document=LOANS_PAGE)
    assert len(small_page["loans"]["edges"]) == 3 and len(large_page["loans"]["edges"]) == 50
    nodes = [edge["node"] for edge in large_page["loans"]["edges"]]
    assert all(len(loan["schedule"]) == 36 for loan in nodes)
    assert sorted(len(loan["transactions"]) for loan in nodes) == [1] * 33 + [3] * 17
    assert all(loan["borrower"]["nationalId"].startswith("110*") for loan in nodes)
    assert large == small, f"{small} statements for 3 loans but {large} for 50"
