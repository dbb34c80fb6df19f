"""Idempotency keys for mutations whose domain command keeps none of its own.

Money commands (loans.service) and journal entries store their keys with what they wrote. Creating
a borrower, a product version or an application, and deciding one, do not; for those the API
records the key in the audit log, in the same transaction as the command: an `api.idempotent_request`
event on entity ("idempotency_key", sha256 of the key) holding a hash of the request and the ids the
command returned. A replay with the same request returns those ids; a different request under the
same key is IDEMPOTENCY_CONFLICT. The audit log is append-only and sealed, which is what a record
of "this was already done" needs; an auditor also sees which requests were retried.

Concurrent first uses of one key are serialised: SQLite transactions already hold the write lock
(BEGIN IMMEDIATE); on PostgreSQL a transaction-scoped advisory lock on (tenant, key) does it.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import errors as ledger_errors
from ledger.actor import Actor
from ledger.model import canonical_json
from ledger.store.audit_log import record_event
from ledger.store.tables import audit_events

idempotency_key_length_max = 200  # the money commands' column holds 200 characters
key_entity_type = "idempotency_key"
replay_action = "api.idempotent_request"

JsonDict = dict[str, object]


def key_problem(key: str | None) -> str | None:
    """Why an idempotency key is unusable, or None."""
    if key is not None and not 0 < len(key) <= idempotency_key_length_max:
        return f"idempotencyKey must be 1 to {idempotency_key_length_max} characters"
    return None


def run_once(
    conn: Connection, actor: Actor, key: str | None, operation: str, request: Mapping[str, object],
    command: Callable[[Connection], JsonDict],
) -> tuple[JsonDict, bool]:
    """(what `command` returned, replayed?): `command` runs at most once per key and tenant."""
    if key is None:
        return command(conn), False
    earlier = find_replay(conn, actor, key, operation, request)
    if earlier is not None:
        return earlier, True
    result = command(conn)
    remember(conn, actor, key, operation, request, result)
    return result, False


def find_replay(conn: Connection, actor: Actor, key: str, operation: str, request: Mapping[str, object]) -> JsonDict | None:
    """What the first request under `key` returned; IdempotencyConflict if it asked for something else."""
    digest = _digest(key)
    if conn.dialect.name == "postgresql":
        lock = int.from_bytes(hashlib.sha256(f"{actor.tenant_id}:{digest}".encode()).digest()[:8], "big", signed=True)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock})
    earlier = conn.execute(
        sa.select(audit_events.c.after).where(
            audit_events.c.tenant_id == actor.tenant_id,
            audit_events.c.entity_type == key_entity_type,
            audit_events.c.entity_id == digest,
            audit_events.c.action == replay_action,
        ).limit(1)
    ).scalar()
    if earlier is None:
        return None
    recorded = json.loads(earlier)
    if recorded["request"] != _fingerprint(operation, request):
        raise ledger_errors.IdempotencyConflict(f"idempotency key {key!r} was already used for a different request")
    return recorded["result"]


def remember(conn: Connection, actor: Actor, key: str, operation: str, request: Mapping[str, object], result: JsonDict) -> None:
    record_event(
        conn, actor, replay_action, key_entity_type, _digest(key),
        after={"key": key, "operation": operation, "request": _fingerprint(operation, request), "result": result},
    )


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _fingerprint(operation: str, request: Mapping[str, object]) -> str:
    return hashlib.sha256(canonical_json({"operation": operation, **request}).encode()).hexdigest()
