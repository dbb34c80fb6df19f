"""Seals committed audit events into the per-tenant hash chain, one sealer at a time per tenant.

Writers insert events and a row in `audit_unsealed` inside their own transaction. No committed
event escapes the chain: run_in_transaction does not return until the events it wrote are sealed
(or sealing after its commit failed: the events then wait on the queue for the next sealer).

On PostgreSQL the sealer role is an advisory lock per tenant (in memory: taking it writes nothing).
The posting statement *tries* for it (never waits, so posting never queues on the chain); if it
gets it, the same transaction chains the queue, its own events included, and they commit sealed.
Otherwise the writer commits, then tries again; while another sealer runs it waits for it to finish
(a shared lock, held by all waiters at once and only for an instant), looks whether its events were
in that batch and, if not, tries once more, queueing for the lock after a few lost races. Every
read of the queue and the head takes its snapshot after the lock was granted, so a batch never
holds an already sealed event.
Other databases (SQLite) serialise writers anyway: there a plain transaction is the lock.

Sealing may instead be left to a background sealer (`loanbook seal --follow`, or the thread
`loanbook serve` starts with LOANBOOK_SEAL_MODE=background), as Blnk does: an engine registered
with `seal_in_background` commits without waiting, and the sealer chains the queue within its poll
interval. The queue row commits with the event, so no committed event escapes the chain either way.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Collection, Iterator, Sequence

import orjson
import sqlalchemy as sa
from psycopg.rows import namedtuple_row
from sqlalchemy.engine import Connection, Engine

from ledger.audit import AuditEvent, chain_hash
from ledger.store.tables import audit_chain, audit_chain_heads, audit_events, audit_unsealed

log = logging.getLogger(__name__)

seal_batch_max = 5000
# First key of the two-key advisory lock; the second is the tenant id.
chain_lock_class = 0x4C42  # "LB"


def seal_pending(engine: Engine, tenant_id: int) -> int:
    """Seal every pending event of the tenant, waiting for the lock; returns how many were sealed."""
    sealed_total = 0
    with engine.connect() as conn:
        while True:
            if engine.dialect.name == "postgresql":
                return _pg_seal_pending(conn.connection.driver_connection, tenant_id)
            sealed, _ = _seal_batch(engine, tenant_id, wait=True)
            sealed_total += sealed
            if sealed < seal_batch_max:
                return sealed_total


def seal_committed(conn: Connection, tenant_id: int, event_ids: Collection[uuid.UUID]) -> None:
    """Make sure the events a transaction just committed on `conn` are sealed before returning.

    On PostgreSQL see the module docstring; on SQLite we poll until our events leave the queue.
    """
    if conn.dialect.name == "postgresql":
        _pg_seal_committed(conn.connection.driver_connection, tenant_id, list(event_ids))
    else:
        _generic_seal_after_commit(conn.engine, tenant_id, event_ids)


# --- background sealing --------------------------------------------------------------------------

_sealed_in_background: weakref.WeakSet[Engine] = weakref.WeakSet()


def seal_in_background(engine: Engine) -> None:
    """From now on run_in_transaction on this engine commits without sealing: a sealer follows."""
    _sealed_in_background.add(engine)


def sealed_in_background(engine: Engine) -> bool:
    return engine in _sealed_in_background


@contextlib.contextmanager
def sealing_deferred(engine: Engine) -> Iterator[None]:
    """Within the block, units of work on `engine` commit without sealing; leaving it seals the queue.

    For a batch job of many small transactions (the demo book): the chain grows by one batch per
    tenant at the end instead of one after every commit. Should the block fail, what it committed
    waits on the queue for the next sealer, as after any failed seal.
    """
    registered = engine in _sealed_in_background
    _sealed_in_background.add(engine)
    try:
        yield
    finally:
        if not registered:
            _sealed_in_background.discard(engine)
    seal_all_pending(engine)


def seal_all_pending(engine: Engine) -> int:
    """One pass over every tenant with pending events; returns how many events were sealed."""
    with engine.connect() as conn:
        tenant_ids = list(conn.execute(sa.select(audit_unsealed.c.tenant_id).distinct()).scalars())
        conn.rollback()
    return sum(seal_pending(engine, tenant_id) for tenant_id in sorted(tenant_ids))


# How long a following sealer lets the queue fill after a pass that found less than a full batch.
default_interval = dt.timedelta(milliseconds=20)


def follow(engine: Engine, stop: threading.Event, *, interval: dt.timedelta = default_interval) -> int:
    """Seal every tenant's queue until `stop` is set, a pass every `interval` unless one finds a full batch.

    Returns the number of events sealed. A failed pass (the database restarting, say) is logged
    and tried again after a pause: the queue keeps what was not sealed.
    """
    sealed_total = 0
    while not stop.is_set():
        try:
            sealed = seal_all_pending(engine)
        except (sa.exc.DBAPIError, engine.dialect.loaded_dbapi.Error):  # the PostgreSQL passes use the driver directly
            log.exception("sealing pass failed; trying again")
            stop.wait(1.0)
            continue
        sealed_total += sealed
        if sealed < seal_batch_max:
            # Caught up: let the queue fill for one interval. Going straight back would seal a few
            # events per pass, paying each pass's fixed statements for them, and keep a core busy.
            stop.wait(interval.total_seconds())
    sealed_total += seal_all_pending(engine)  # what committed before we were stopped
    return sealed_total


class BackgroundSealer:
    """A thread following the queue for an engine registered with seal_in_background."""

    def __init__(self, engine: Engine, *, interval: dt.timedelta = default_interval) -> None:
        self.engine, self.interval = engine, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loanbook-sealer", daemon=True)
        self.sealed = 0

    def _run(self) -> None:
        self.sealed = follow(self.engine, self._stop, interval=self.interval)

    def start(self) -> BackgroundSealer:
        seal_in_background(self.engine)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        _sealed_in_background.discard(self.engine)


# --- PostgreSQL -----------------------------------------------------------------------------------

# The queue is read in chain order, then each event fetched by primary key: the inner LIMIT 1
# keeps the planner from turning the lookup into a scan of the tenant's whole audit history.
_pending_sql = """
SELECT h.last_seq, h.last_hash, e.*
FROM audit_chain_heads AS h
LEFT JOIN LATERAL (
    SELECT a.* FROM (
        SELECT u.event_id, u.occurred_at FROM audit_unsealed AS u
        WHERE u.tenant_id = h.tenant_id ORDER BY u.occurred_at, u.event_id LIMIT %(limit)s
    ) AS q
    CROSS JOIN LATERAL (
        SELECT * FROM audit_events AS ev WHERE ev.tenant_id = h.tenant_id AND ev.id = q.event_id LIMIT 1
    ) AS a
) AS e ON true
WHERE h.tenant_id = %(tenant)s
ORDER BY e.occurred_at, e.id
"""

# Links travel as JSON like the journal rows (see ledger.store.journal): one parameter, any size.
_link_sql = """
WITH links AS (
    SELECT r.seq, r.event_id, r.prev_hash, r.hash
    FROM json_populate_recordset(NULL::audit_chain, %(links)s::json) AS r
), chained AS (
    INSERT INTO audit_chain (tenant_id, seq, event_id, prev_hash, hash, sealed_at)
    SELECT %(tenant)s, seq, event_id, prev_hash, hash, %(now)s FROM links
), drained AS (
    DELETE FROM audit_unsealed WHERE tenant_id = %(tenant)s AND event_id IN (SELECT event_id FROM links)
)
UPDATE audit_chain_heads SET last_seq = %(last_seq)s, last_hash = %(last_hash)s WHERE tenant_id = %(tenant)s
"""

# After commit the connection runs in autocommit with a session-level lock on the same key: each
# statement is its own transaction with a fresh snapshot, the link write is one atomic statement,
# and no BEGIN or COMMIT round trips are spent. Waiting for a running sealer takes the lock shared
# and drops it within one statement, so waiters never hold it while a client round trip runs.
_try_session_lock_sql = "SELECT pg_try_advisory_lock(%s, %s)"
_session_lock_sql = "SELECT pg_advisory_lock(%s, %s)"
_session_unlock_sql = "SELECT pg_advisory_unlock(%s, %s)"
_wait_for_sealer_sql = """
WITH waited AS MATERIALIZED (SELECT pg_advisory_lock_shared(%(class)s, %(tenant)s))
SELECT pg_advisory_unlock_shared(%(class)s, %(tenant)s) FROM waited
"""
_still_pending_sql = "SELECT EXISTS (SELECT 1 FROM audit_unsealed WHERE tenant_id = %s AND event_id = ANY(%s::uuid[]))"
# After this many lost races for the lock, queue for it instead: progress is then guaranteed.
seal_attempts_max = 3


def try_lock_sql(tenant_param: str) -> str:
    """SQL for a posting statement to try for the sealer lock; `tenant_param` names its tenant parameter."""
    return f"pg_try_advisory_xact_lock({chain_lock_class}, %({tenant_param})s)"


def seal_in_transaction(conn: Connection, tenant_id: int) -> list[uuid.UUID]:
    """Chain every pending event, our own uncommitted ones included, in a transaction holding the lock.

    The posting statement took the lock (try_lock_sql), so every read here has a snapshot taken
    after it was granted. Returns the ids chained; they are sealed when this transaction commits.
    """
    raw = conn.connection.driver_connection
    sealed: list[uuid.UUID] = []
    while True:
        ids = _pg_chain_pending(raw, tenant_id)
        sealed.extend(ids)
        if len(ids) < seal_batch_max:
            return sealed


def _pg_seal_committed(raw, tenant_id: int, event_ids: list[uuid.UUID]) -> None:  # type: ignore[no-untyped-def]
    """Seal our committed events: as the sealer if the lock is free, else after the running sealer."""
    with autocommit(raw):
        for _ in range(seal_attempts_max):
            if raw.execute(_try_session_lock_sql, (chain_lock_class, tenant_id)).fetchone()[0]:
                _pg_drain_queue(raw, tenant_id)
                return
            # Another sealer is running: wait for it, then see whether its batch held our events.
            raw.execute(_wait_for_sealer_sql, {"class": chain_lock_class, "tenant": tenant_id})
            if not raw.execute(_still_pending_sql, (tenant_id, event_ids)).fetchone()[0]:
                return
        raw.execute(_session_lock_sql, (chain_lock_class, tenant_id))
        _pg_drain_queue(raw, tenant_id)


def _pg_seal_pending(raw, tenant_id: int) -> int:  # type: ignore[no-untyped-def]
    with autocommit(raw):
        raw.execute(_session_lock_sql, (chain_lock_class, tenant_id))
        return _pg_drain_queue(raw, tenant_id)


def _pg_drain_queue(raw, tenant_id: int) -> int:  # type: ignore[no-untyped-def]
    """Seal the whole queue in batches, then release the session lock the caller took."""
    assert 0 < tenant_id < 2**31, tenant_id
    sealed_total = 0
    try:
        while True:
            sealed = len(_pg_chain_pending(raw, tenant_id))
            sealed_total += sealed
            if sealed < seal_batch_max:
                return sealed_total
    finally:
        raw.execute(_session_unlock_sql, (chain_lock_class, tenant_id))


@contextlib.contextmanager
def autocommit(raw) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """A psycopg connection in autocommit for the block, then back as it was (as SQLAlchemy's pool
    expects it)."""
    if raw.autocommit:
        yield
        return
    raw.autocommit = True
    try:
        yield
    finally:
        if not raw.closed:
            raw.autocommit = False  # the pool hands it back to SQLAlchemy, which manages transactions


def _pg_chain_pending(raw, tenant_id: int) -> list[uuid.UUID]:  # type: ignore[no-untyped-def]
    """Chain up to seal_batch_max pending events; the caller holds the sealer lock."""
    with raw.cursor(row_factory=namedtuple_row) as cursor:
        rows = cursor.execute(_pending_sql, {"tenant": tenant_id, "limit": seal_batch_max}).fetchall()
    if not rows or rows[0].id is None:
        return []
    last_seq, links = _chain(rows[0].last_seq, rows[0].last_hash, rows)
    params = {
        "tenant": tenant_id, "now": dt.datetime.now(dt.timezone.utc),
        "links": _links_json([{"seq": s, "event_id": str(i), "prev_hash": p, "hash": h} for s, i, p, h in links]),
        "last_seq": last_seq, "last_hash": links[-1][3],
    }
    raw.execute(_link_sql, params)
    return [link[1] for link in links]


def _links_json(links: list[dict]) -> str:
    return orjson.dumps(links).decode()


def _chain(last_seq: int, last_hash: str, rows: Sequence) -> tuple[int, list[tuple[int, uuid.UUID, str, str]]]:
    """(seq, event id, previous hash, hash) for each row, in order, continuing from the head."""
    seq, previous, links = last_seq, last_hash, []
    for row in rows:
        seq += 1
        digest = chain_hash(previous, event_from_row(row))
        links.append((seq, row.id, previous, digest))
        previous = digest
    return seq, links


# --- other databases ------------------------------------------------------------------------------


def _generic_seal_after_commit(engine: Engine, tenant_id: int, event_ids: Collection[uuid.UUID]) -> None:
    pause = 0.0002
    while True:
        sealed, got_lock = _seal_batch(engine, tenant_id, wait=False)
        if got_lock and sealed < seal_batch_max:
            return
        if got_lock:
            continue
        if not _any_pending(engine, tenant_id, event_ids):
            return
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


def _any_pending(engine: Engine, tenant_id: int, event_ids: Collection[uuid.UUID]) -> bool:
    ids = list(event_ids)
    with engine.connect() as conn:
        for start in range(0, len(ids), 1000):
            found = conn.execute(
                sa.select(audit_unsealed.c.event_id)
                .where(audit_unsealed.c.tenant_id == tenant_id, audit_unsealed.c.event_id.in_(ids[start : start + 1000]))
                .limit(1)
            ).first()
            if found is not None:
                conn.rollback()
                return True
        conn.rollback()
    return False


def _seal_batch(engine: Engine, tenant_id: int, *, wait: bool) -> tuple[int, bool]:
    with engine.begin() as conn:
        head = conn.execute(
            sa.select(audit_chain_heads.c.last_seq, audit_chain_heads.c.last_hash)
            .where(audit_chain_heads.c.tenant_id == tenant_id)
            .with_for_update(skip_locked=not wait)
        ).first()
        if head is None:
            return 0, False
        queue = (
            sa.select(audit_unsealed.c.event_id, audit_unsealed.c.occurred_at)
            .where(audit_unsealed.c.tenant_id == tenant_id)
            .order_by(audit_unsealed.c.occurred_at, audit_unsealed.c.event_id)
            .limit(seal_batch_max)
            .subquery()
        )
        rows = conn.execute(
            sa.select(audit_events)
            .join(queue, sa.and_(audit_events.c.tenant_id == tenant_id, audit_events.c.id == queue.c.event_id))
            .order_by(queue.c.occurred_at, queue.c.event_id)
        ).all()
        if not rows:
            return 0, True
        seq, links = _chain(head.last_seq, head.last_hash, rows)
        now = dt.datetime.now(dt.timezone.utc)
        conn.execute(
            sa.insert(audit_chain),
            [{"tenant_id": tenant_id, "seq": s, "event_id": i, "prev_hash": p, "hash": h, "sealed_at": now} for s, i, p, h in links],
        )
        conn.execute(
            sa.delete(audit_unsealed).where(
                audit_unsealed.c.tenant_id == tenant_id, audit_unsealed.c.event_id.in_([r.id for r in rows])
            )
        )
        conn.execute(
            sa.update(audit_chain_heads).where(audit_chain_heads.c.tenant_id == tenant_id).values(last_seq=seq, last_hash=links[-1][3])
        )
        return len(rows), True


def event_from_row(row: sa.Row) -> AuditEvent:
    return AuditEvent(
        tenant_id=row.tenant_id,
        id=row.id,
        occurred_at=row.occurred_at,
        actor=row.actor,
        action=row.action,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        before=row.before,
        after=row.after,
        reason=row.reason,
        request_id=row.request_id,
    )
