"""Audit digests: the head of a tenant's hash chain, handed to an auditor as `SEQ:HASH`.

Each sealed event's hash covers the event and the hash before it (ledger.audit.chain_hash), so
the hash at SEQ commits to every event up to SEQ. To prove the history up to a digest unchanged,
verify_digest recomputes the chain from the genesis hash out of the stored events: an event
edited, deleted or slipped in shows as the first link whose recomputed hash differs from the
stored one; a chain rewritten whole (every hash recomputed after an edit) still ends on a hash
that differs from the digest, and is reported so.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import errors
from ledger.audit import chain_hash, genesis_hash
from ledger.store.sealer import event_from_row
from ledger.store.tables import audit_chain, audit_chain_heads, audit_events, tenants

digest_pattern = re.compile(r"^(\d{1,18}):([0-9a-f]{64})$")


@dataclass(frozen=True, slots=True)
class Digest:
    tenant_slug: str
    seq: int
    hash: str
    sealed_at: dt.datetime | None  # None for an empty chain

    @property
    def text(self) -> str:
        return f"{self.seq}:{self.hash}"


def parse_digest(text: str) -> tuple[int, str]:
    found = digest_pattern.match((text or "").strip().lower())
    if found is None:
        raise errors.InvalidInput("a digest is SEQ:HASH, e.g. 42:<64 hex digits>", field="digest")
    return int(found.group(1)), found.group(2)


def audit_digest(conn: Connection, tenant_id: int) -> Digest:
    """The tenant's chain head now (seal pending events first to include them)."""
    head = conn.execute(sa.select(audit_chain_heads).where(audit_chain_heads.c.tenant_id == tenant_id)).one()
    slug = conn.execute(sa.select(tenants.c.slug).where(tenants.c.id == tenant_id)).scalar_one()
    sealed_at = conn.execute(
        sa.select(audit_chain.c.sealed_at).where(audit_chain.c.tenant_id == tenant_id, audit_chain.c.seq == head.last_seq)
    ).scalar()
    return Digest(slug, head.last_seq, head.last_hash, sealed_at)


def verify_digest(conn: Connection, tenant_id: int, seq: int, expected_hash: str) -> list[str]:
    """Problems with the history up to `seq` against the digest; empty when it is unchanged."""
    previous, expected_seq = genesis_hash, 1
    query = (
        sa.select(audit_chain.c.seq, audit_chain.c.prev_hash, audit_chain.c.hash, audit_events)
        .select_from(audit_chain.outerjoin(
            audit_events,
            sa.and_(audit_events.c.tenant_id == audit_chain.c.tenant_id, audit_events.c.id == audit_chain.c.event_id),
        ))
        .where(audit_chain.c.tenant_id == tenant_id, audit_chain.c.seq <= seq)
        .order_by(audit_chain.c.seq)
    )
    for row in conn.execution_options(yield_per=5000).execute(query):
        if row.seq != expected_seq:
            return [f"audit event seq {expected_seq} is missing from the chain (the next link is seq {row.seq})"]
        if row.id is None:
            return [f"audit event seq {row.seq} was deleted: its chain link points at no event"]
        recomputed = chain_hash(previous, event_from_row(row))
        if row.prev_hash != previous or recomputed != row.hash:
            return [f"audit event seq {row.seq} ({row.action} {row.entity_type} {row.entity_id}, {row.id}) differs from "
                    "the history its chain recorded"]
        previous = recomputed
        expected_seq += 1
    if expected_seq - 1 < seq:
        return [f"the chain ends at seq {expected_seq - 1}: events {expected_seq} to {seq} the digest covers are missing"]
    if previous != expected_hash:
        return [f"the history up to seq {seq} was rewritten: it hashes to {previous}, the digest says {expected_hash}"]
    return []
