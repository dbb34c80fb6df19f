"""The audit trail's hash chain, as pure functions.

Each event is serialised canonically (sorted-key JSON, UTC timestamps with microseconds) and
chained: hash_n = SHA-256(hash_{n-1} || "\\n" || canonical(event_n)), with a gap-free sequence per
tenant starting at 1 after the genesis hash. Changing, removing or reordering any sealed event
changes every later hash, which `loanbook verify` recomputes.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass

from ledger.model import canonical_json, json_text

genesis_hash = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEvent:
    tenant_id: int
    id: uuid.UUID
    occurred_at: dt.datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: str | None  # canonical JSON, stored as text so what is hashed is what is stored
    after: str | None
    reason: str | None
    request_id: str | None


def utc_iso(moment: dt.datetime) -> str:
    # SQLite hands datetimes back naive; every timestamp loanbook writes is UTC.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_event(event: AuditEvent) -> str:
    """canonical_json of the event's fields, written out by hand in sorted-key order (the sealer
    pays for it once per event; a test holds it equal to `canonical_event_reference`)."""
    return (
        f'{{"action":{json_text(event.action)},"actor":{json_text(event.actor)},"after":{json_text(event.after)},'
        f'"before":{json_text(event.before)},"entity_id":{json_text(event.entity_id)},'
        f'"entity_type":{json_text(event.entity_type)},"id":"{event.id}","occurred_at":"{utc_iso(event.occurred_at)}",'
        f'"reason":{json_text(event.reason)},"request_id":{json_text(event.request_id)},"tenant_id":{int(event.tenant_id)}}}'
    )


def canonical_event_reference(event: AuditEvent) -> str:
    return canonical_json(
        {
            "tenant_id": event.tenant_id,
            "id": str(event.id),
            "occurred_at": utc_iso(event.occurred_at),
            "actor": event.actor,
            "action": event.action,
            "entity_type": event.entity_type,
            "entity_id": event.entity_id,
            "before": event.before,
            "after": event.after,
            "reason": event.reason,
            "request_id": event.request_id,
        }
    )


def chain_hash(previous_hash: str, event: AuditEvent) -> str:
    payload = previous_hash + "\n" + canonical_event(event)
    return hashlib.sha256(payload.encode()).hexdigest()
