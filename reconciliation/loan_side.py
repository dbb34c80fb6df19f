"""The loan side of a bank line: money in for a loan that the books do not have yet, and money for suspense.

A line naming a loan (its id in the end-to-end id, the bank's reference or the narrative) that the
matching rules left unmatched is that loan's repayment, booked by loans.money.record_repayment (the
same path as the API's recordRepayment) with the idempotency key `bank-line:<line id>`: a re-run
replays the first booking instead of booking again. A line whose loan is unknown, closed or refuses
the payment is left for a person. Unidentified money goes to suspense by loans.suspense.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence

from sqlalchemy.engine import Connection

from ledger import errors as ledger_errors
from ledger.actor import Actor
from ledger.money import from_minor
from ledger.queries import AccountPosting, account_postings, account_roles
from loans import money as loan_money
from loans import suspense
from loans.queries import loans_by_id
from loans.receipts import receipts_by_id


_uuid = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def loan_ids_named(row) -> list[uuid.UUID]:
    """Loan ids a bank line names in its references or narrative."""
    text = " ".join(part for part in (row.end_to_end_id, row.bank_reference, row.remittance) if part)
    return [uuid.UUID(found) for found in dict.fromkeys(m.lower() for m in _uuid.findall(text))]


def line_key(line_id: uuid.UUID) -> str:
    return f"bank-line:{line_id}"


def book_repayments(conn: Connection, actor: Actor, rows: Sequence) -> dict[uuid.UUID, AccountPosting]:
    """Repayments for the lines that name a loan; returns each booked line's posting to the bank account."""
    if not rows or account_roles(conn, actor.tenant_id).get("bank") != rows[0].bank_account_code:
        return {}  # loans post to the chart's bank account: lines on another account cannot be their repayments
    named = {row.id: loan_ids_named(row) for row in rows}
    known = loans_by_id(conn, actor.tenant_id, sorted({i for ids in named.values() for i in ids}))
    made: dict[uuid.UUID, AccountPosting] = {}
    for row in rows:
        loans = [i for i in named[row.id] if i in known]
        if len(loans) != 1:
            continue
        savepoint = conn.begin_nested()
        try:
            result = loan_money.record_repayment(conn, actor, loans[0], from_minor(row.amount_minor, row.currency), row.currency,
                                                 row.booking_date, line_key(row.id))
        except ledger_errors.LedgerError:
            # A loan closed, a date past its open business date, a wrong currency: left for a person.
            savepoint.rollback()
            continue
        savepoint.commit()
        if result.journal_entry_id is not None:
            posting = _bank_posting(conn, actor, row, result.journal_entry_id)
            if posting is not None:
                made[row.id] = posting
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
