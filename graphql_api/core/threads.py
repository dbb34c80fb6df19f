"""Database access from the event loop, which never waits on the database.

The services are synchronous SQLAlchemy (one code path for the CLI, COB workers, tests and the API).
`write` and `read` run them in worker threads, at most `database_threads_max` per event loop. The
threads share one GIL, so more of them do not run more Python; they interleave it, and a write
transaction holding row locks (a hot account's balance slot, the loan) then waits for the GIL between
its statements while other transactions wait for its locks. Under the load benchmark (16 connections,
2 workers) 4 threads per worker kept repayment throughput and cut its p99 from 128-142 ms (8 threads)
to 90-94 ms; requests beyond 4 wait in the limiter before their transaction begins, holding nothing.
Past the pool's size (10, loanbook.db) threads would also wait for a connection or open an overflow
connection that is closed again on return.

`read_statement`, for the single statements every request runs (the token, the DataLoader batches),
runs the same synchronous function inside the event loop on an AsyncEngine (psycopg's async driver)
when given one: SQLAlchemy's `run_sync` drives it through a greenlet, so there is no thread hand-off
per statement and no GIL ping-pong between the loop and a worker. Measured under the load benchmark
(README, "Benchmarks") it cut the CPU of a loan-detail request by ~2 ms, and of the raw endpoint's by
~1.5 ms. On SQLite the reader is the synchronous engine and the statement runs in a thread (aiosqlite
would run it in a thread of its own anyway).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import anyio
from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.unit_of_work import connection_lost, read_again_if_lost, read_connection, reconnect_delay, run_in_transaction

T = TypeVar("T")

# Below the engine's pool size, so a thread never waits for a connection or opens an overflow one;
# see the module docstring for why no more than this.
database_threads_max = 4
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
    """`query(conn, *args)` in one transaction on a pooled connection, in a worker thread.

    Run again on a fresh connection if the connection was lost (ledger.unit_of_work.read_again_if_lost)."""

    def work() -> T:
        with read_connection(engine) as conn:
            return query(conn, *args)

    return await to_thread.run_sync(read_again_if_lost, engine, work, limiter=database_threads())


async def read_statement(engine: Engine | AsyncEngine, query: Callable[..., T], *args: object) -> T:
    """Like `read`, for a `query` that runs exactly one statement: on PostgreSQL, without a transaction;
    on an AsyncEngine, in the event loop.

    A single statement is atomic and sees one snapshot whether or not a transaction wraps it, and
    without one it is one round trip instead of three (BEGIN, the statement, ROLLBACK on return to the
    pool). The DataLoaders' batches and the token lookup, the statements of every request, go this way.
    Multi-statement reads keep `read`: they may need a transaction (psycopg's server-side cursors do).
    """
    if isinstance(engine, AsyncEngine):
        lost_attempt = 0
        while True:
            try:
                async with engine.connect() as conn:
                    return await conn.run_sync(query, *args)
            except Exception as exc:  # a lost connection: every pooled one died with it, read again on new ones
                if not connection_lost(exc):
                    raise
                await engine.dispose()
                lost_attempt += 1
                await anyio.sleep(reconnect_delay(lost_attempt, exc))

    def work() -> T:
        with read_connection(engine) as conn:  # on SQLite: a deferred BEGIN, no write lock
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            return query(conn, *args)

    return await to_thread.run_sync(read_again_if_lost, engine, work, limiter=database_threads())


async def write(engine: Engine, work: Callable[[Connection], T]) -> T:
    """`work(conn)` in one retried transaction (ledger.unit_of_work) in a worker thread."""
    return await to_thread.run_sync(functools.partial(run_in_transaction, engine, work), limiter=database_threads())
