"""The loan tape: one row per loan as of a date, from the last closed business date on or before it.

Close of business snapshots every loan's position (loan_snapshots), so the tape as of a date is
the snapshot of the last business date closed by then; with `known_on`, only runs finished by
that moment count, so the tape shows what was known then. Read-only; amounts in minor units.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loans.store.tables import cob_runs, loan_snapshots


@dataclass(frozen=True, slots=True)
class TapeRow:
    loan_id: uuid.UUID
    product_code: str
    status: str
    currency: str
    principal: int
    interest: int
    fee: int
    penalty: int
    provision: int
    dpd: int
    bucket: str
    loan_class: str
    non_accrual: bool


def tape_business_date(conn: Connection, tenant_id: int, as_of: dt.date, known_on: dt.datetime | None = None) -> dt.date | None:
    query = sa.select(sa.func.max(cob_runs.c.business_date)).where(
        cob_runs.c.tenant_id == tenant_id, cob_runs.c.business_date <= as_of, cob_runs.c.status == "DONE"
    )
    if known_on is not None:
        query = query.where(cob_runs.c.finished_at <= known_on)
    return conn.execute(query).scalar()


def loan_tape(conn: Connection, tenant_id: int, business_date: dt.date | None) -> Iterator[TapeRow]:
    """Every loan of the snapshot, ordered by loan id, streamed."""
    if business_date is None:
        return
    s = loan_snapshots
    query = (
        sa.select(s.c.loan_id, s.c.product_code, s.c.status, s.c.currency, s.c.principal, s.c.interest, s.c.fee,
                  s.c.penalty, s.c.allowance, s.c.dpd, s.c.bucket, s.c.loan_class, s.c.non_accrual)
        .where(s.c.tenant_id == tenant_id, s.c.business_date == business_date)
        .order_by(s.c.loan_id)
    )
    for r in conn.execution_options(yield_per=5000).execute(query):
        yield TapeRow(r.loan_id, r.product_code, r.status, r.currency, int(r.principal or 0), int(r.interest or 0),
                      int(r.fee or 0), int(r.penalty or 0), int(r.allowance or 0), r.dpd, r.bucket, r.loan_class,
                      bool(r.non_accrual))
