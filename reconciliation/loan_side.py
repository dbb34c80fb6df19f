"""The loan side of a bank line: money in for a loan that the books do not have yet, and money for suspense.

A line naming a loan (its id in the end-to-end id, the bank's reference or the narrative), or paid
from a borrower's registered bank account for exactly the next installment of one of that borrower's
active loans (the `payer_account` rule), that the matching rules left unmatched is that loan's
repayment, booked by loans.money.record_repayment (the same path as the API's recordRepayment) with the idempotency key `bank-line:<line id>`: a re-run
replays the first booking instead of booking again. A line whose loan is unknown, closed or refuses
the payment is left for a person. Unidentified money goes to suspense by loans.suspense.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy.engine import Connection

from ledger import errors as ledger_errors
from ledger.actor import Actor
from ledger.money import from_minor
from ledger.queries import AccountPosting, account_postings, account_roles
from loans import money as loan_money
from loans import suspense
from loans.pii import FieldCipher
from loans.queries import PayerLoan, loans_by_bank_account, loans_by_id
from loans.receipts import receipts_by_id


_uuid = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def loan_ids_named(row) -> list[uuid.UUID]:
    """Loan ids a bank line names in its references or narrative."""
    text = " ".join(part for part in (row.end_to_end_id, row.bank_reference, row.remittance) if part)
    return [uuid.UUID(found) for found in dict.fromkeys(m.lower() for m in _uuid.findall(text))]


def line_key(line_id: uuid.UUID) -> str:
    return f"bank-line:{line_id}"


def payer_loans(conn: Connection, tenant_id: int, cipher: FieldCipher, rows: Sequence) -> dict[str, list[PayerLoan]]:
    """The loans of the borrowers registered with each line's payer account (absent: no borrower)."""
    accounts = sorted({row.counterparty_account for row in rows if row.counterparty_account})
    return loans_by_bank_account(conn, tenant_id, cipher, accounts) if accounts else {}


def loan_paid_by(row, known: Mapping[uuid.UUID, object], payers: Mapping[str, Sequence[PayerLoan]]) -> tuple[uuid.UUID, str] | None:
    """The loan a line of money in repays, and the rule that says so; None when nothing names exactly one.

    A loan id in the line's references or narrative names it ("loan_repayment"). Otherwise the payer's
    account names the borrower, and the amount must be the next installment of exactly one of that
    borrower's active loans in the line's currency ("payer_account"): an account alone does not say
    which loan, nor that the money is a repayment at all."""
    named = [i for i in loan_ids_named(row) if i in known]
    if named:
        return (named[0], "loan_repayment") if len(named) == 1 else None
    due = [loan.loan_id for loan in payers.get(row.counterparty_account or "", ())
           if loan.status == "ACTIVE" and loan.currency == row.currency and loan.next_installment_minor == row.amount_minor]
    return (due[0], "payer_account") if len(due) == 1 else None


def book_repayments(conn: Connection, actor: Actor, rows: Sequence, payers: Mapping[str, Sequence[PayerLoan]] | None = None
                    ) -> dict[uuid.UUID, tuple[AccountPosting, str]]:
    """Repayments for the lines that name a loan or pay a borrower's next installment from the borrower's
    registered account (`payers`, from payer_loans); returns each booked line's posting to the bank
    account and the rule that identified the loan."""
    if not rows or account_roles(conn, actor.tenant_id).get("bank") != rows[0].bank_account_code:
        return {}  # loans post to the chart's bank account: lines on another account cannot be their repayments
    payers = payers or {}
    known = loans_by_id(conn, actor.tenant_id, sorted({i for row in rows for i in loan_ids_named(row)}))
    made: dict[uuid.UUID, tuple[AccountPosting, str]] = {}
    for row in rows:
        paid = loan_paid_by(row, known, payers)
        if paid is None:
            continue
        loan_id, rule = paid
        savepoint = conn.begin_nested()
        try:
            result = loan_money.record_repayment(conn, actor, loan_id, from_minor(row.amount_minor, row.currency), row.currency,
                                                 row.booking_date, line_key(row.id))
        except ledger_errors.LedgerError:
            # A loan closed, a date past its open business date, a wrong currency: left for a person.
            savepoint.rollback()
            continue
        savepoint.commit()
        if result.journal_entry_id is not None:
            posting = _bank_posting(conn, actor, row, result.journal_entry_id)
            if posting is not None:
                made[row.id] = (posting, rule)
    return made


def receive_to_suspense(conn: Connection, actor: Actor, amount, currency: str, day: dt.date, reference: str, key: str) -> uuid.UUID:
    """Book money in to suspense (loans.suspense); returns the journal entry that booked it."""
    receipt_id = suspense.receive_unidentified(conn, actor, amount, currency, day, reference, key)
    return receipts_by_id(conn, actor.tenant_id, [receipt_id])[receipt_id].journal_entry_id


def _bank_posting(conn: Connection, actor: Actor, row, entry_id: uuid.UUID) -> AccountPosting | None:
    found = [p for p in account_postings(conn, actor.tenant_id, row.bank_account_code, row.currency,
                                         date_from=row.booking_date, date_to=row.booking_date + dt.timedelta(days=3660))
             if p.entry_id == entry_id and p.amount_minor == row.amount_minor]
    return found[0] if found else None
