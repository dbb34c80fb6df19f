"""Writes an imported batch of entries on PostgreSQL: binary COPY, then the balance counters.

Journal entries and their postings stream to the server with COPY in binary format while Python is
still producing rows, so the two cores work at once; the counters are then moved by one statement
in the lock order of ledger.store.balances (every current-balance row, then every period row, each
sorted by key). The entries arrive with time-ordered ids (ledger.ids) and in that order, so the
primary-key indexes grow at their right-hand edge. Nothing here checks anything: ledger.service
validated the drafts and locked the accounts (FOR SHARE) before calling, and the caller's
transaction makes it all or nothing. Other databases use ledger.store.journal.write_entries.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.engine import Connection

from ledger.store.balances import BalanceRows
from ledger.store.journal import _as_sqlalchemy_errors, _json_tuples, counter_upserts

entry_columns = ("tenant_id", "id", "effective_date", "recorded_at", "description", "metadata", "actor",
                 "idempotency_key", "request_hash", "reverses_entry_id", "content_hash")
entry_types = ("int8", "uuid", "date", "timestamptz", "text", "text", "text", "text", "text", "uuid", "text")
posting_columns = ("tenant_id", "entry_id", "line_no", "account_code", "currency", "amount_minor", "effective_date")
posting_types = ("int8", "uuid", "int2", "text", "text", "int8", "date")

_copy_entries = f"COPY journal_entries ({', '.join(entry_columns)}) FROM STDIN (FORMAT BINARY)"
_copy_postings = f"COPY postings ({', '.join(posting_columns)}) FROM STDIN (FORMAT BINARY)"

_counters_sql = f"WITH {counter_upserts('true')}\nSELECT 1"


def copy_entries(conn: Connection, entries: Iterable[Sequence], postings: Iterable[Sequence]) -> None:
    """COPY rows (tuples in entry_columns / posting_columns order), consumed as they stream."""
    cursor = conn.connection.driver_connection.cursor()
    for statement, types, rows in ((_copy_entries, entry_types, entries), (_copy_postings, posting_types, postings)):
        with _as_sqlalchemy_errors(conn, statement, None):
            with cursor.copy(statement) as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)


def move_counters(conn: Connection, tenant_id: int, counters: BalanceRows) -> None:
    """Add a batch's aggregated movements to the balance counters, in the global lock order."""
    params = {
        "tenant": tenant_id,
        "current": _json_tuples(counters.current, ("account_code", "currency", "slot", "debit_minor", "credit_minor")),
        "periods": _json_tuples(
            counters.periods, ("account_code", "currency", "grain", "period_start", "slot", "debit_minor", "credit_minor")
        ),
    }
    with _as_sqlalchemy_errors(conn, _counters_sql, None):
        conn.connection.driver_connection.cursor().execute(_counters_sql, params)
