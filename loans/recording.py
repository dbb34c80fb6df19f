"""The common road of a loan's money commands: once per idempotency key, then `book` writes what they decided.

A command loads its loan (locked), lets the servicing model decide the new state and the GL movements,
and hands all of it to `book` as one frozen Booking. `book` writes the loan's state, posts the journal
entry through ledger.service, records the transaction and its audit event, in the caller's transaction.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import service as ledger
from ledger.actor import Actor
from ledger.ids import uuid7
from ledger.idempotency import request_hash, run_once
from ledger.model import canonical_json
from ledger.money import parse_decimal, to_minor
from ledger.ownership import workflow_key
from ledger.unit_of_work import record_events
from loans.booking import Application, terms_for, terms_from_json
from loans.errors import AmountNotPositive, DateAfterBusinessDate, DateBeforeDisbursement, IllegalTransition, WrongCurrency
from loans.model import Loan, LoanTransaction, TransactionKind
from loans.posting import entry_for, net_by_account
from loans.products import Product
from loans.servicing import Allocation, Movement
from loans.state import LoanState, LoanStatus
from loans.store.repository import load_loan, save_loan_state
from loans.store.tables import cob_runs
from loans.store.transactions import insert_transaction, load_transaction
from schedules import ScheduleTerms

loans_workflow = "loans"  # the marker in the metadata of every entry loan servicing posts


@dataclass(frozen=True, slots=True)
class MoneyResult:
    loan_id: uuid.UUID
    transaction_id: uuid.UUID
    journal_entry_id: uuid.UUID | None
    allocation: Allocation
    status: LoanStatus
    # The loan after the command and the transaction it recorded, as stored: a caller that shows
    # them (the API's payloads) has them without reading them again.
    loan: Loan
    transaction: LoanTransaction
    replayed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Booking:
    """What a money command decided, for `book` to write.

    `loan` is the loan as this transaction read it, locked; `state` is its state after the command.
    """

    loan: Loan
    product: Product
    kind: TransactionKind
    day: dt.date
    amount: int  # minor units: what the transaction shows as its amount
    allocation: Allocation
    moves: list[Movement]
    state: LoanState
    status_before: LoanStatus
    idempotency_key: str | None = None
    request: Mapping[str, object] = field(default_factory=dict)  # the keyed request, fingerprinted beside the key
    details: Mapping[str, object] | None = None
    backdated: bool = False
    reverses: uuid.UUID | None = None


def book(conn: Connection, actor: Actor, booking: Booking) -> MoneyResult:
    """Write the loan's new state, its journal entry, the transaction and the audit event."""
    b = booking
    loan_id, kind = b.loan.id, b.kind.value
    # Marked as the loans workflow's: reverseRepayment corrects it, a journal reversal is refused (ledger.ownership).
    metadata: dict[str, object] = {"loan_id": str(loan_id), "type": kind, workflow_key: loans_workflow}
    if b.backdated:
        metadata["backdated"] = True
    if b.reverses:
        metadata["reverses_transaction"] = str(b.reverses)
    draft = entry_for(
        net_by_account(b.moves, b.product.gl_accounts), b.product.currency, b.day,
        f"{kind.replace('_', ' ').lower()} loan {loan_id}" + (" (replayed)" if b.backdated or b.reverses else ""), metadata,
    )
    closed = b.state.status in (LoanStatus.PAID_OFF, LoanStatus.WRITTEN_OFF)
    loan = save_loan_state(conn, actor, b.loan, b.state, closed_on=(b.loan.closed_on or b.day) if closed else None)
    transaction_id = uuid7()
    state = b.state
    event = {
        "action": f"loan.{kind.lower()}", "entity_type": "loan", "entity_id": loan_id, "before": {"status": b.status_before.value},
        "after": {"status": state.status.value, "transaction": str(transaction_id), "amount": b.amount,
                  "principal": state.principal, "interest": state.interest, "fee": state.fee, "penalty": state.penalty},
    }
    # With an entry the event travels in the ledger's posting statement (and is sealed with it).
    entry = ledger.post_entry(conn, actor, draft, events=[event]) if draft else None
    if entry is None:
        record_events(conn, actor, [event])
    a = b.allocation
    transaction = insert_transaction(conn, {
        "tenant_id": actor.tenant_id, "id": transaction_id, "loan_id": loan_id, "sequence": loan.transactions_recorded,
        "type": kind, "effective_date": b.day, "currency": b.product.currency, "amount": b.amount, "principal": a.principal,
        "interest": a.interest, "fee": a.fee, "penalty": a.penalty, "overpayment": a.overpayment,
        "journal_entry_id": entry.id if entry else None, "idempotency_key": b.idempotency_key,
        "details": canonical_json(dict(b.details)) if b.details else None, "reverses_transaction_id": b.reverses,
        # The key's own record is ledger.idempotency's; the transaction keeps its key and fingerprint as history.
        "request_hash": request_hash(b.request) if b.idempotency_key else None,
        "actor": actor.name, "recorded_at": actor.now,
    })
    return MoneyResult(loan_id, transaction_id, entry.id if entry else None, a, state.status, loan, transaction)


