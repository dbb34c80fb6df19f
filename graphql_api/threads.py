"""Run the synchronous SQLAlchemy services in worker threads so the event loop never waits on the database."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from anyio import to_thread
from sqlalchemy.engine import Connection, Engine

from ledger.store.transaction import run_in_transaction
from loanbook.db import read_connection

T = TypeVar("T")


async def read(engine: Engine, query: Callable[..., T], *args: object) -> T:
    """`query(conn, *args)` on a fresh connection in a worker thread."""

    def work() -> T:
        with read_connection(engine) as conn:
            return query(conn, *args)

    return await to_thread.run_sync(work)


async def write(engine: Engine, work: Callable[[Connection], T]) -> T:
    """`work(conn)` in one retried transaction (ledger.store.transaction) in a worker thread."""
    return await to_thread.run_sync(functools.partial(run_in_transaction, engine, work))
