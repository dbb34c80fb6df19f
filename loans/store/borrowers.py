"""Borrowers' rows. Sensitive fields are stored only as ciphertext (and a blind index for lookups)."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.actor import Actor
from loans.store.tables import borrowers


class SealedFields(NamedTuple):
    """A borrower's sensitive fields as stored: AES-GCM ciphertext, or None where not given."""

    national_id_enc: str | None
    phone_enc: str | None
    bank_account_enc: str | None


def insert_borrower(conn: Connection, actor: Actor, borrower_id: uuid.UUID, values: Mapping[str, object]) -> None:
    conn.execute(sa.insert(borrowers).values(
        tenant_id=actor.tenant_id, id=borrower_id, **values, created_at=actor.now, created_by=actor.name,
    ))


def borrower_exists(conn: Connection, tenant_id: int, borrower_id: uuid.UUID) -> bool:
    return conn.execute(
        sa.select(borrowers.c.id).where(borrowers.c.tenant_id == tenant_id, borrowers.c.id == borrower_id)
    ).first() is not None


def load_sealed_fields(conn: Connection, tenant_id: int, borrower_id: uuid.UUID) -> SealedFields | None:
    row = conn.execute(
        sa.select(borrowers.c.national_id_enc, borrowers.c.phone_enc, borrowers.c.bank_account_enc).where(
            borrowers.c.tenant_id == tenant_id, borrowers.c.id == borrower_id
        )
    ).first()
    return None if row is None else SealedFields(*row)
