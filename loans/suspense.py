"""Unidentified receipts: money in the bank that names no loan, held in suspense until applied to one.

Reads (the work queue, a receipt's status) are loans.receipts.
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.engine import Connection

from ledger import errors as ledger_errors
from ledger import service as ledger
from ledger.actor import Actor
from ledger.ids import uuid7
from ledger.idempotency import run_once
from ledger.model import EntryDraft, credit, debit
from ledger.money import from_minor, to_minor
from ledger.ownership import workflow_key
from ledger.queries import account_roles
from ledger.unit_of_work import record_event
from loans import servicing
from loans.errors import AmountNotPositive, InvalidReceipt, ReceiptAlreadyApplied, UnknownReceipt
from loans.model import GlRole, TransactionKind
from loans.money import apply_amount
from loans.receipts import standing_applications
from loans.recording import MoneyResult, loan_amount, loans_workflow, once
from loans.store.receipts import insert_receipt, lock_receipt
from loans.store.repository import load_loan
from loans.store.transactions import insert_receipt_marker, receipt_applied_by

reference_length_max = 200
receipt_operation = "UNIDENTIFIED_RECEIPT"


def receive_unidentified(
    conn: Connection, actor: Actor, amount: object, currency: str, day: dt.date, reference: str,
    idempotency_key: str | None = None,
) -> uuid.UUID:
    """Money in the bank that names no loan: Dr bank, Cr suspense, until someone applies it."""
    minor = to_minor(amount, currency)
    if minor <= 0:
        raise AmountNotPositive("a receipt must be a positive amount", field="amount")
    if not reference or len(reference) > reference_length_max:
        raise InvalidReceipt("reference must be 1 to 200 characters (the bank's narrative or payer)", field="reference")

    def command(conn: Connection) -> dict[str, object]:
        roles = account_roles(conn, actor.tenant_id)
        draft = EntryDraft(
            day, (debit(roles[GlRole.BANK.value], amount, currency), credit(roles[GlRole.SUSPENSE.value], amount, currency)),
            f"unidentified receipt: {reference}"[:500], {"type": receipt_operation, workflow_key: loans_workflow},
        )
        entry = ledger.post_entry(conn, actor, draft)
        receipt_id = uuid7()
        insert_receipt(conn, actor, receipt_id, {
            "received_on": day, "currency": currency, "amount": minor, "reference": reference,
            "journal_entry_id": entry.id, "idempotency_key": idempotency_key,
        })
        record_event(conn, actor, "suspense.received", "suspense_receipt", receipt_id,
                     after={"amount": minor, "currency": currency, "reference": reference})
        return {"receipt_id": str(receipt_id)}

    # The request as keys recorded on suspense_receipts were carried into ledger.idempotency.
    request = {"amount": minor, "currency": currency, "date": day.isoformat(), "reference": reference}
    outcome = run_once(conn, actor, idempotency_key or None, request, command, operation=receipt_operation)
    return uuid.UUID(str(outcome.result["receipt_id"]))


def apply_receipt(
    conn: Connection, actor: Actor, receipt_id: uuid.UUID, loan_id: uuid.UUID, day: dt.date, idempotency_key: str | None = None,
) -> MoneyResult:
    """Apply an unidentified receipt to a loan as a repayment out of suspense (Dr suspense, Cr receivables).

    A receipt stands applied once at a time: reversing that repayment puts the money back in suspense
    (Dr receivables, Cr suspense) and the receipt can then be applied again, to this loan or another.
    """
    receipt = lock_receipt(conn, actor.tenant_id, receipt_id)
    if receipt is None:
        raise UnknownReceipt(f"no unidentified receipt {receipt_id}", receipt_id=str(receipt_id))
    applied_on = max(day, receipt.received_on)
    kind = TransactionKind.SUSPENSE_REPAYMENT
    request = {"type": kind.value, "loan": str(loan_id), "amount": receipt.amount, "currency": receipt.currency,
               "date": applied_on.isoformat()}

    def command() -> MoneyResult:
        # Only a first run asks whether the receipt stands applied: a replay returns that application.
        standing = standing_applications(conn, actor.tenant_id, [receipt_id]).get(receipt_id)
        if standing is not None:
            raise ReceiptAlreadyApplied(
                f"receipt {receipt_id} is already applied (transaction {standing[0]}); reverse that repayment to apply it again",
                receipt_id=str(receipt_id),
            )
        loan = load_loan(conn, actor.tenant_id, loan_id)
        minor = loan_amount(loan, from_minor(receipt.amount, receipt.currency), receipt.currency)
        result = apply_amount(
            conn, actor, loan, kind, minor, applied_on,
            lambda state, product, minor: servicing.apply_payment(state, product, minor, applied_on, source="suspense"),
            idempotency_key, request,
        )
        insert_receipt_marker(conn, {
            "tenant_id": actor.tenant_id, "id": uuid7(), "loan_id": loan_id, "effective_date": day,
            "currency": receipt.currency, "actor": actor.name, "recorded_at": actor.now,
        }, receipt_id, result.transaction_id)
        return result

    result = once(conn, actor, idempotency_key, kind, request, command)
    # The key's request covers loan, amount and date, not the receipt: check the receipt too.
    if result.replayed and receipt_applied_by(conn, actor.tenant_id, result.transaction_id) != receipt_id:
        raise ledger_errors.IdempotencyConflict(f"idempotency key {idempotency_key!r} was already used for a different request")
    return result
