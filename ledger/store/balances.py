"""Balance counters maintained in the same transaction as the postings.

Movements are aggregated per (account, currency, slot) before they touch the database, and the
upserts are sorted by key so concurrent transactions lock rows in one global order (no deadlocks).
A hot account spreads its counters over `balance_slots` rows; each transaction picks one slot at
random, so concurrent postings to the bank account rarely wait on one another.
"""
from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.store.tables import account_balances, account_period_balances

Movement = tuple[str, str, dt.date, int]  # account code, currency, effective date, signed minor


def apply_movements(conn: Connection, tenant_id: int, movements: Iterable[Movement], slots: Mapping[str, int]) -> None:
    pick = random.randrange(1 << 30)
    current: dict[tuple, list[int]] = {}
    periods: dict[tuple, list[int]] = {}
    for code, currency, day, amount in movements:
        slot = pick % slots[code]
        debit, credit = (amount, 0) if amount > 0 else (0, -amount)
        _add(current, (code, currency, slot), debit, credit)
        for grain, start in (("D", day), ("M", day.replace(day=1)), ("Y", day.replace(month=1, day=1))):
            _add(periods, (code, currency, grain, start, slot), debit, credit)
    _upsert(
        conn,
        account_balances,
        ("tenant_id", "account_code", "currency", "slot"),
        [
            {"tenant_id": tenant_id, "account_code": k[0], "currency": k[1], "slot": k[2], "debit_minor": v[0], "credit_minor": v[1]}
            for k, v in sorted(current.items())
        ],
    )
    _upsert(
        conn,
        account_period_balances,
        ("tenant_id", "account_code", "currency", "grain", "period_start", "slot"),
        [
            {
                "tenant_id": tenant_id,
                "account_code": k[0],
                "currency": k[1],
                "grain": k[2],
                "period_start": k[3],
                "slot": k[4],
                "debit_minor": v[0],
                "credit_minor": v[1],
            }
            for k, v in sorted(periods.items())
        ],
    )


def _add(totals: dict[tuple, list[int]], key: tuple, debit: int, credit: int) -> None:
    row = totals.get(key)
    if row is None:
        totals[key] = [debit, credit]
    else:
        row[0] += debit
        row[1] += credit


upsert_rows_max = 2000


def _upsert(conn: Connection, table: sa.Table, key: tuple[str, ...], rows: list[dict]) -> None:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    for start in range(0, len(rows), upsert_rows_max):
        stmt = insert(table).values(rows[start : start + upsert_rows_max])
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key),
            set_={
                "debit_minor": table.c.debit_minor + stmt.excluded.debit_minor,
                "credit_minor": table.c.credit_minor + stmt.excluded.credit_minor,
            },
        )
        conn.execute(stmt)
