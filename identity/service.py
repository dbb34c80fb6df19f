"""Identity services: issue, revoke, list and authenticate API tokens.

Writes take a Connection inside the caller's transaction (`ledger.unit_of_work.run_in_transaction`)
and record an audit event in it, so a token exists exactly when its audit event does.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hmac
import re
import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from identity.errors import AmbiguousToken, TokenAlreadyRevoked, TokenNameTaken, UnknownToken
from identity.model import (
    ApiToken,
    IssuedToken,
    Principal,
    Role,
    check_token_name,
    looks_like_token,
    new_token_secret,
    token_hash,
    token_length_max,
    token_prefix,
    token_reference_length_min,
    token_scheme,
)
from identity.tables import api_tokens
from ledger.actor import Actor
from ledger.queries import tenant_table
from ledger.unit_of_work import record_event

# Revocation by prefix shows at most this many candidates when the prefix is ambiguous.
ambiguous_candidates_shown_max = 5


def create_token(
    conn: Connection,
    tenant_id: int,
    role: Role,
    *,
    actor_name: str,
    now: dt.datetime,
    name: str | None = None,
    expires_at: dt.datetime | None = None,
) -> IssuedToken:
    """A new token for the tenant; the secret in the result is the only copy there will ever be."""
    token_id = uuid.uuid4()
    name = check_token_name(name if name is not None else f"{role.value}-{token_id.hex[:8]}")
    taken = conn.execute(
        sa.select(api_tokens.c.id).where(api_tokens.c.tenant_id == tenant_id, api_tokens.c.name == name)
    ).first()
    if taken:
        raise TokenNameTaken(f"this tenant already has a token named {name!r}; names become actor names, so they are unique")
    secret = new_token_secret()
    token = ApiToken(tenant_id, token_id, name, role, token_prefix(secret), now, actor_name, expires_at)
    conn.execute(
        sa.insert(api_tokens).values(
            tenant_id=tenant_id, id=token_id, name=name, role=role.value, token_hash=token_hash(secret),
            token_prefix=token.token_prefix, created_at=now, created_by=actor_name, expires_at=expires_at,
        )
    )
    record_event(
        conn, Actor(tenant_id, actor_name, now), "api_token.created", "api_token", token_id,
        after=_audited_state(token),
    )
    return IssuedToken(token, secret)


def revoke_token(
    conn: Connection, reference: str, *, actor_name: str, now: dt.datetime, tenant_id: int | None = None
) -> ApiToken:
    """Revoke the one token matching `reference`: its id, an id prefix, its clear prefix or the secret itself."""
    token = find_token(conn, reference, tenant_id=tenant_id)
    if token.revoked_at is not None:
        raise TokenAlreadyRevoked(f"token {token.id} ({token.name}) was already revoked")
    conn.execute(
        sa.update(api_tokens)
        .where(api_tokens.c.tenant_id == token.tenant_id, api_tokens.c.id == token.id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=actor_name)
    )
    revoked = dataclasses.replace(token, revoked_at=now, revoked_by=actor_name)
    record_event(
        conn, Actor(token.tenant_id, actor_name, now), "api_token.revoked", "api_token", token.id,
        before=_audited_state(token), after=_audited_state(revoked),
    )
    return revoked


def find_token(conn: Connection, reference: str, *, tenant_id: int | None = None) -> ApiToken:
    """The one token `reference` names: the secret itself, a clear prefix (lb_...) or (a leading part of) its id."""
    reference = reference.strip()
    if len(reference) < token_reference_length_min or len(reference) > token_length_max:
        raise UnknownToken(
            f"a token reference is {token_reference_length_min} to {token_length_max} characters: "
            "the token id (or its first characters), the token's clear prefix, or the token itself"
        )
    if looks_like_token(reference):
        condition = api_tokens.c.token_hash == token_hash(reference)
    elif reference.startswith(token_scheme):
        condition = api_tokens.c.token_prefix.startswith(reference, autoescape=True)
    else:
        hex_prefix = reference.lower().replace("-", "")
        if not _hex_pattern.match(hex_prefix):
            raise UnknownToken(f"{_shown(reference)!r} is neither a token id nor a token prefix")
        condition = _id_prefix_condition(conn.dialect.name, hex_prefix)
    query = sa.select(api_tokens).where(condition)
    if tenant_id is not None:
        query = query.where(api_tokens.c.tenant_id == tenant_id)
    rows = conn.execute(query.order_by(api_tokens.c.created_at).limit(ambiguous_candidates_shown_max + 1)).all()
    if not rows:
        raise UnknownToken(f"no token matches {_shown(reference)!r}")
    if len(rows) > 1:
        names = ", ".join(f"{r.id} ({r.name})" for r in rows[:ambiguous_candidates_shown_max])
        raise AmbiguousToken(f"{_shown(reference)!r} matches more than one token: {names}; give more of the id")
    return _token_from_row(rows[0])


def list_tokens(conn: Connection, tenant_id: int) -> list[ApiToken]:
    rows = conn.execute(
        sa.select(api_tokens).where(api_tokens.c.tenant_id == tenant_id).order_by(api_tokens.c.created_at, api_tokens.c.name)
    )
    return [_token_from_row(row) for row in rows]


@functools.cache
def _token_query() -> sa.Select:
    # Built once: every API request runs it.
    return (
        sa.select(
            api_tokens, tenant_table.c.slug.label("tenant_slug"), tenant_table.c.name.label("tenant_name"),
            tenant_table.c.functional_currency.label("functional_currency"),
        )
        .join(tenant_table, tenant_table.c.id == api_tokens.c.tenant_id)
        .where(api_tokens.c.token_hash == sa.bindparam("digest"))
        .limit(2)
    )


def authenticate(conn: Connection, secret: str, now: dt.datetime) -> Principal | None:
    """The principal an active token acts as, or None for anything else (unknown, revoked, expired, malformed)."""
    if not looks_like_token(secret) or len(secret) > token_length_max:
        return None
    digest = token_hash(secret)
    rows = conn.execute(_token_query(), {"digest": digest}).all()
    if len(rows) != 1:
        return None
    row = rows[0]
    # The index lookup already matched; comparing again in constant time costs nothing and keeps
    # the check honest should the lookup ever become a prefix or range scan.
    if not hmac.compare_digest(row.token_hash, digest):
        return None
    token = _token_from_row(row)
    if not token.is_active(now):
        return None
    return Principal(
        row.tenant_id, row.tenant_slug, row.tenant_name, row.functional_currency, token.role, token.name, token.id
    )


_hex_pattern = re.compile(r"^[0-9a-f]{1,32}$")


def _id_prefix_condition(dialect: str, hex_prefix: str) -> sa.ColumnElement[bool]:
    if dialect == "sqlite":
        # SQLAlchemy stores a Uuid on SQLite as 32 hex characters without dashes.
        return api_tokens.c.id.cast(sa.String).like(f"{hex_prefix}%")
    if len(hex_prefix) == 32:
        return api_tokens.c.id == uuid.UUID(hex_prefix)
    dashed = "-".join(
        hex_prefix[start:end] for start, end in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32)) if hex_prefix[start:end]
    )
    return api_tokens.c.id.cast(sa.String).like(f"{dashed}%")


def _shown(reference: str) -> str:
    # Never echo a whole secret back into a terminal or log.
    return token_prefix(reference) + "..." if looks_like_token(reference) else reference


def _token_from_row(row: sa.Row) -> ApiToken:
    return ApiToken(
        tenant_id=row.tenant_id, id=row.id, name=row.name, role=Role(row.role), token_prefix=row.token_prefix,
        created_at=row.created_at, created_by=row.created_by, expires_at=row.expires_at,
        revoked_at=row.revoked_at, revoked_by=row.revoked_by,
    )


def _audited_state(token: ApiToken) -> dict:
    """What the audit trail keeps about a token: never the secret, never its hash."""
    def iso(moment: dt.datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    return {
        "name": token.name, "role": token.role.value, "token_prefix": token.token_prefix,
        "expires_at": iso(token.expires_at), "revoked_at": iso(token.revoked_at), "revoked_by": token.revoked_by,
    }
