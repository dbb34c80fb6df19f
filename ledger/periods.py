"""Period close: locking a tenant's books through a date, reopening, and the year-end close.

Once the books are closed through a date, no entry dated on or before it posts, whatever road it
takes (manual entries, loan servicing, close of business, backdated repayments, imports): the
check lives in the ledger's one posting road (ledger.store.journal, ledger.store.periods) and
answers PERIOD_CLOSED. A correction of a closed period's entry is a reversal dated in the open
period; it references the original as every reversal does.

Closures stack: a close goes later than the one before it; only the latest closure can be
reopened (the books are then closed through the one before), with a reason, audited. Closing
a fiscal year posts one closing entry dated its last day moving every income and expense
balance of the year to retained earnings (the chart's `retained_earnings` role, 3200), then
closes the books through that day, so the next year's income accounts start at zero.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import errors
from ledger.actor import Actor
from ledger.model import AccountType, EntryDraft, Posting
from ledger.queries import account_roles, as_of_parameters, balances_as_of_statement, list_accounts
from ledger.service import post_entry
from ledger.store.periods import closed_through, lock_for_close
from ledger.store.tables import fiscal_year_closes, period_closures
from ledger.unit_of_work import record_event

reason_length_max = 500
year_end_metadata_kind = "year_end_close"


@dataclass(frozen=True, slots=True)
class PeriodClosure:
    tenant_id: int
    seq: int
    through_date: dt.date
    reason: str
    closed_by: str
    closed_at: dt.datetime
    reopened_by: str | None = None
    reopened_at: dt.datetime | None = None
    reopen_reason: str | None = None


@dataclass(frozen=True, slots=True)
class FiscalYearClose:
    year: int
    entry_id: uuid.UUID | None
    closure: PeriodClosure


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > reason_length_max:
        raise errors.InvalidInput(f"a reason of 1 to {reason_length_max} characters is required", field="reason")
    return reason


def _closure(row: sa.Row) -> PeriodClosure:
    return PeriodClosure(
        row.tenant_id, row.seq, row.through_date, row.reason, row.closed_by, row.closed_at,
        row.reopened_by, row.reopened_at, row.reopen_reason,
    )


def list_closures(conn: Connection, tenant_id: int) -> list[PeriodClosure]:
    """Every closure of the tenant's books, latest first, reopened ones included."""
    rows = conn.execute(
        sa.select(period_closures).where(period_closures.c.tenant_id == tenant_id).order_by(period_closures.c.seq.desc())
    ).all()
    return [_closure(r) for r in rows]


def closed_through_date(conn: Connection, tenant_id: int) -> dt.date | None:
    return closed_through(conn, tenant_id)


def close_period(conn: Connection, actor: Actor, through_date: dt.date, reason: str) -> PeriodClosure:
    """Close the books through `through_date` (not in the future, later than the current close)."""
    reason = _reason(reason)
    if through_date >= actor.now.date():
        raise errors.InvalidPeriodClose(
            f"the books can be closed through yesterday ({actor.now.date() - dt.timedelta(days=1)}) at the latest",
            field="throughDate",
        )
    # Postings in flight commit first (and are part of the closed period); new ones wait for us.
    lock_for_close(conn, actor.tenant_id)
    current = closed_through(conn, actor.tenant_id)
    if current is not None and through_date <= current:
        raise errors.InvalidPeriodClose(
            f"the books are already closed through {current}; a new close must be later", field="throughDate",
        )
    seq = (conn.execute(
        sa.select(sa.func.max(period_closures.c.seq)).where(period_closures.c.tenant_id == actor.tenant_id)
    ).scalar() or 0) + 1
    values = {
        "tenant_id": actor.tenant_id, "seq": seq, "through_date": through_date, "reason": reason,
        "closed_by": actor.name, "closed_at": actor.now,
    }
    conn.execute(sa.insert(period_closures).values(**values))
    record_event(
        conn, actor, "period.closed", "period_closure", seq,
        before={"closed_through": str(current) if current else None},
        after={"closed_through": str(through_date), "seq": seq}, reason=reason,
    )
    return PeriodClosure(**values)


def reopen_period(conn: Connection, actor: Actor, reason: str) -> PeriodClosure:
    """Reopen the latest closure; the books are then closed through the one before it, if any."""
    reason = _reason(reason)
    lock_for_close(conn, actor.tenant_id)
    row = conn.execute(
        sa.select(period_closures)
        .where(period_closures.c.tenant_id == actor.tenant_id, period_closures.c.reopened_at.is_(None))
        .order_by(period_closures.c.seq.desc()).limit(1)
    ).first()
    if row is None:
        raise errors.InvalidPeriodClose("the books have no closed period to reopen")
    conn.execute(
        sa.update(period_closures)
        .where(period_closures.c.tenant_id == actor.tenant_id, period_closures.c.seq == row.seq)
        .values(reopened_by=actor.name, reopened_at=actor.now, reopen_reason=reason)
    )
    now_through = closed_through(conn, actor.tenant_id)
    record_event(
        conn, actor, "period.reopened", "period_closure", row.seq,
        before={"closed_through": str(row.through_date)},
        after={"closed_through": str(now_through) if now_through else None}, reason=reason,
    )
    return _closure(conn.execute(
        sa.select(period_closures).where(period_closures.c.tenant_id == actor.tenant_id, period_closures.c.seq == row.seq)
    ).one())