def once(
    conn: Connection, actor: Actor, key: str | None, kind: TransactionKind, request: Mapping[str, object],
    command: Callable[[], MoneyResult],
) -> MoneyResult:
    """`command()` once per idempotency key; a repeat of the same request returns the first transaction.

    The operation is the transaction kind and the result names the transaction: the conventions
    keys recorded on loan_transactions were carried into ledger.idempotency with, so they replay.
    """
    ran: list[MoneyResult] = []

    def run(_: Connection) -> dict[str, object]:
        ran.append(command())
        return {"loan_transaction_id": str(ran[0].transaction_id)}

    # An empty key has always meant no key: the command runs and nothing is looked up.
    outcome = run_once(conn, actor, key or None, request, run, operation=kind.value)
    if not outcome.replayed:
        return ran[0]
    return replayed_result(conn, actor, uuid.UUID(str(outcome.result["loan_transaction_id"])))


def replayed_result(conn: Connection, actor: Actor, transaction_id: uuid.UUID) -> MoneyResult:
    """What the first run returned, rebuilt from its transaction and the loan as it is now."""
    transaction = load_transaction(conn, actor.tenant_id, transaction_id)
    assert transaction is not None, f"an idempotency key names transaction {transaction_id}, which does not exist"
    loan = load_loan(conn, actor.tenant_id, transaction.loan_id, lock=False)
    t = transaction
    allocation = Allocation(t.penalty, t.fee, t.interest, t.principal, t.overpayment)
    return MoneyResult(t.loan_id, t.id, t.journal_entry_id, allocation, loan.status, loan, transaction, replayed=True)


def loan_amount(loan: Loan, amount: object, currency: str | None) -> int:
    """A positive amount in the loan's own currency, in minor units (floats and over-precision refused)."""
    if currency != loan.currency:
        raise WrongCurrency(f"the loan is in {loan.currency}, not {currency}", field="currency")
    minor = to_minor(amount, loan.currency)
    if minor <= 0:
        raise AmountNotPositive("the amount must be positive", field="amount")
    return minor


def check_date(loan: Loan, day: dt.date) -> bool:
    """True when `day` is backdated (on or before the loan's last closed business date)."""
    if loan.disbursed_on is None:
        raise IllegalTransition(f"the loan is {loan.status.value} and has not been disbursed", status=loan.status.value)
    if day < loan.disbursed_on:
        raise DateBeforeDisbursement(f"{day} is before the disbursement date {loan.disbursed_on}", field="date")
    if loan.status is not LoanStatus.ACTIVE:
        return False  # a closed loan no longer has business dates; recoveries may come any day
    business_date = loan.last_cob_date + dt.timedelta(days=1)
    if day > business_date:
        # Running ahead of close of business would apply the transaction before days it follows.
        raise DateAfterBusinessDate(
            f"{day} is after the loan's open business date {business_date}; run close of business first", field="date"
        )
    # The disbursement date counts as closed: a transaction dated then, recorded after one dated the
    # open business date, is replayed in date order like any other backdated one.
    return day <= loan.last_cob_date


def last_closed_date(conn: Connection, tenant_id: int) -> dt.date | None:
    """The last business date close of business finished for the tenant, if any."""
    return conn.execute(
        sa.select(sa.func.max(cob_runs.c.business_date)).where(cob_runs.c.tenant_id == tenant_id, cob_runs.c.status == "DONE")
    ).scalar()


def check_disbursement_date(conn: Connection, tenant_id: int, day: dt.date) -> None:
    """A disbursement, which has no loan business date yet, obeys the tenant's: not after its open business date.

    The open business date is the day after the last date close of business finished for the tenant;
    a tenant that never ran it has none yet, and any date is accepted.
    """
    last_closed = last_closed_date(conn, tenant_id)
    if last_closed is not None and day > last_closed + dt.timedelta(days=1):
        business_date = last_closed + dt.timedelta(days=1)
        raise DateAfterBusinessDate(
            f"{day} is after the open business date {business_date}; run close of business first", field="date"
        )


def booked_application(loan: Loan) -> Application:
    """The application as it was disbursed (its first due date only if after the disbursement)."""
    first_due = loan.first_due_date if loan.first_due_date and loan.first_due_date > loan.disbursed_on else None
    return Application(
        parse_decimal(loan.principal_requested), parse_decimal(loan.annual_rate), loan.term_periods, loan.disbursed_on, first_due
    )


def current_terms(loan: Loan, product: Product) -> ScheduleTerms:
    """The terms of the schedule in force: stored since the last re-schedule, else those booked."""
    if loan.schedule_terms:
        return terms_from_json(json.loads(loan.schedule_terms))
    return terms_for(product, booked_application(loan))
