"""Seals committed audit events into the per-tenant hash chain, one sealer at a time per tenant.

Writers insert events and a row in `audit_unsealed` inside their own transaction, so posting never
waits on the chain. Right after commit the writer tries to become the tenant's sealer (a row lock
on `audit_chain_heads`, SKIP LOCKED) and does not return until its own events are sealed, by itself
or by the sealer that held the lock: no committed event escapes the chain, and posters never queue
behind one another for it.
"""
from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.audit import AuditEvent, chain_hash
from ledger.store.tables import audit_chain, audit_chain_heads, audit_events, audit_unsealed

seal_batch_max = 5000


def seal_pending(engine: Engine, tenant_id: int) -> int:
    """Seal every pending event of the tenant, waiting for the lock; returns how many were sealed."""
    sealed_total = 0
    while True:
        sealed, _ = _seal_batch(engine, tenant_id, wait=True)
        sealed_total += sealed
        if sealed < seal_batch_max:
            return sealed_total


def seal_after_commit(engine: Engine, tenant_id: int, event_ids: Collection[uuid.UUID]) -> None:
    """Make sure the events a transaction just committed are sealed, without queueing on the lock.

    If we get the lock, one batch seals everything committed before it started, ours included. If
    another sealer holds it, our events are either in its batch or will be in the next one; we
    look again shortly and try for the lock ourselves, so we never leave with our events unsealed.
    """
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
        rows = conn.execute(
            sa.select(audit_events)
            .join(
                audit_unsealed,
                sa.and_(
                    audit_unsealed.c.tenant_id == audit_events.c.tenant_id,
                    audit_unsealed.c.event_id == audit_events.c.id,
                ),
            )
            .where(audit_unsealed.c.tenant_id == tenant_id)
            .order_by(audit_unsealed.c.occurred_at, audit_unsealed.c.event_id)
            .limit(seal_batch_max)
        ).all()
        if not rows:
            return 0, True
        now = dt.datetime.now(dt.timezone.utc)
        seq, previous = head.last_seq, head.last_hash
        links = []
        for row in rows:
            seq += 1
            digest = chain_hash(previous, event_from_row(row))
            links.append(
                {"tenant_id": tenant_id, "seq": seq, "event_id": row.id, "prev_hash": previous, "hash": digest, "sealed_at": now}
            )
            previous = digest
        conn.execute(sa.insert(audit_chain), links)
        conn.execute(
            sa.delete(audit_unsealed).where(
                audit_unsealed.c.tenant_id == tenant_id, audit_unsealed.c.event_id.in_([r.id for r in rows])
            )
        )
        conn.execute(
            sa.update(audit_chain_heads)
            .where(audit_chain_heads.c.tenant_id == tenant_id)
            .values(last_seq=seq, last_hash=previous)
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
