"""Writes an imported batch of entries on PostgreSQL: binary COPY, then the balance counters.

The rows stream to the server with COPY in binary format while Python is still producing them, so
the two cores work at once. Postings go first: indexing them is the server's heavier insert, and
their stream carries the client's heavier work (each entry's hashes, computed as its postings go
by), so each side has the other's slack; the entries follow, their rows already made. The counters
are then moved by one statement in the lock order of ledger.store.balances (every current-balance
row, then every period row, each sorted by key), on a worker thread while the caller's own work
(the answer, the audit event) runs. The entries arrive with time-ordered ids (ledger.ids) and in
that order, so the primary-key indexes grow at their right-hand edge. Nothing here checks anything:
ledger.service locked the accounts (FOR SHARE) before calling and checks each draft as its rows are
made (an error ends the COPY), and the caller's transaction makes it all or nothing. Other
databases use ledger.store.journal.write_entries.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from sqlalchemy.engine import Connection

from ledger.store.balances import BalanceRows
from ledger.store.journal import _as_sqlalchemy_errors, counter_params, counter_upserts

entry_columns = ("tenant_id", "id", "effective_date", "recorded_at", "description", "metadata", "actor",
                 "idempotency_key", "request_hash", "reverses_entry_id", "content_hash")
entry_types = ("int8", "uuid", "date", "timestamptz", "text", "text", "text", "text", "text", "uuid", "text")
posting_columns = ("tenant_id", "entry_id", "line_no", "account_code", "currency", "amount_minor", "effective_date")
posting_types = ("int8", "uuid", "int2", "text", "text", "int8", "date")

_copy_entries = f"COPY journal_entries ({', '.join(entry_columns)}) FROM STDIN (FORMAT BINARY)"
_copy_postings = f"COPY postings ({', '.join(posting_columns)}) FROM STDIN (FORMAT BINARY)"

_counters_sql = f"WITH {counter_upserts('true')}\nSELECT 1"


T = TypeVar("T")


def copy_rows(conn: Connection, postings: Iterable[Sequence], entries: Iterable[Sequence]) -> None:
    """COPY rows (tuples in posting_columns / entry_columns order), postings first, consumed as they stream.

    `entries` is only iterated once every posting went: it may be filled while the postings stream.
    """
    cursor = conn.connection.driver_connection.cursor()
    for statement, types, rows in ((_copy_postings, posting_types, postings), (_copy_entries, entry_types, entries)):
        with _as_sqlalchemy_errors(conn, statement, None):
            with cursor.copy(statement) as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)


def move_counters(conn: Connection, tenant_id: int, counters: BalanceRows, meanwhile: Callable[[], T]) -> T:
    """Add a batch's aggregated movements to the balance counters, in the global lock order, and
    return `meanwhile()`, which runs (client work, no database) while the server moves them.

    The statement runs on a worker thread (psycopg waits for the server without the GIL) and ends
    before this returns, whatever `meanwhile` does; its error, if any, is raised here as SQLAlchemy's.
    """
    params = {"tenant": tenant_id, **counter_params(counters)}
    driver = conn.connection.driver_connection
    failed: list[BaseException] = []

    def execute() -> None:
        try:
            driver.cursor().execute(_counters_sql, params)
        except BaseException as exc:  # handed to the caller's thread below
            failed.append(exc)

    worker = threading.Thread(target=execute, name="loanbook-counters", daemon=True)
    worker.start()
    try:
        result = meanwhile()
    finally:
        worker.join()
    with _as_sqlalchemy_errors(conn, _counters_sql, None):
        if failed:
            raise failed[0]
    return result
