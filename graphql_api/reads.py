"""Plain read queries for the API, batched for DataLoaders; always scoped to one tenant.

Reads may bypass the domain (writes never do): these select from the ledger's tables directly and
return the ledger's own immutable data types.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.model import Account, PostedEntry
from ledger.queries import Balance, account_from_row, as_of_parameters, balances_as_of_statement, entries_from_rows
from ledger.store.tables import account_balances, accounts, journal_entries


def accounts_page(conn: Connection, tenant_id: int, after_code: str | None, limit: int) -> list[Account]:
    """Accounts ordered by code, keyset-paginated on the code."""
    query = sa.select(accounts).where(accounts.c.tenant_id == tenant_id)
    if after_code is not None:
        query = query.where(accounts.c.code > after_code)
    return [account_from_row(row) for row in conn.execute(query.order_by(accounts.c.code).limit(limit))]


def balances_by_account(
    conn: Connection, tenant_id: int, codes: Sequence[str], as_of: dt.date | None
) -> dict[str, list[Balance]]:
    """Balance per currency of each account: current (from the counters) or as of a date (period rows)."""
    if as_of is None:
        t = account_balances
        rows = conn.execute(
            sa.select(t.c.account_code, t.c.currency, sa.func.sum(t.c.debit_minor), sa.func.sum(t.c.credit_minor))
            .where(t.c.tenant_id == tenant_id, t.c.account_code.in_(list(codes)))
            .group_by(t.c.account_code, t.c.currency)
            .order_by(t.c.account_code, t.c.currency)
        ).all()
    else:
        rows = conn.execute(balances_as_of_statement(by_codes=True), as_of_parameters(tenant_id, as_of, codes=codes)).all()
    result: dict[str, list[Balance]] = {code: [] for code in codes}
    for code, currency, debit, credit in rows:
        result[code].append(Balance(code, currency, int(debit), int(credit)))
    return result


def entries_by_id(conn: Connection, tenant_id: int, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PostedEntry]:
    rows = conn.execute(
        sa.select(journal_entries).where(journal_entries.c.tenant_id == tenant_id, journal_entries.c.id.in_(list(ids)))
    ).all()
    return {entry.id: entry for entry in entries_from_rows(conn, tenant_id, rows)}


def reversals_of(conn: Connection, tenant_id: int, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """For each entry id, the id of the entry that reverses it (absent when not reversed)."""
    rows = conn.execute(
        sa.select(journal_entries.c.reverses_entry_id, journal_entries.c.id).where(
            journal_entries.c.tenant_id == tenant_id, journal_entries.c.reverses_entry_id.in_(list(ids))
        )
    ).all()
    return {row.reverses_entry_id: row.id for row in rows}
