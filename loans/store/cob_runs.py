"""Close-of-business runs' rows: one per requested business date, with its status, heartbeat and outcome.

Every function returns loans.model values (CobRun), never a row.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loans.model import CobRun, RunStatus, active_statuses
from loans.store.tables import close_of_business_runs as runs


def active_run(conn: Connection, tenant_id: int) -> CobRun | None:
    """The tenant's QUEUED or RUNNING run, locked until commit (at most one: a partial unique index)."""
    row = conn.execute(
        sa.select(runs).where(runs.c.tenant_id == tenant_id, runs.c.status.in_(active_statuses)).with_for_update()
    ).first()
    return None if row is None else run_from_row(row)


def insert_run(conn: Connection, tenant_id: int, run_id: uuid.UUID, day: dt.date, requested_by: str, now: dt.datetime) -> None:
    conn.execute(
        sa.insert(runs).values(
            tenant_id=tenant_id, id=run_id, business_date=day, status=RunStatus.QUEUED.value, requested_by=requested_by,
            requested_at=now, heartbeat_at=now,
        )
    )


def get_run(conn: Connection, tenant_id: int, run_id: uuid.UUID, *, lock: bool = False) -> CobRun | None:
    query = sa.select(runs).where(runs.c.tenant_id == tenant_id, runs.c.id == run_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return None if row is None else run_from_row(row)


def list_runs(conn: Connection, tenant_id: int, after: tuple[dt.datetime, uuid.UUID] | None, limit: int) -> list[CobRun]:
    """Runs newest requested first, keyset-paginated with `after` = (requested_at, id)."""
    query = sa.select(runs).where(runs.c.tenant_id == tenant_id)
    if after is not None:
        query = query.where(sa.tuple_(runs.c.requested_at, runs.c.id) < sa.tuple_(*after))
    query = query.order_by(runs.c.requested_at.desc(), runs.c.id.desc()).limit(limit)
    return [run_from_row(row) for row in conn.execute(query)]


def mark_running(conn: Connection, tenant_id: int, run_id: uuid.UUID, now: dt.datetime) -> None:
    conn.execute(
        sa.update(runs).where(runs.c.tenant_id == tenant_id, runs.c.id == run_id)
        .values(status=RunStatus.RUNNING.value, started_at=now, heartbeat_at=now)
    )


def heartbeat(conn: Connection, tenant_id: int, run_id: uuid.UUID, now: dt.datetime, done: int, total: int) -> None:
    conn.execute(
        sa.update(runs).where(runs.c.tenant_id == tenant_id, runs.c.id == run_id, runs.c.status == RunStatus.RUNNING.value)
        .values(heartbeat_at=now, loans_processed=done, loans_total=total)
    )


def finish_run(conn: Connection, tenant_id: int, run_id: uuid.UUID, values: Mapping[str, object]) -> bool:
    """Write a run's outcome if it is still QUEUED or RUNNING; whether it was."""
    return bool(conn.execute(
        sa.update(runs).where(runs.c.tenant_id == tenant_id, runs.c.id == run_id, runs.c.status.in_(active_statuses))
        .values(**values)
    ).rowcount)


def run_from_row(row: sa.Row) -> CobRun:
    return CobRun(
        row.tenant_id, row.id, row.business_date, RunStatus(row.status), row.requested_by, utc(row.requested_at),
        utc(row.started_at), utc(row.finished_at), utc(row.heartbeat_at), row.loans_total, row.loans_processed,
        row.entries_posted, row.entered_non_accrual, bool(row.already_done), bool(row.resumed),
        tuple(json.loads(row.loan_errors)), row.error_code, row.error_message,
    )


def utc(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands timestamps back naive (stored as UTC).
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.timezone.utc)
