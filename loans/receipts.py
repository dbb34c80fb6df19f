"""Unidentified receipts (money in the bank that names no loan) as a work queue: reads only.

Writing lives in loans.suspense (receive_unidentified, apply_receipt). A receipt is UNAPPLIED while its
money sits in suspense and APPLIED while a repayment out of suspense stands; reversing that repayment
returns the money to suspense and the receipt to UNAPPLIED.
"""
from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loans.store.tables import loan_transactions, suspense_receipts

receipts_page_size_max = 100


class ReceiptStatus(enum.Enum):
    UNAPPLIED = "UNAPPLIED"
    APPLIED = "APPLIED"


@dataclass(frozen=True)
class Receipt:
    id: uuid.UUID
    received_on: dt.date
    currency: str
    amount_minor: int
    reference: str
    journal_entry_id: uuid.UUID
    recorded_at: dt.datetime
    recorded_by: str
    # The repayment out of suspense that applies it now (None while UNAPPLIED), and its loan.
    applied_transaction_id: uuid.UUID | None
    applied_loan_id: uuid.UUID | None

    @property
    def status(self) -> ReceiptStatus:
        return ReceiptStatus.UNAPPLIED if self.applied_transaction_id is None else ReceiptStatus.APPLIED


def standing_applications(conn: Connection, tenant_id: int, receipt_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID]]:
    """For each receipt applied now: (the repayment applying it, its loan). Reversed applications do not count."""
    if not receipt_ids:
        return {}
    t = loan_transactions
    applications = [
        (row.receipt_id, uuid.UUID(json.loads(row.details)["transaction"]), row.loan_id)
        for row in conn.execute(
            sa.select(t.c.receipt_id, t.c.details, t.c.loan_id).where(
                t.c.tenant_id == tenant_id, t.c.receipt_id.in_(list(receipt_ids)), t.c.type == "RECEIPT_APPLIED"
            )
        )
    ]
    if not applications:
        return {}
    reversed_ids = set(
        conn.execute(
            sa.select(t.c.reverses_transaction_id).where(
                t.c.tenant_id == tenant_id, t.c.reverses_transaction_id.in_([a for _, a, _ in applications])
            )
        ).scalars()
    )
    return {receipt: (applied, loan) for receipt, applied, loan in applications if applied not in reversed_ids}


def receipts_by_id(conn: Connection, tenant_id: int, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Receipt]:
    rows = conn.execute(
        sa.select(suspense_receipts).where(suspense_receipts.c.tenant_id == tenant_id, suspense_receipts.c.id.in_(list(ids)))
    ).all()
    return {receipt.id: receipt for receipt in _receipts(conn, tenant_id, rows)}


def list_receipts(
    conn: Connection, tenant_id: int, *, status: ReceiptStatus | None = None,
    after: tuple[dt.datetime, uuid.UUID] | None = None, limit: int = 50,
) -> list[Receipt]:
    """Receipts newest recorded first (keyset pages on (recorded_at, id)), optionally of one status.

    The status is derived, so a filtered page reads ahead in chunks until it has `limit` receipts.
    """
    t = suspense_receipts
    limit = max(1, min(limit, receipts_page_size_max + 1))
    found: list[Receipt] = []
    while len(found) < limit:
        query = sa.select(t).where(t.c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(sa.tuple_(t.c.recorded_at, t.c.id) < sa.tuple_(*after))
        rows = conn.execute(query.order_by(t.c.recorded_at.desc(), t.c.id.desc()).limit(limit)).all()
        found += [r for r in _receipts(conn, tenant_id, rows) if status is None or r.status is status]
        if len(rows) < limit:
            break
        after = (rows[-1].recorded_at, rows[-1].id)
    return found[:limit]


def _receipts(conn: Connection, tenant_id: int, rows: Sequence[sa.Row]) -> list[Receipt]:
    standing = standing_applications(conn, tenant_id, [row.id for row in rows])
    return [
        Receipt(
            row.id, row.received_on, row.currency, row.amount, row.reference, row.journal_entry_id, row.recorded_at, row.actor,
            *standing.get(row.id, (None, None)),
        )
        for row in rows
    ]
