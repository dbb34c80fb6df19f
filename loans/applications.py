"""Loan applications: submit one under a product, then a decision (approve, reject, withdraw)."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.engine import Connection

from ledger.actor import Actor
from ledger.ids import uuid7
from ledger.money import parse_decimal
from ledger.unit_of_work import record_event
from loans.booking import Application, schedule_for
from loans.catalogue import get_product
from loans.errors import MakerChecker, UnknownBorrower
from loans.state import LoanStatus, check_transition
from loans.store.borrowers import borrower_exists
from loans.store.repository import insert_loan, load_loan, update_loan


def submit_application(
    conn: Connection,
    actor: Actor,
    *,
    borrower_id: uuid.UUID,
    product_code: str,
    principal: object,
    annual_rate: object,
    term_periods: int,
    disbursement_date: dt.date,
    first_due_date: dt.date | None = None,
) -> uuid.UUID:
    if not borrower_exists(conn, actor.tenant_id, borrower_id):
        raise UnknownBorrower(f"no borrower with id {borrower_id}")
    product = get_product(conn, actor.tenant_id, product_code)
    app = Application(parse_decimal(principal, "principal"), parse_decimal(annual_rate, "annualRate"), term_periods, disbursement_date, first_due_date)
    schedule = schedule_for(product, app)  # refuses what the product or the schedule rules do not allow
    loan_id = uuid7()
    insert_loan(conn, actor, {
        "id": loan_id, "borrower_id": borrower_id, "product_code": product.code, "product_version": product.version,
        "status": LoanStatus.APPLIED.value, "currency": product.currency, "principal_requested": str(app.principal),
        "annual_rate": str(app.annual_rate), "term_periods": term_periods, "expected_disbursement_date": disbursement_date,
        "first_due_date": first_due_date, "annualized_rate": str(schedule.annualized_rate), "submitted_by": actor.name,
        "created_at": actor.now, "updated_at": actor.now,
    })
    record_event(
        conn, actor, "loan.submitted", "loan", loan_id,
        after={"product": f"{product.code}@{product.version}", "principal": str(app.principal),
               "annual_rate": str(app.annual_rate), "term_periods": term_periods, "annualized_rate": str(schedule.annualized_rate)},
    )
    return loan_id


def decide_application(conn: Connection, actor: Actor, loan_id: uuid.UUID, decision: LoanStatus, reason: str | None = None) -> LoanStatus:
    """APPROVED, REJECTED or WITHDRAWN. Nobody approves an application they submitted."""
    loan = load_loan(conn, actor.tenant_id, loan_id)
    check_transition(loan.status, decision)
    if decision is LoanStatus.APPROVED and loan.submitted_by == actor.name:
        raise MakerChecker("the person who submitted an application cannot approve it")
    update_loan(conn, loan, {
        "status": decision.value, "decided_by": actor.name, "decision_reason": reason, "updated_at": actor.now,
    })
    record_event(conn, actor, f"loan.{decision.value.lower()}", "loan", loan_id,
                 before={"status": loan.status.value}, after={"status": decision.value}, reason=reason)
    return decision
