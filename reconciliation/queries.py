"""Reads: statements, their lines page by page, the proposals."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from reconciliation.store.tables import matched_lines, matches, statement_lines, statements

page_size_max = 500
line_statuses = ("UNMATCHED", "PROPOSED", "MATCHED")


def statements_page(conn: Connection, tenant_id: int, bank_account_code: str | None, limit: int) -> list[sa.Row]:
    query = sa.select(statements).where(statements.c.tenant_id == tenant_id)
    if bank_account_code is not None:
        query = query.where(statements.c.bank_account_code == bank_account_code)
    return conn.execute(query.order_by(statements.c.imported_at.desc(), statements.c.id.desc()).limit(min(limit, page_size_max))).all()


def statement_by_id(conn: Connection, tenant_id: int, statement_id: uuid.UUID) -> sa.Row | None:
    return conn.execute(sa.select(statements).where(statements.c.tenant_id == tenant_id, statements.c.id == statement_id)).first()


def lines_page(
    conn: Connection, tenant_id: int, bank_account_code: str, *, status: str | None = None, date_from: dt.date | None = None,
    date_to: dt.date | None = None, after: tuple[dt.date, uuid.UUID] | None = None, limit: int = 50,
    statement_id: uuid.UUID | None = None,
) -> list[sa.Row]:
    """Lines in booking-date order, keyset-paginated by (booking_date, id), with their match's rule if matched."""
    query = (
        sa.select(statement_lines, matches.c.rule.label("match_rule"), matches.c.id.label("match_id"))
        .outerjoin(matched_lines, sa.and_(matched_lines.c.tenant_id == statement_lines.c.tenant_id,
                                          matched_lines.c.line_id == statement_lines.c.id))
        .outerjoin(matches, sa.and_(matches.c.tenant_id == matched_lines.c.tenant_id, matches.c.id == matched_lines.c.match_id))
        .where(statement_lines.c.tenant_id == tenant_id, statement_lines.c.bank_account_code == bank_account_code)
    )
    if statement_id is not None:
        query = query.where(statement_lines.c.statement_id == statement_id)
    if status is not None:
        query = query.where(statement_lines.c.status == status)
    if date_from is not None:
        query = query.where(statement_lines.c.booking_date >= date_from)
    if date_to is not None:
        query = query.where(statement_lines.c.booking_date <= date_to)
    if after is not None:
        query = query.where(sa.tuple_(statement_lines.c.booking_date, statement_lines.c.id) > sa.tuple_(*after))
    query = query.order_by(statement_lines.c.booking_date, statement_lines.c.id).limit(min(limit, page_size_max + 1))
    return conn.execute(query).all()


def proposal_of(row: sa.Row) -> dict | None:
    return None if row.proposal is None else json.loads(row.proposal)


def status_counts(conn: Connection, tenant_id: int, statement_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
    counts: dict[uuid.UUID, dict[str, int]] = {i: {} for i in statement_ids}
    rows = conn.execute(
        sa.select(statement_lines.c.statement_id, statement_lines.c.status, sa.func.count())
        .where(statement_lines.c.tenant_id == tenant_id, statement_lines.c.statement_id.in_(list(statement_ids)))
        .group_by(statement_lines.c.statement_id, statement_lines.c.status)
    ).all()
    for statement_id, status, count in rows:
        counts[statement_id][status] = count
    return counts


def lines_by_id(conn: Connection, tenant_id: int, bank_account_code: str, ids: set[uuid.UUID]) -> dict[uuid.UUID, sa.Row]:
    """The lines (with their match's rule) among `ids` on the bank account."""
    query = (
        sa.select(statement_lines, matches.c.rule.label("match_rule"), matches.c.id.label("match_id"))
        .outerjoin(matched_lines, sa.and_(matched_lines.c.tenant_id == statement_lines.c.tenant_id,
                                          matched_lines.c.line_id == statement_lines.c.id))
        .outerjoin(matches, sa.and_(matches.c.tenant_id == matched_lines.c.tenant_id, matches.c.id == matched_lines.c.match_id))
        .where(statement_lines.c.tenant_id == tenant_id, statement_lines.c.bank_account_code == bank_account_code,
               statement_lines.c.id.in_(list(ids)))
    )
    return {row.id: row for row in conn.execute(query)}
