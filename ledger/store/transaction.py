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
import uuid
import weakref
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import PoolProxiedConnection

from ledger.errors import TransactionRetriesExhausted
from ledger.store.sealer import autocommit, seal_committed, seal_committed_on_driver, sealed_in_background

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
    return _run(engine, work, seal=seal)


# Engines whose pool switches every connection it takes back out of autocommit (_back_in_transactions).
_guarded_pools: weakref.WeakSet[Engine] = weakref.WeakSet()


def _guard_pool(engine: Engine) -> None:
    """Make sure no connection goes back into the pool in autocommit, however it is handed back
    (a HeldConnection dropped without close is returned by the garbage collector): the next user
    would otherwise run its "transaction" statement by statement."""
    if engine not in _guarded_pools:
        sa.event.listen(engine, "reset", _back_in_transactions)
        _guarded_pools.add(engine)


def _back_in_transactions(dbapi_connection, _record, _state) -> None:  # type: ignore[no-untyped-def]
    if not dbapi_connection.closed and dbapi_connection.autocommit:
        dbapi_connection.autocommit = False


class HeldConnection:
    """One pooled connection a client keeps in autocommit across many run_statement calls.

    What a pgbench client does with its connection: a worker that posts entry after entry (an
    importer, a payment-gateway consumer) holds one connection instead of checking one out of the
    pool, and switching it to autocommit and back, for every entry. For one thread at a time; use
    it in `with` (closing hands the connection back to the pool as the pool expects it). A lost
    connection is dropped and the next statement takes a fresh one.
    """

    def __init__(self, engine: Engine) -> None:
        assert engine.dialect.name == "postgresql", "HeldConnection is for PostgreSQL"
        _guard_pool(engine)
        self.engine = engine
        self._pooled: PoolProxiedConnection | None = None

    def pooled(self) -> PoolProxiedConnection:
        """The held connection (checked out and switched to autocommit on first use)."""
        if self._pooled is None:
            pooled = self.engine.raw_connection()
            try:
                pooled.driver_connection.autocommit = True
            except BaseException:
                pooled.close()
                raise
            self._pooled = pooled
        return self._pooled

    def _lost(self, exc: BaseException) -> None:
        if self._pooled is not None:
            self._pooled.invalidate(exc)
            self._pooled.close()
            self._pooled = None

    def close(self) -> None:
        pooled, self._pooled = self._pooled, None
        if pooled is None:
            return
        try:
            if not pooled.driver_connection.closed:
                pooled.driver_connection.autocommit = False  # as SQLAlchemy's pool expects it
        finally:
            pooled.close()

    def __enter__(self) -> HeldConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def run_statement(engine: Engine, work: Callable[[PoolProxiedConnection], T], *, held: HeldConnection | None = None) -> T:
    """Run `work(pooled)` on a pooled connection whose driver (psycopg) connection is in autocommit.

    For work whose writes are one atomic statement (ledger.service.post_standalone): each statement
    is a transaction of its own, so no BEGIN or COMMIT round trip is spent, and the work runs on the
    driver directly, without a SQLAlchemy Connection around it (`pooled.driver_connection`; what
    lives as long as that connection may be kept in `pooled.info`). The connection is checked out
    for the call, or is the one `held` keeps. PostgreSQL only. Driver errors are
    retried as run_in_transaction retries them and, since a lost connection cannot tell whether the
    statement committed, also after a lost connection at any moment (the pool drops that one):
    `work` must be safe to run again after it committed (the standalone posting statement then
    writes nothing and says so). Other driver errors reach the caller as SQLAlchemy's DBAPIError.
    Nothing is sealed here: see seal_committed_events.
    """
    assert engine.dialect.name == "postgresql", "run_statement is for PostgreSQL; use run_in_transaction"
    assert held is None or held.engine is engine
    driver_error = engine.dialect.loaded_dbapi.Error
    for attempt in range(1, attempts_max + 1):
        pooled = held.pooled() if held is not None else engine.raw_connection()
        driver = pooled.driver_connection
        try:
            with autocommit(driver):  # a held connection is in autocommit already: nothing to switch
                return work(pooled)
        except driver_error as exc:
            lost = driver.closed or engine.dialect.is_disconnect(exc, pooled.dbapi_connection, None)
            if lost:
                if held is not None:
                    held._lost(exc)
                else:
                    pooled.invalidate(exc)
            if not (is_retryable(exc) or lost):
                raise sa.exc.DBAPIError.instance(
                    None, None, exc, driver_error, hide_parameters=True, dialect=engine.dialect
                ) from exc
            _back_off(attempt, exc, "statement")
        finally:
            if held is None:
                pooled.close()
    raise AssertionError("unreachable: the loop returns or raises")


