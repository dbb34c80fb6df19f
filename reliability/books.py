"""The suite's loan book, and what must hold of it afterwards.

`seed_books` builds, through the same services the API calls, one tenant with a cash-loan product,
a borrower, `loans` disbursed loans of 10,000.00 and a finance token for the clients. `check_books`
reads the database directly once the load is over: every acknowledged repayment stored exactly
once (the transaction the client was told about, under its idempotency key), nothing stored that no
client sent, each repayment's amount on the loan, every loan transaction with its journal entry,
and a balanced trial balance.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa

from identity import service as identity_service
from identity.model import Role
from ledger import queries
from ledger import service as ledger_service
from ledger.actor import Actor
from ledger.money import to_minor
from ledger.store.tables import journal_entries
from ledger.unit_of_work import run_in_transaction
from loans import applications, borrowers, catalogue, money
from loans.pii import FieldCipher
from loans.state import LoanStatus
from loans.store.tables import loan_transactions

tenant_slug = "reliability"
currency = "CNY"
principal = "10000.00"
repayment_amount = "1.00"  # small, so thousands of repayments never pay a loan off
disbursed_on = dt.date(2026, 3, 2)
product = {
    "code": "CASH12", "name": "Cash loan 12 months", "currency": currency, "origination_fee_rate": "0.02",
    "penalty_daily_rate": "0.0005", "late_fee": "50", "late_fee_grace_days": 3,
}


@dataclass(frozen=True)
class Books:
    tenant_id: int
    loan_ids: tuple[uuid.UUID, ...]
    token: str  # a finance token: records repayments and runs close of business


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def seed_books(engine: sa.Engine, cipher: FieldCipher, loans: int) -> Books:
    tenant_id = run_in_transaction(engine, lambda c: ledger_service.create_tenant(
        c, tenant_slug, "Reliability Lending Co.", actor_name="reliability", now=utc_now()))
    officer, approver = Actor(tenant_id, "officer", utc_now()), Actor(tenant_id, "approver", utc_now())
    run_in_transaction(engine, lambda c: catalogue.create_product(c, officer, product))
    borrower = run_in_transaction(engine, lambda c: borrowers.create_borrower(c, officer, cipher, name="张三"))
    loan_ids = []
    for _ in range(loans):
        def book(c: sa.Connection) -> uuid.UUID:
            loan_id = applications.submit_application(
                c, officer, borrower_id=borrower, product_code=product["code"], principal=principal, annual_rate="0.12",
                term_periods=12, disbursement_date=disbursed_on)
            applications.decide_application(c, approver, loan_id, LoanStatus.APPROVED)
            money.disburse_loan(c, officer, loan_id, disbursed_on)
            return loan_id

        loan_ids.append(run_in_transaction(engine, book))
    issued = run_in_transaction(engine, lambda c: identity_service.create_token(
        c, tenant_id, Role.FINANCE, name="reliability-finance", actor_name="reliability", now=utc_now()))
    return Books(tenant_id, tuple(loan_ids), issued.secret)


@dataclass
class Outcome:
    """What the clients saw of one idempotency key."""

    loan_id: uuid.UUID
    transaction_ids: set[uuid.UUID] = field(default_factory=set)  # from every acknowledgement of the key
    acknowledged: int = 0  # answers with the payload (the first, and replays)
    replays: int = 0


@dataclass
class BookCheck:
    attempted: int = 0
    acknowledged: int = 0
    found: int = 0
    duplicated: int = 0
    lost: int = 0
    stored_unacknowledged: int = 0  # sent, never acknowledged (retries ran out), yet stored: allowed, and counted
    unexpected: int = 0  # repayments stored under a key no client sent
    problems: list[str] = field(default_factory=list)
    status: dict[str, str] = field(default_factory=dict)  # by key: found, lost, duplicated, unacknowledged


def check_books(engine: sa.Engine, books: Books, outcomes: dict[str, Outcome]) -> BookCheck:
    check = BookCheck(attempted=len(outcomes))
    t = loan_transactions
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.id, t.c.loan_id, t.c.idempotency_key, t.c.amount, t.c.journal_entry_id)
                            .where(t.c.tenant_id == books.tenant_id, t.c.type == "REPAYMENT")).all()
        by_key = Counter(row.idempotency_key for row in rows)
        stored = {row.idempotency_key: row for row in rows}
        for key, outcome in outcomes.items():
            row = stored.get(key)
            if not outcome.acknowledged:
                check.stored_unacknowledged += row is not None
                check.status[key] = "unacknowledged"
                continue
            check.acknowledged += 1
            if row is None:
                check.lost += 1
                check.status[key] = "lost"
                check.problems.append(f"acknowledged repayment {key} is not stored")
            elif by_key[key] > 1 or outcome.transaction_ids != {row.id}:
                check.duplicated += 1
                check.status[key] = "duplicated"
                check.problems.append(f"repayment {key} is stored {by_key[key]} time(s); acknowledged as {sorted(outcome.transaction_ids)}")
            else:
                check.found += 1
                check.status[key] = "found"
            if row is not None and (row.loan_id != outcome.loan_id or row.amount != to_minor(repayment_amount, currency)):
                check.problems.append(f"repayment {key} is stored on loan {row.loan_id} for {row.amount}, not as sent")
        for row in rows:
            if row.idempotency_key not in outcomes:
                check.unexpected += 1
                check.problems.append(f"repayment {row.id} under key {row.idempotency_key!r} was sent by no client")
        check.problems += _transactions_without_entries(conn, books.tenant_id)
        if not queries.trial_balance(conn, books.tenant_id).balanced:
            check.problems.append("the trial balance does not balance")
    return check


def _transactions_without_entries(conn: sa.Connection, tenant_id: int) -> list[str]:
    """Loan transactions that moved money and have no journal entry, or name one that does not exist."""
    t, e = loan_transactions, journal_entries
    missing = conn.execute(
        sa.select(t.c.id, t.c.type, t.c.journal_entry_id)
        .select_from(t.outerjoin(e, sa.and_(e.c.tenant_id == t.c.tenant_id, e.c.id == t.c.journal_entry_id)))
        .where(t.c.tenant_id == tenant_id, e.c.id.is_(None),
               sa.or_(t.c.journal_entry_id.is_not(None), t.c.type.in_(("REPAYMENT", "DISBURSEMENT"))))
    ).all()
    return [f"loan transaction {row.id} ({row.type}) has no journal entry {row.journal_entry_id or ''}".rstrip() for row in missing]
