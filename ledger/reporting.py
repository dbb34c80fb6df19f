"""Reads for financial reports: balances as of a date, as known at a moment, and an account's postings.

`known_on` leaves out every entry recorded after it, so a report shows what the books said
then. Without it, a balance as of a date sums the day/month/year period rows (ledger.queries
as_of_movements: at most years + 11 + 31 rows per account, however many postings). With it, the
period rows cannot tell when an entry was recorded, so the postings themselves are summed,
joined to their entries' recorded_at: exact, and proportional to the postings read.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.queries import as_of_parameters, balances_as_of_statement
from ledger.store.tables import journal_entries, postings

Key = tuple[str, str]  # (account code, currency)


def net_balances(
    conn: Connection, tenant_id: int, as_of: dt.date, known_on: dt.datetime | None = None
) -> dict[Key, int]:
    """Debits minus credits per (account, currency), postings effective on or before `as_of`."""
    if known_on is None:
        rows = conn.execute(balances_as_of_statement(by_codes=False), as_of_parameters(tenant_id, as_of))
        return {(r[0], r[1]): int(r[2]) - int(r[3]) for r in rows if int(r[2]) != int(r[3])}
    p, e = postings, journal_entries
    query = (
        sa.select(p.c.account_code, p.c.currency, sa.func.sum(p.c.amount_minor))
        .select_from(p.join(e, sa.and_(e.c.tenant_id == p.c.tenant_id, e.c.id == p.c.entry_id)))
        .where(p.c.tenant_id == tenant_id, p.c.effective_date <= as_of, e.c.recorded_at <= known_on)
        .group_by(p.c.account_code, p.c.currency)
    )
    return {(r[0], r[1]): int(r[2]) for r in conn.execute(query) if int(r[2])}


def entries_net(
    conn: Connection, tenant_id: int, entry_ids: Sequence[uuid.UUID], date_from: dt.date, date_to: dt.date,
    known_on: dt.datetime | None = None,
) -> dict[Key, int]:
    """Net per (account, currency) of these entries' postings effective in [date_from, date_to]."""
    if not entry_ids:
        return {}
    p, e = postings, journal_entries
    query = (
        sa.select(p.c.account_code, p.c.currency, sa.func.sum(p.c.amount_minor))
        .select_from(p.join(e, sa.and_(e.c.tenant_id == p.c.tenant_id, e.c.id == p.c.entry_id)))
        .where(p.c.tenant_id == tenant_id, p.c.entry_id.in_(list(entry_ids)),
               p.c.effective_date >= date_from, p.c.effective_date <= date_to)
        .group_by(p.c.account_code, p.c.currency)
    )
    if known_on is not None:
        query = query.where(e.c.recorded_at <= known_on)
    return {(r[0], r[1]): int(r[2]) for r in conn.execute(query)}


@dataclass(frozen=True, slots=True)
class LedgerLine:
    effective_date: dt.date
    entry_id: uuid.UUID
    line_no: int
    amount_minor: int  # debit > 0
    description: str
    recorded_at: dt.datetime
    reverses_entry_id: uuid.UUID | None


def account_lines(
    conn: Connection, tenant_id: int, code: str, currency: str, date_from: dt.date, date_to: dt.date, *,
    known_on: dt.datetime | None = None, after: tuple[dt.date, uuid.UUID, int] | None = None, limit: int = 100,
) -> list[LedgerLine]:
    """The account's postings in [date_from, date_to], in (date, entry, line) order, keyset-paged
    after `after`; one index range (ix_postings_account_date) then a primary-key probe per line."""
    p, e = postings, journal_entries
    query = (
        sa.select(p.c.effective_date, p.c.entry_id, p.c.line_no, p.c.amount_minor, e.c.description, e.c.recorded_at,
                  e.c.reverses_entry_id)
        .select_from(p.join(e, sa.and_(e.c.tenant_id == p.c.tenant_id, e.c.id == p.c.entry_id)))
        .where(p.c.tenant_id == tenant_id, p.c.account_code == code, p.c.currency == currency,
               p.c.effective_date >= date_from, p.c.effective_date <= date_to)
        .order_by(p.c.effective_date, p.c.entry_id, p.c.line_no)
        .limit(limit)
    )
    if known_on is not None:
        query = query.where(e.c.recorded_at <= known_on)
    if after is not None:
        query = query.where(sa.tuple_(p.c.effective_date, p.c.entry_id, p.c.line_no) > sa.tuple_(*after))
    return [LedgerLine(*row) for row in conn.execute(query)]


