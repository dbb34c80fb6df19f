"""Close of business catching up: every pending business date through a given one, in order.

The pending dates start after the last closed date (or at an unfinished date, which resumes), or,
before any date was ever closed, the day after the earliest active loan's last closed day. Each date
is one ordinary `run_close_of_business`, so each is idempotent and an interruption loses nothing:
the next catch-up starts at the date that was being closed.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from loans.cob import CobSummary, cob_workers, run_close_of_business
from loans.errors import CobOutOfOrder
from loans.state import LoanStatus
from loans.store.tables import cob_runs, loans

# Ten years of days: a mistyped year must not start decades of ageing.
catch_up_days_max = 3660


def last_closed(conn: Connection, tenant_id: int) -> tuple[dt.date, bool] | None:
    """The latest business date close of business began, and whether it finished; None before the first."""
    row = conn.execute(
        sa.select(cob_runs.c.business_date, cob_runs.c.status).where(cob_runs.c.tenant_id == tenant_id)
        .order_by(cob_runs.c.business_date.desc()).limit(1)
    ).first()
    return None if row is None else (row.business_date, row.status == "DONE")


def pending_dates(conn: Connection, tenant_id: int, through: dt.date) -> list[dt.date]:
    """The business dates still to close, oldest first, up to `through` (empty when all are closed)."""
    last = last_closed(conn, tenant_id)
    if last is not None:
        day, done = last
        first = day + dt.timedelta(days=1) if done else day
    else:
        earliest = conn.execute(
            sa.select(sa.func.min(loans.c.last_cob_date))
            .where(loans.c.tenant_id == tenant_id, loans.c.status == LoanStatus.ACTIVE.value)
        ).scalar()
        first = through if earliest is None else min(earliest + dt.timedelta(days=1), through)
    count = (through - first).days + 1
    if count > catch_up_days_max:
        raise CobOutOfOrder(
            f"{count} business dates are pending from {first} through {through}; at most {catch_up_days_max} "
            "are closed in one catch-up (check the year, or catch up in steps)"
        )
    return [first + dt.timedelta(days=n) for n in range(max(count, 0))]


def run_close_of_business_through(
    db: Engine, tenant_id: int, through: dt.date, *,
    on_date: Callable[[int, int, CobSummary], None] | None = None, **options: object,
) -> list[CobSummary]:
    """Close every pending date through `through`; `on_date(index, count, summary)` after each one.

    `options` are `run_close_of_business`'s (actor_name, clock, batch_size, progress, workers, ...).
    With workers and an engine factory on PostgreSQL, one set of worker processes closes every date.
    """
    with db.connect() as conn:
        days = pending_dates(conn, tenant_id, through)
        conn.rollback()
    workers, factory = options.pop("workers", 1), options.pop("engine_factory", None)
    summaries = []
    with cob_workers(db, factory, workers) if len(days) > 1 else contextlib.nullcontext() as pool:  # type: ignore[arg-type]
        for index, day in enumerate(days, start=1):
            summary = run_close_of_business(
                db, tenant_id, day, workers=workers, engine_factory=factory, pool=pool, **options,  # type: ignore[arg-type]
            )
            summaries.append(summary)
            if on_date is not None:
                on_date(index, len(days), summary)
    return summaries