def seal_committed_events(
    engine: Engine, tenant_id: int, event_ids: list[uuid.UUID], *, held: HeldConnection | None = None
) -> None:
    """After run_statement committed them: seal the events, as run_in_transaction does after commit.

    On the `held` connection if there is one. Nothing to do where a background sealer follows the
    queue. A failure is logged, not raised: the work committed, and the events stay queued for the
    next sealer (a held connection that was lost is replaced by the next statement).
    """
    if sealed_in_background(engine):
        return
    if held is None:
        with engine.connect() as conn:
            _seal_or_leave_queued(conn, {tenant_id: event_ids})
        return
    try:
        seal_committed_on_driver(held.pooled().driver_connection, tenant_id, event_ids)
    except engine.dialect.loaded_dbapi.Error:
        log.warning(_seal_failed, exc_info=True)


def _run(engine: Engine, work: Callable[[Connection], T], *, seal: bool) -> T:
    if seal and sealed_in_background(engine):
        seal = False  # a background sealer follows the queue (ledger.store.sealer.BackgroundSealer)
    for attempt in range(1, attempts_max + 1):
        committing = False
        conn = engine.connect()
        try:
            with conn.begin():
                result = _run_work(conn, work, seal)
                committing = True
            audited = {t: ids for t, ids in conn.info[AUDITED_EVENTS].items() if ids}
        except (sa.exc.DBAPIError, engine.dialect.loaded_dbapi.Error) as exc:
            conn.close()
            lost = isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated and not committing
            if not (is_retryable(exc) or lost):
                raise
            _back_off(attempt, exc, "transaction")
            continue
        except BaseException:
            conn.close()
            raise
        try:
            if seal:
                _seal_or_leave_queued(conn, audited)
        finally:
            conn.close()
        return result
    raise AssertionError("unreachable: the loop returns or raises")


def _back_off(attempt: int, exc: Exception, what: str) -> None:
    """Before another attempt: give up after the last one, else wait a random, growing while."""
    if attempt == attempts_max:
        raise TransactionRetriesExhausted(
            f"the database kept refusing the {what} after {attempts_max} attempts; try again"
        ) from exc
    log.debug("retrying %s (attempt %s): %s", what, attempt, exc)
    time.sleep(random.uniform(0, min(backoff_seconds_max, 0.002 * 2**attempt)))


def _seal_or_leave_queued(conn: Connection, audited: dict[int, list[uuid.UUID]]) -> None:
    try:
        for tenant_id, event_ids in sorted(audited.items()):
            seal_committed(conn, tenant_id, event_ids)
    except (sa.exc.DBAPIError, conn.dialect.loaded_dbapi.Error):
        # The work committed: an error now would tell the caller otherwise (and a retry would post
        # twice). The events stay on the queue, which the next sealer chains, as after a crash.
        log.warning(_seal_failed, exc_info=True)


_seal_failed = "sealing after commit failed; the events stay queued for the next sealer"


def _run_work(conn: Connection, work: Callable[[Connection], T], seal: bool) -> T:
    info = conn.info
    info[AUDITED_EVENTS] = {}
    info[SEAL_IN_TRANSACTION] = seal
    try:
        return work(conn)
    finally:
        info.pop(SEAL_IN_TRANSACTION, None)
