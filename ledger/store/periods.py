"""The period lock: closures of a tenant's books, and how postings are kept out of closed periods.

On PostgreSQL the posting statement (ledger.store.journal) calls `ledger_period_open(tenant,
earliest)` (migration 0016), so the check costs no round trip of its own. The function first takes
the tenant's period lock shared (held to commit), then reads the closures: being VOLATILE and
PL/pgSQL, its query takes a fresh snapshot after the lock is granted. A close takes the same lock
exclusively (lock_for_close), so it waits for every posting in flight to commit, and postings that
come while it runs wait for it; when they go on, their fresh snapshot shows the closure (the lock
is released after the commit is visible). Without the fresh snapshot, a posting statement that
started just before a close committed could still read the books as open.

SQLite runs one writer at a time: the portable path reads the closure in the same transaction.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.store.tables import period_closures

# The first key of the tenant's period lock, "LP" (two-key advisory locks never meet the one-key ones
# accounts use; the sealer's class is "LB"); the second is the tenant id. The SQL function spells it.
period_lock_class = 0x4C50

period_open_function = """
CREATE OR REPLACE FUNCTION ledger_period_open(p_tenant bigint, p_earliest date) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    closed date;
BEGIN
    IF p_earliest IS NULL THEN
        RETURN true;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(19536, p_tenant::integer);
    SELECT c.through_date INTO closed FROM period_closures AS c
    WHERE c.tenant_id = p_tenant AND c.reopened_at IS NULL ORDER BY c.seq DESC LIMIT 1;
    RETURN closed IS NULL OR p_earliest > closed;
END
$$
"""

period_open_sql = "ledger_period_open(%(tenant)s::bigint, %(earliest)s::date)"


def lock_for_close(conn: Connection, tenant_id: int) -> None:
    """On PostgreSQL, wait for the tenant's postings in flight and keep new ones out until commit."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:class, :tenant)"), {"class": period_lock_class, "tenant": tenant_id})


def closed_through(conn: Connection, tenant_id: int) -> dt.date | None:
    """The date the tenant's books are closed through (None: never closed, or every closure reopened)."""
    return conn.execute(
        sa.select(period_closures.c.through_date)
        .where(period_closures.c.tenant_id == tenant_id, period_closures.c.reopened_at.is_(None))
        .order_by(period_closures.c.seq.desc())
        .limit(1)
    ).scalar()


def check_open(conn: Connection, tenant_id: int, earliest: dt.date | None) -> bool:
    """Whether an entry dated `earliest` may post; on PostgreSQL through the same function (and lock)."""
    if earliest is None:
        return True
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        return bool(driver.execute(f"SELECT {period_open_sql}", {"tenant": tenant_id, "earliest": earliest}).fetchone()[0])
    through = closed_through(conn, tenant_id)
    return through is None or earliest > through
