"""The rows of audit events (ledger.unit_of_work.record_events writes them; the sealer chains them)."""
from __future__ import annotations

from collections.abc import Mapping

from ledger.actor import Actor
from ledger.ids import uuid7
from ledger.model import canonical_json


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


def _as_json(value: Mapping | str | None) -> str | None:
    """A body as canonical JSON; a str is taken to be canonical JSON already (made by hand, for speed)."""
    if value is None or isinstance(value, str):
        return value
    return canonical_json(dict(value))
