"""Idempotency keys: a command runs at most once per key and tenant, whoever asks again.

`run_once(conn, actor, key, request, command, operation=...)` runs `command(conn)` in the caller's
unit of work and records, in the same transaction, the key, a hash of the request and what the
command returned (a small JSON object: the ids it made). Asked again with the same key:

- the same request returns what the first run returned, and says it is a replay; the command does
  not run again, so nothing is posted or written twice;
- a different request (another amount, another loan) or another operation is
  IDEMPOTENCY_CONFLICT, naming the operation the key was used for;
- concurrent first uses queue on the key: PostgreSQL takes a transaction-level advisory lock on
  (tenant, key) in the statement that looks (one round trip), SQLite transactions hold the write
  lock anyway. A first use that waited on the lock looked with a snapshot from before it waited, so
  it runs the command too; its insert then violates the key (declared retryable), the unit of work
  runs it again, and this time it finds the first run's row and replays.

One key space per tenant for every command: loans' money commands, suspense receipts, manual entry
requests and the API's creates all use it. A key is 1 to 200 characters.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import errors
from ledger.actor import Actor
from ledger.model import canonical_json
from ledger.store.tables import idempotency_keys

key_length_max = 200
operation_length_max = 100

JsonDict = dict[str, object]


class Once(NamedTuple):
    """What the command returned (now or the first time), and whether this was a replay."""

    result: JsonDict
    replayed: bool


def key_problem(key: str | None) -> str | None:
    """Why an idempotency key is unusable, or None (no key is fine: the command then just runs)."""
    if key is not None and not 0 < len(key) <= key_length_max:
        return f"idempotencyKey must be 1 to {key_length_max} characters"
    return None


def request_hash(request: Mapping[str, object]) -> str:
    """The fingerprint of a request: sha256 of its canonical JSON."""
    return hashlib.sha256(canonical_json(dict(request)).encode()).hexdigest()


def run_once(
    conn: Connection,
    actor: Actor,
    key: str | None,
    request: Mapping[str, object] | str,
    command: Callable[[Connection], JsonDict],
    *,
    operation: str,
) -> Once:
    """`command(conn)` once per (tenant, key): a repeat of the same request returns the first result.

    `request` is what identifies the command's input: a mapping (canonical-JSON-able: ids as text,
    amounts in minor units, dates in ISO form) whose request_hash is compared, or that fingerprint
    itself where the domain has its own (a journal entry's request hash). `operation` names the
    command (REPAYMENT, createBorrower). Without a key the command simply runs.
    """
    if key is None:
        return Once(command(conn), False)
    problem = key_problem(key)
    if problem is not None:
        raise errors.InvalidInput(problem, field="idempotencyKey")
    assert 0 < len(operation) <= operation_length_max, operation
    digest = request if isinstance(request, str) else request_hash(request)
    earlier = find(conn, actor, key, operation, digest)
    if earlier is not None:
        return Once(earlier, True)
    result = command(conn)
    conn.execute(_insert_statement, {
        "tenant_id": actor.tenant_id, "key": key, "operation": operation, "request_hash": digest,
        "result": canonical_json(result), "actor": actor.name, "recorded_at": actor.now,
    })
    return Once(result, False)


def find(conn: Connection, actor: Actor, key: str, operation: str, digest: str) -> JsonDict | None:
    """What the first run under `key` returned, or None; IdempotencyConflict if it was asked something else.

    On PostgreSQL the (tenant, key) lock is taken by the same statement and held to the end of the
    transaction, so a concurrent first use of the key waits for this one to commit.
    """
    params = {"tenant_id": actor.tenant_id, "key": key}
    if conn.dialect.name == "postgresql":
        row = conn.execute(_locked_find_statement, {**params, "lock": _lock_id(actor.tenant_id, key)}).first()
    else:
        row = conn.execute(_find_statement, params).first()
    if row is None:
        return None
    if row.operation != operation or row.request_hash != digest:
        raise errors.IdempotencyConflict(
            f"idempotency key {key!r} was already used for a different request ({row.operation})"
        )
    return json.loads(row.result)


_insert_statement = sa.insert(idempotency_keys)  # built once: composing it per call costs more than running it
_find_statement = sa.select(idempotency_keys.c.operation, idempotency_keys.c.request_hash, idempotency_keys.c.result).where(
    idempotency_keys.c.tenant_id == sa.bindparam("tenant_id"), idempotency_keys.c.key == sa.bindparam("key")
)


_locked_find_statement = sa.text(
    "WITH locked AS MATERIALIZED (SELECT pg_advisory_xact_lock(:lock)) "
    "SELECT k.operation, k.request_hash, k.result FROM locked, idempotency_keys AS k "
    "WHERE k.tenant_id = :tenant_id AND k.key = :key"
)


def _lock_id(tenant_id: int, key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"idempotency:{tenant_id}:{key}".encode()).digest()[:8], "big", signed=True)
