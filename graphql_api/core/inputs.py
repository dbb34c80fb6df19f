"""Checks a mutation input passes before any domain command runs.

A malformed id, key or reason is the client's mistake about one field: the mutation returns an
`InvalidInputError` naming that field (raise `RefusedInput`, catch it at the resolver's top).
"""
from __future__ import annotations

import uuid

from graphql_api.core import error_types as e
from graphql_api.core.errors import BadUserInput
from graphql_api.core.idempotency import key_problem
from graphql_api.core.scalars import decode_id

reason_length_max = 500  # audit_events.reason


class RefusedInput(Exception):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.result = e.invalid_input(message, field)


def input_id(kind: str, text: str, field: str) -> uuid.UUID:
    try:
        return decode_id(kind, text)
    except BadUserInput as exc:
        raise RefusedInput(exc.message, field) from None


def input_key(key: str | None) -> str | None:
    problem = key_problem(key)
    if problem is not None:
        raise RefusedInput(problem, "idempotencyKey")
    return key


def input_reason(reason: str | None, *, required: bool = False) -> str | None:
    text = None if reason is None else reason.strip()
    if (required and not text) or (text is not None and len(text) > reason_length_max):
        raise RefusedInput(f"reason must be {'1' if required else '0'} to {reason_length_max} characters", "reason")
    return text or None
