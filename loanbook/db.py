"""Engine construction for PostgreSQL (psycopg 3) and the embedded SQLite default."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from ledger.unit_of_work import read_only_option
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

sqlite_busy_timeout_ms = 30_000


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and route them through psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo)
    # No pre-ping: it costs a round trip per transaction. A connection that died in the pool (the
    # server restarted) fails its first statement instead; the unit of work and the API's reads then
    # replace the pool, whose every connection died with it, and run again on a fresh connection
    # (ledger.unit_of_work.connection_lost).
    return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=3600, echo=echo)


def worker_engine(url: str) -> Engine:
    """The engine of a close-of-business worker process (loans.cob's engine_factory): one connection is all it uses."""
    return make_engine(url, pool_size=1)


def make_reader(engine: Engine, *, pool_size: int = 10) -> Engine | AsyncEngine:
    """What the API runs its single-statement reads on (graphql_api.core.threads.read_statement).

    On PostgreSQL an AsyncEngine on the same database (psycopg's async driver), in autocommit: it
    runs only single statements, which need no transaction. On SQLite the engine itself.
    """
    if engine.dialect.name != "postgresql":
        return engine
    return create_async_engine(
        engine.url, pool_size=pool_size, max_overflow=0, pool_recycle=3600, isolation_level="AUTOCOMMIT"
    )


def _sqlite_engine(parsed: sa.URL, *, echo: bool) -> Engine:
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the driver, open transactions, so BEGIN IMMEDIATE below takes effect.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={sqlite_busy_timeout_ms}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        # Take the write lock up front: a deferred transaction that later writes can fail with
        # SQLITE_BUSY instead of waiting, which would surface a lock error to the caller. A
        # connection from read_connection() never writes, so it begins deferred and, in WAL mode,
        # reads its snapshot while writers carry on.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(read_only_option) else "BEGIN IMMEDIATE")

    return engine


@contextlib.contextmanager
def scratch_database(admin_url: str, name: str, *, keep: bool = False) -> Iterator[str]:
    """A new PostgreSQL database on the server of `admin_url`, dropped afterwards (unless `keep`).

    For test runs and benchmarks, which each work in a database of their own. The admin engine
    holds no connection between the two statements, so nothing is inherited by forked processes.
    """
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
