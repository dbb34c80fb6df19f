"""Writes audit events inside the caller's transaction; the sealer chains them after commit."""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.actor import Actor
from ledger.ids import uuid7
from ledger.model import canonical_json
from ledger.store.tables import audit_events, audit_unsealed
from ledger.store.transaction import AUDITED_EVENTS


def record_events(conn: Connection, actor: Actor, events: list[dict]) -> list[uuid.UUID]:
    """Insert audit events given as dicts of action, entity_type, entity_id, before, after, reason."""
    if not events:
        return []
    rows = event_rows(actor, events)
    conn.execute(sa.insert(audit_events), rows)
    conn.execute(
        sa.insert(audit_unsealed),
        [{"tenant_id": r["tenant_id"], "event_id": r["id"], "occurred_at": r["occurred_at"]} for r in rows],
    )
    ids = [r["id"] for r in rows]
    awaiting_seal(conn, actor.tenant_id, ids)
    return ids


def event_rows(actor: Actor, events: list[dict]) -> list[dict]:
    """The `audit_events` rows for events given as dicts, with fresh ids; nothing is written."""
    return [
        {
            "tenant_id": actor.tenant_id,
            "id": uuid7(),
            "occurred_at": actor.now,
            "actor": actor.name,
            "action": event["action"],
            "entity_type": event["entity_type"],
            "entity_id": str(event["entity_id"]),
            "before": _as_json(event.get("before")),
            "after": _as_json(event.get("after")),
            "reason": event.get("reason") or actor.reason,
            "request_id": actor.request_id,
        }
        for event in events
    ]


def awaiting_seal(conn: Connection, tenant_id: int, event_ids: Iterable[uuid.UUID]) -> None:
    """Tell run_in_transaction which events to see sealed once this transaction commits."""
    conn.info.setdefault(AUDITED_EVENTS, {}).setdefault(tenant_id, []).extend(event_ids)


def record_event(
    conn: Connection,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: object,
    *,
    before: Mapping | None = None,
    after: Mapping | None = None,
    reason: str | None = None,
) -> uuid.UUID:
    event = {"action": action, "entity_type": entity_type, "entity_id": entity_id, "before": before, "after": after}
    event["reason"] = reason
    return record_events(conn, actor, [event])[0]


def _as_json(value: Mapping | str | None) -> str | None:
    """A body as canonical JSON; a str is taken to be canonical JSON already (made by hand, for speed)."""
    if value is None or isinstance(value, str):
        return value
    return canonical_json(dict(value))
