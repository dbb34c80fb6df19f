"""A page of loans with schedules, balances, transactions, borrowers and products costs a constant number
of SQL statements, whatever the page size. In-process, on both databases."""
from __future__ import annotations

import asyncio
import datetime as dt
import re

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.types import ExecutionResult

from identity import service as identity_service
from identity.model import Role
from ledger.unit_of_work import run_in_transaction
from loans import applications, borrowers, catalogue, money
from loans.state import LoanStatus
from graphql_api.core.scalars import encode_id
from graphql_api.schema import schema
from loanbook.db import make_reader
from tests.api.test_api_loaders import context, statements_for_page, test_cipher
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
        catalogue.create_product(conn, officer, {"code": "CASH36", "name": "Cash 36m", "currency": "CNY"})
        for n in range(loans):
            borrower = borrowers.create_borrower(conn, officer, test_cipher, name=f"borrower {n}", national_id=f"11010519900101{n:04d}")
            loan_id = applications.submit_application(
                conn, officer, borrower_id=borrower, product_code="CASH36", principal=str(1000 + n), annual_rate="0.12",
                term_periods=36, disbursement_date=day,
            )
            applications.decide_application(conn, approver, loan_id, LoanStatus.APPROVED)
            money.disburse_loan(conn, officer, loan_id, day)
            if n % 3 == 0:
                money.record_repayment(conn, officer, loan_id, "10.00", "CNY", day)
                money.charge_fee(conn, officer, loan_id, "5.00", "CNY", day)

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


REPAY = """
mutation Repay($i: RecordRepaymentInput!) {
  recordRepayment(input: $i) {
    __typename
    ... on RecordRepaymentPayload {
      replayed allocation { overpayment { amount } }
      transaction { id type amount { amount } recordedAt }
      loan { id status daysPastDue balances { principal { amount } overpayment { amount } } }
    }
    ... on Error { code message }
  }
}"""


def loan_statements_of(engine: sa.Engine, token: str, document: str, variables: dict) -> tuple[list[tuple[str, set[str]]], dict]:
    """Each SQL statement the request ran on the loan tables: its verb and the loan tables it names."""
    seen: list[str] = []
    reader = make_reader(engine)
    engines = {engine, reader.sync_engine if isinstance(reader, AsyncEngine) else reader}
    listener = lambda conn, cursor, statement, *_: seen.append(statement)  # noqa: E731
    for listened in engines:
        sa.event.listen(listened, "before_cursor_execute", listener)

    async def execute() -> ExecutionResult:
        try:
            return await schema.execute(document, variable_values=variables, context_value=context(engine, token, reader))
        finally:
            if isinstance(reader, AsyncEngine):
                await reader.dispose()

    try:
        result = asyncio.run(execute())
    finally:
        for listened in engines:
            sa.event.remove(listened, "before_cursor_execute", listener)
    assert result.errors is None, result.errors
    touched = [(s.split()[0], set(re.findall(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+(loans|loan_\w+)\b", s))) for s in seen]
    return [(verb, tables) for verb, tables in touched if tables], result.data


def test_a_repayment_runs_four_statements_on_the_loan_tables_and_reads_nothing_back(engine):
    tenant_id = new_tenant(engine)
    officer, approver = actor_for(tenant_id, "officer"), actor_for(tenant_id, "approver")
    day = dt.date(2026, 1, 15)
    run_in_transaction(engine, lambda c: catalogue.create_product(c, officer, {"code": "CASH36", "name": "Cash 36m", "currency": "CNY"}))

    def book(conn: sa.Connection):
        borrower = borrowers.create_borrower(conn, officer, test_cipher, name="borrower")
        loan_id = applications.submit_application(conn, officer, borrower_id=borrower, product_code="CASH36", principal="1000",
                                             annual_rate="0.12", term_periods=36, disbursement_date=day)
        applications.decide_application(conn, approver, loan_id, LoanStatus.APPROVED)
        money.disburse_loan(conn, officer, loan_id, day)
        return loan_id

    loan_id = run_in_transaction(engine, book)
    now = dt.datetime.now(dt.timezone.utc)
    token = run_in_transaction(engine, lambda c: identity_service.create_token(c, tenant_id, Role.FINANCE, actor_name="test", now=now)).secret
    repayment = {"loanId": encode_id("Loan", loan_id), "amount": "1.00", "currency": "CNY", "effectiveDate": "2026-01-16"}
    for n, overpaid in ((1, "1.00"), (2, "2.00")):
        statements, data = loan_statements_of(engine, token, REPAY, {"i": {**repayment, "idempotencyKey": f"repay-{n}"}})
        paid = data["recordRepayment"]
        assert (paid["__typename"], paid["replayed"], paid["transaction"]["type"]) == ("RecordRepaymentPayload", False, "REPAYMENT")
        assert paid["loan"]["balances"]["overpayment"]["amount"] == overpaid
    # The loan (locked) with its tenant's policy, the schedule; the loan's new state and count; the transaction.
    # The key is looked up and recorded in ledger.idempotency's table, not a loan table; the product comes
    # from the process's cache and the payload from the rows written.
    assert statements == [
        ("SELECT", {"loans", "loan_policies"}), ("SELECT", {"loan_installments"}),
        ("UPDATE", {"loans"}), ("INSERT", {"loan_transactions"}),
    ]
