"""Unidentified receipts' rows (money held in suspense) as the commands that write them need them."""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.actor import Actor
from loans.store.tables import suspense_receipts


class HeldReceipt(NamedTuple):
    id: uuid.UUID
    received_on: dt.date
    currency: str
    amount: int  # minor units


def insert_receipt(conn: Connection, actor: Actor, receipt_id: uuid.UUID, values: Mapping[str, object]) -> None:
    conn.execute(sa.insert(suspense_receipts).values(
        tenant_id=actor.tenant_id, id=receipt_id, **values, recorded_at=actor.now, actor=actor.name,
    ))


def lock_receipt(conn: Connection, tenant_id: int, receipt_id: uuid.UUID) -> HeldReceipt | None:
    """The receipt, its row locked: concurrent applications of one receipt queue here (SQLite
    serialises writers anyway)."""
    t = suspense_receipts
    row = conn.execute(
        sa.select(t.c.id, t.c.received_on, t.c.currency, t.c.amount)
        .where(t.c.tenant_id == tenant_id, t.c.id == receipt_id)
        .with_for_update()
    ).first()
    return None if row is None else HeldReceipt(*row)