def balance_before(
    conn: Connection, tenant_id: int, code: str, currency: str, day: dt.date, known_on: dt.datetime | None = None
) -> int:
    """The account's net balance at the end of the day before `day`."""
    before = day - dt.timedelta(days=1)
    if known_on is None:
        from ledger.queries import balance_as_of

        return balance_as_of(conn, tenant_id, code, currency, before).net_minor
    p, e = postings, journal_entries
    total = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(p.c.amount_minor), 0))
        .select_from(p.join(e, sa.and_(e.c.tenant_id == p.c.tenant_id, e.c.id == p.c.entry_id)))
        .where(p.c.tenant_id == tenant_id, p.c.account_code == code, p.c.currency == currency,
               p.c.effective_date <= before, e.c.recorded_at <= known_on)
    ).scalar()
    return int(total)


def stream_postings(
    conn: Connection, tenant_id: int, date_from: dt.date | None = None, date_to: dt.date | None = None,
) -> Iterator[sa.Row]:
    """Every posting with its entry, in (date, recorded, entry, line) order, read in chunks (exports)."""
    p, e = postings, journal_entries
    query = (
        sa.select(e.c.id, e.c.effective_date, e.c.recorded_at, e.c.description, e.c.metadata, e.c.actor,
                  e.c.reverses_entry_id, p.c.line_no, p.c.account_code, p.c.currency, p.c.amount_minor)
        .select_from(e.join(p, sa.and_(p.c.tenant_id == e.c.tenant_id, p.c.entry_id == e.c.id)))
        .where(e.c.tenant_id == tenant_id)
        .order_by(e.c.effective_date, e.c.recorded_at, e.c.id, p.c.line_no)
    )
    if date_from is not None:
        query = query.where(e.c.effective_date >= date_from)
    if date_to is not None:
        query = query.where(e.c.effective_date <= date_to)
    yield from conn.execution_options(yield_per=5000, stream_results=True).execute(query)


def first_and_last_dates(conn: Connection, tenant_id: int) -> tuple[dt.date | None, dt.date | None, list[str]]:
    """The earliest and latest effective dates of the tenant's postings, and its currencies."""
    from ledger.store.tables import account_balances

    e = journal_entries
    first, last = conn.execute(
        sa.select(sa.func.min(e.c.effective_date), sa.func.max(e.c.effective_date)).where(e.c.tenant_id == tenant_id)
    ).one()
    currencies = sorted(conn.execute(
        sa.select(account_balances.c.currency).where(account_balances.c.tenant_id == tenant_id).distinct()
    ).scalars())
    return first, last, currencies


def reversal_links(conn: Connection, tenant_id: int) -> dict[uuid.UUID, uuid.UUID]:
    """Every reversed entry's id -> the id of the entry reversing it."""
    e = journal_entries
    rows = conn.execute(sa.select(e.c.reverses_entry_id, e.c.id).where(e.c.tenant_id == tenant_id, e.c.reverses_entry_id.is_not(None)))
    return {r[0]: r[1] for r in rows}


def tenant_slug(conn: Connection, tenant_id: int) -> str:
    from ledger.store.tables import tenants

    return conn.execute(sa.select(tenants.c.slug).where(tenants.c.id == tenant_id)).scalar_one()
