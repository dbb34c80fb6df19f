"""Run the synchronous SQLAlchemy services in worker threads so the event loop never waits on the database.

At most `database_threads_max` threads per event loop hold a connection at once. More would not run
faster on a small machine, and past the pool's size (10, loanbook.db) they waited for a connection or
opened an overflow connection that was closed again on return: under 16 concurrent requests that was a
PostgreSQL backend forked and torn down for every other request.

Why threads and not an AsyncEngine: measured on the loan-detail statements (README, "Benchmarks"),
SQLAlchemy's asyncio engine over psycopg's async driver used as much CPU per request as these threads,
and it would split every service into a sync and an async twin; the services stay synchronous and
testable without an event loop.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from sqlalchemy.engine import Connection, Engine

from ledger.store.transaction import run_in_transaction

T = TypeVar("T")

# Below the engine's pool size, so a thread never waits for a connection or opens an overflow one.
database_threads_max = 8
_limiter: RunVar[CapacityLimiter] = RunVar("loanbook_database_threads")


def database_threads() -> CapacityLimiter:
    """The limiter of this event loop (tests run several loops, one after another)."""
    try:
        return _limiter.get()
    except LookupError:
        limiter = CapacityLimiter(database_threads_max)
        _limiter.set(limiter)
        return limiter


async def read(engine: Engine, query: Callable[..., T], *args: object) -> T:
    """`query(conn, *args)` in one transaction on a pooled connection, in a worker thread."""

    def work() -> T:
        with engine.connect() as conn:
            return query(conn, *args)

    return await to_thread.run_sync(work, limiter=database_threads())


async def read_statement(engine: Engine, query: Callable[..., T], *args: object) -> T:
    """Like `read`, for a `query` that runs exactly one statement: on PostgreSQL, without a transaction.

    A single statement is atomic and sees one snapshot whether or not a transaction wraps it, and
    without one it is one round trip instead of three (BEGIN, the statement, ROLLBACK on return to the
    pool). The DataLoaders' batches and the token lookup, the statements of every request, go this way.
    Multi-statement reads keep `read`: they may need a transaction (psycopg's server-side cursors do).
    """

    def work() -> T:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            return query(conn, *args)

    return await to_thread.run_sync(work, limiter=database_threads())


async def write(engine: Engine, work: Callable[[Connection], T]) -> T:
    """`work(conn)` in one retried transaction (ledger.store.transaction) in a worker thread."""
    return await to_thread.run_sync(functools.partial(run_in_transaction, engine, work), limiter=database_threads())
