"""Balance counters maintained in the same transaction as the postings.

Movements are aggregated per (account, currency, slot) before they touch the database, and the
upserts are sorted by key so concurrent transactions lock rows in one global order (no deadlocks):
every current-balance row first, then every period row, each set in key order.
A hot account spreads its counters over `balance_slots` rows; each transaction adds to one of them
(its connection's on PostgreSQL, see ledger.store.journal; else one at random), so concurrent
postings to the bank account rarely wait on one another.
"""
from __future__ import annotations

import datetime as dt
import functools
import random
from collections.abc import Iterable, Mapping
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.store.tables import account_balances, account_period_balances

Movement = tuple[str, str, dt.date, int]  # account code, currency, effective date, signed minor


class BalanceRows(NamedTuple):
    """Aggregated counter increments, each list sorted by its table's key (the lock order)."""

    current: list[tuple[str, str, int, int, int]]  # code, currency, slot, debit, credit
    periods: list[tuple[str, str, str, dt.date, int, int, int]]  # code, currency, grain, start, slot, debit, credit


def balance_rows(movements: Iterable[Movement], slots: Mapping[str, int], pick: int | None = None) -> BalanceRows:
    """`pick` chooses each hot account's slot (pick % slots); random unless the caller names one."""
    totals = DayTotals()
    add = totals.add
    for code, currency, day, amount in movements:
        add(code, currency, day, amount)
    return totals.rows(slots, pick)


class DayTotals:
    """Movements summed per (account, currency, day) as they arrive; rows() makes the counter rows.

    One dict update per movement, keyed by day; months, years and current totals are derived from
    the (far fewer) days afterwards. A bulk import adds its movements while its rows stream by.
    """

    __slots__ = ("by_day",)

    def __init__(self) -> None:
        self.by_day: dict[tuple[str, str, dt.date], list[int]] = {}

    def add(self, code: str, currency: str, day: dt.date, amount: int) -> None:
        key = (code, currency, day)
        row = self.by_day.get(key)
        if row is None:
            row = self.by_day[key] = [0, 0]
        if amount > 0:
            row[0] += amount
        else:
            row[1] -= amount

    def rows(self, slots: Mapping[str, int], pick: int | None = None) -> BalanceRows:
        """The counter rows, each list in key (lock) order; `pick` as for balance_rows."""
        if pick is None:
            pick = random.randrange(1 << 30)
        current: dict[tuple, list[int]] = {}
        periods: dict[tuple, list[int]] = {}
        months: dict[dt.date, dt.date] = {}
        for (code, currency, day), (debit_minor, credit_minor) in self.by_day.items():
            slot = pick % slots[code]
            month = months.get(day)
            if month is None:
                month = months[day] = day.replace(day=1)
            targets = [
                (current, (code, currency, slot)),
                (periods, (code, currency, "D", day, slot)),
                (periods, (code, currency, "M", month, slot)),
                (periods, (code, currency, "Y", month.replace(month=1), slot)),
            ]
            for totals, key in targets:
                row = totals.get(key)
                if row is None:
                    totals[key] = [debit_minor, credit_minor]
                else:
                    row[0] += debit_minor
                    row[1] += credit_minor
        return BalanceRows(
            [(*k, d, c) for k, (d, c) in sorted(current.items())],
            [(*k, d, c) for k, (d, c) in sorted(periods.items())],
        )


def apply_movements(conn: Connection, tenant_id: int, movements: Iterable[Movement], slots: Mapping[str, int]) -> None:
    """Portable path (SQLite and any other dialect); PostgreSQL writes the rows in ledger.store.journal."""
    rows = balance_rows(movements, slots)
    _upsert(
        conn,
        account_balances,
        ("tenant_id", "account_code", "currency", "slot"),
        [
            {"tenant_id": tenant_id, "account_code": code, "currency": cur, "slot": slot, "debit_minor": d, "credit_minor": c}
            for code, cur, slot, d, c in rows.current
        ],
    )
    _upsert(
        conn,
        account_period_balances,
        ("tenant_id", "account_code", "currency", "grain", "period_start", "slot"),
        [
            {
                "tenant_id": tenant_id, "account_code": code, "currency": cur, "grain": grain,
                "period_start": start, "slot": slot, "debit_minor": d, "credit_minor": c,
            }
            for code, cur, grain, start, slot, d, c in rows.periods
        ],
    )


def _upsert(conn: Connection, table: sa.Table, key: tuple[str, ...], rows: list[dict]) -> None:
    if not rows:
        return
    # One row per statement, executed as a batch: the statement is built once and its compiled form
    # cached, where a multi-row VALUES list would compile afresh for every batch size. Rows stay sorted.
    conn.execute(_upsert_statement(conn.dialect.name, table, key), rows)


@functools.cache
def _upsert_statement(dialect: str, table: sa.Table, key: tuple[str, ...]) -> sa.Insert:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=list(key),
        set_={
            "debit_minor": table.c.debit_minor + stmt.excluded.debit_minor,
            "credit_minor": table.c.credit_minor + stmt.excluded.credit_minor,
        },
    )