def close_fiscal_year(conn: Connection, actor: Actor, year: int, reason: str) -> FiscalYearClose:
    """Move the year's income and expense to retained earnings (one entry dated 31 December), then
    close the books through that day. The year's last day must still be open."""
    reason = _reason(reason)
    if not 1900 <= year <= 9998:
        raise errors.InvalidInput("year must be between 1900 and 9998", field="year")
    year_end = dt.date(year, 12, 31)
    if conn.execute(
        sa.select(fiscal_year_closes.c.year).where(
            fiscal_year_closes.c.tenant_id == actor.tenant_id, fiscal_year_closes.c.year == year)
    ).first():
        raise errors.InvalidPeriodClose(f"fiscal year {year} is already closed", field="year")
    current = closed_through(conn, actor.tenant_id)
    if current is not None and current >= year_end:
        raise errors.InvalidPeriodClose(
            f"the books are closed through {current}: reopen {year}'s last day to close the year", field="year",
        )
    if year_end >= actor.now.date():
        raise errors.InvalidPeriodClose(f"fiscal year {year} has not ended", field="year")
    retained = _retained_earnings_code(conn, actor.tenant_id)
    postings = year_movements_closed(conn, actor.tenant_id, year, retained)
    entry_id = None
    if postings:
        entry = post_entry(conn, actor, EntryDraft(
            year_end, tuple(postings), f"Year-end close {year}: income and expense to retained earnings",
            {"kind": year_end_metadata_kind, "fiscal_year": year},
        ))
        entry_id = entry.id
    closure = close_period(conn, actor, year_end, reason)
    conn.execute(sa.insert(fiscal_year_closes).values(
        tenant_id=actor.tenant_id, year=year, entry_id=entry_id, closure_seq=closure.seq, reason=reason,
        closed_by=actor.name, closed_at=actor.now,
    ))
    record_event(
        conn, actor, "fiscal_year.closed", "fiscal_year", year,
        after={"entry_id": str(entry_id) if entry_id else None, "closure_seq": closure.seq}, reason=reason,
    )
    return FiscalYearClose(year, entry_id, closure)


def year_end_entry_ids(conn: Connection, tenant_id: int) -> dict[int, uuid.UUID]:
    """The closing entry of every closed fiscal year (reports leave them out of income statements)."""
    rows = conn.execute(
        sa.select(fiscal_year_closes.c.year, fiscal_year_closes.c.entry_id)
        .where(fiscal_year_closes.c.tenant_id == tenant_id, fiscal_year_closes.c.entry_id.is_not(None))
    ).all()
    return {r.year: r.entry_id for r in rows}


def _retained_earnings_code(conn: Connection, tenant_id: int) -> str:
    code = account_roles(conn, tenant_id).get("retained_earnings")
    if code is not None:
        return code
    raise errors.UnknownAccount("the chart has no retained earnings account (role retained_earnings)")


def year_movements_closed(conn: Connection, tenant_id: int, year: int, retained: str) -> list[Posting]:
    """The closing postings: each income/expense account's movement over the year, reversed, and
    the net per currency to retained earnings."""
    types = {a.code: a.type for a in list_accounts(conn, tenant_id)}
    statement = balances_as_of_statement(by_codes=False)
    end = {(r[0], r[1]): int(r[2]) - int(r[3]) for r in conn.execute(statement, as_of_parameters(tenant_id, dt.date(year, 12, 31)))}
    start = {(r[0], r[1]): int(r[2]) - int(r[3]) for r in conn.execute(statement, as_of_parameters(tenant_id, dt.date(year - 1, 12, 31)))}
    postings: list[Posting] = []
    to_retained: dict[str, int] = {}
    for (code, currency), net_end in sorted(end.items()):
        if types.get(code) not in (AccountType.INCOME, AccountType.EXPENSE):
            continue
        moved = net_end - start.get((code, currency), 0)
        if moved == 0:
            continue
        postings.append(Posting(code, currency, -moved))
        to_retained[currency] = to_retained.get(currency, 0) + moved
    for currency, amount in sorted(to_retained.items()):
        if amount:
            postings.append(Posting(retained, currency, amount))
    return postings
