"""Idempotency keys for the API's creates and decisions, through ledger.idempotency.run_once.

Money commands, receipts and manual entry requests take their keys to the same service themselves
(loans, manual_entries). Creating a borrower, a product version or an application, deciding one,
and the like hand the service the ids they return: a replay with the same request returns those
ids, a different request under the same key is IDEMPOTENCY_CONFLICT. The request is fingerprinted
together with the operation's name, as the keys recorded before the one service were.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy.engine import Connection

from ledger import idempotency
from ledger.actor import Actor
from ledger.idempotency import JsonDict, key_problem

__all__ = ["JsonDict", "key_problem", "run_once"]


def run_once(
    conn: Connection, actor: Actor, key: str | None, operation: str, request: Mapping[str, object],
    command: Callable[[Connection], JsonDict],
) -> tuple[JsonDict, bool]:
    """(what `command` returned, replayed?): `command` runs at most once per key and tenant."""
    once = idempotency.run_once(conn, actor, key, {"operation": operation, **request}, command, operation=operation)
    return once.result, once.replayed
