"""The one place where transactions are retried.

PostgreSQL may abort a transaction with a serialization failure (40001) or a deadlock (40P01);
SQLite may report the database as locked. Both mean "run it again", never "tell the caller". A
unique violation on an idempotency key or a reversal link means another connection got there
first: running the work again finds the other row and answers as a replay (or a typed error).
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger.errors import TransactionRetriesExhausted
from ledger.store.sealer import autocommit, seal_committed, sealed_in_background

log = logging.getLogger(__name__)

T = TypeVar("T")
attempts_max = 25
backoff_seconds_max = 0.2
retryable_sqlstates = frozenset({"40001", "40P01", "55P03"})
retryable_unique_constraints = [
    "uq_journal_entries_tenant_id_idempotency_key",
    "uq_journal_entries_tenant_id_reverses_entry_id",
    "journal_entries.tenant_id, journal_entries.idempotency_key",
    "journal_entries.tenant_id, journal_entries.reverses_entry_id",
]


def register_retryable_unique(table: str, *columns: str) -> None:
    """Declare a unique key whose violation means "another transaction got there first".

    Domain packages register their own (idempotency keys, one-time links) so the ledger needs no
    knowledge of their tables; both PostgreSQL's constraint name and SQLite's message are matched.
    """
    retryable_unique_constraints.append(f"uq_{table}_{'_'.join(columns)}")
    retryable_unique_constraints.append(", ".join(f"{table}.{c}" for c in columns))


# Audit events a transaction wrote, by tenant: sealed into the chain right after commit.
AUDITED_EVENTS = "loanbook_audited_events"
# Set while run_in_transaction's work runs with seal=True: a posting statement may then try for the
# sealer lock and chain its own events before commit (see ledger.store.journal).
SEAL_IN_TRANSACTION = "loanbook_seal_in_transaction"


# Execution option marking a connection that only reads: the SQLite engine (loanbook.db) then begins
# its transactions deferred, without the write lock, and in WAL mode they read while writers carry on.
read_only_option = "loanbook_read_only"


def read_connection(engine: Engine) -> Connection:
    """A connection for reading only (use it in `with`): on SQLite it does not take the write lock."""
    return engine.connect().execution_options(**{read_only_option: True})


def is_retryable(exc: Exception) -> bool:
    """For SQLAlchemy's wrapped errors and for raw driver errors (the PostgreSQL store writes through the driver)."""
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in retryable_sqlstates:
        return True
    text = str(orig)
    if sqlstate == "23505" or "UNIQUE constraint failed" in text:
        return any(name in text for name in retryable_unique_constraints)
    return "database is locked" in text or "database is busy" in text


def run_in_transaction(engine: Engine, work: Callable[[Connection], T], *, seal: bool = True) -> T:
    """Run `work(conn)` in one transaction, retrying transient failures; seal audit events after commit.

    A LedgerError raised by `work` rolls the transaction back and reaches the caller unchanged.
    A connection found dead before COMMIT was sent is retried on a fresh one (the server rolled
    that transaction back); one lost during COMMIT is not, since it may have committed. Sealing
    runs on the same connection right after commit, outside the retry loop: the work committed, so
    if sealing fails (the connection lost) the result is still returned and the events stay queued
    for the next sealer (`loanbook verify` seals what is pending before it checks).
    On an engine registered with ledger.store.sealer.seal_in_background, the background sealer
    does that instead and this returns right after commit.
    """
    return _run(engine, work, seal=seal, standalone=False)


def run_statement(engine: Engine, work: Callable[[Connection], T], *, seal: bool = True) -> T:
    """Run `work(conn)` in autocommit: each statement it sends is a transaction of its own.

    For work whose writes are one atomic statement (ledger.service.post_standalone): no BEGIN or
    COMMIT round trip is spent. PostgreSQL only (psycopg's autocommit, switched on the driver's
    connection: SQLAlchemy's isolation-level option costs more than the round trips it saves).
    Failures are retried as run_in_transaction retries them and, since a lost connection cannot tell
    whether the statement committed, also after a lost connection at any moment: `work` must be
    safe to run again after it committed (the standalone posting statement then writes nothing and
    says so). Audit events are sealed as run_in_transaction does.
    """
    assert engine.dialect.name == "postgresql", "run_statement is for PostgreSQL; use run_in_transaction"
    return _run(engine, work, seal=seal, standalone=True)


def _run(engine: Engine, work: Callable[[Connection], T], *, seal: bool, standalone: bool) -> T:
    if seal and sealed_in_background(engine):
        seal = False  # a background sealer follows the queue (ledger.store.sealer.BackgroundSealer)
    for attempt in range(1, attempts_max + 1):
        committing = False
        conn = engine.connect()
        try:
            if standalone:
                with autocommit(conn.connection.driver_connection):
                    result = _run_work(conn, work, seal)
            else:
                with conn.begin():
                    result = _run_work(conn, work, seal)
                    committing = True
            audited = {t: ids for t, ids in conn.info[AUDITED_EVENTS].items() if ids}
        except (sa.exc.DBAPIError, engine.dialect.loaded_dbapi.Error) as exc:
            conn.close()
            lost = isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated and (standalone or not committing)
            if not (is_retryable(exc) or lost):
                raise
            if attempt == attempts_max:
                raise TransactionRetriesExhausted(
                    f"the database kept refusing the transaction after {attempts_max} attempts; try again"
                ) from exc
            log.debug("retrying transaction (attempt %s): %s", attempt, exc)
            time.sleep(random.uniform(0, min(backoff_seconds_max, 0.002 * 2**attempt)))
            continue
        except BaseException:
            conn.close()
            raise
        try:
            if seal:
                for tenant_id, event_ids in sorted(audited.items()):
                    seal_committed(conn, tenant_id, event_ids)
        except (sa.exc.DBAPIError, engine.dialect.loaded_dbapi.Error):
            # The work committed: an error now would tell the caller otherwise (and a retry would post
            # twice). The events stay on the queue, which the next sealer chains, as after a crash.
            log.warning("sealing after commit failed; the events stay queued for the next sealer", exc_info=True)
        finally:
            conn.close()
        return result
    raise AssertionError("unreachable: the loop returns or raises")


def _run_work(conn: Connection, work: Callable[[Connection], T], seal: bool) -> T:
    info = conn.info
    info[AUDITED_EVENTS] = {}
    info[SEAL_IN_TRANSACTION] = seal
    try:
        return work(conn)
    finally:
        info.pop(SEAL_IN_TRANSACTION, None)
