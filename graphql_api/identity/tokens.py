"""API tokens (apiTokens, createApiToken, revokeApiToken), so a back office is run from the API alone.

Tokens are admins' only. A token's secret is shown once, in the createApiToken payload: only its hash
is stored, so an idempotent replay returns the token without it. Every change writes its audit event
in the same transaction (identity.service); the idempotency record holds ids, never a secret.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Union

import sqlalchemy as sa
import strawberry
from strawberry.types import Info

from graphql_api.core import error_types as e
from graphql_api.core.idempotency import run_once
from graphql_api.core.inputs import RefusedInput, input_id, input_key, input_reason
from graphql_api.core.scalars import check_page_size, decode_time_cursor, encode_id, encode_time_cursor, utc
from graphql_api.core.threads import read, write
from graphql_api.core.types import Connection, RoleEnum, connection
from identity import service as identity_service
from identity.errors import IdentityError
from identity.model import ApiToken as DomainToken
from identity.model import Role
from ledger import errors as ledger_errors

tokens_page_size_default = 50
tokens_page_size_max = 100
token_lifetime_days_max = 3650


@strawberry.type(name="ApiToken", description="A person's or a system's access: one tenant, one role. The secret is never stored.")
class ApiTokenType:
    token: strawberry.Private[DomainToken]

    @strawberry.field(description="Opaque id; pass it to revokeApiToken.")
    def id(self) -> strawberry.ID:
        return encode_id("ApiToken", self.token.id)

    @strawberry.field(description="Unique per tenant; it is the actor name written into journals and audit events.")
    def name(self) -> str:
        return self.token.name

    @strawberry.field
    def role(self) -> RoleEnum:  # type: ignore[valid-type]
        return RoleEnum[self.token.role.name]

    @strawberry.field(description="The first characters of the secret (lb_...), to recognise it; not enough to use it.")
    def token_prefix(self) -> str:
        return self.token.token_prefix

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return utc(self.token.created_at)

    @strawberry.field
    def created_by(self) -> str:
        return self.token.created_by

    @strawberry.field
    def expires_at(self) -> dt.datetime | None:
        return None if self.token.expires_at is None else utc(self.token.expires_at)

    @strawberry.field
    def revoked_at(self) -> dt.datetime | None:
        return None if self.token.revoked_at is None else utc(self.token.revoked_at)

    @strawberry.field
    def revoked_by(self) -> str | None:
        return self.token.revoked_by

    @strawberry.field(description="Neither revoked nor expired.")
    def active(self, info: Info) -> bool:
        return self.token.is_active(info.context.clock())


# --- errors: identity's own codes, typed like the ledger's -----------------------------------------

UnknownTokenError = e._plain_error("UnknownTokenError", "UNKNOWN_TOKEN: no token with this id in your tenant.")
TokenNameTakenError = e._plain_error("TokenNameTakenError", "TOKEN_NAME_TAKEN: names become actor names, so they are unique per tenant.")
InvalidTokenNameError = e._plain_error("InvalidTokenNameError", "INVALID_TOKEN_NAME: 1-100 letters, digits, dots, dashes, underscores or @.")
TokenAlreadyRevokedError = e._plain_error("TokenAlreadyRevokedError", "TOKEN_ALREADY_REVOKED: the token was revoked before.")
identity_error_types = {
    "UNKNOWN_TOKEN": UnknownTokenError, "AMBIGUOUS_TOKEN": UnknownTokenError, "TOKEN_NAME_TAKEN": TokenNameTakenError,
    "INVALID_TOKEN_NAME": InvalidTokenNameError, "TOKEN_ALREADY_REVOKED": TokenAlreadyRevokedError,
}


def identity_error(exc: IdentityError, allowed: tuple[type, ...]) -> e.Error:
    error_type = identity_error_types.get(exc.code, e.GenericError)
    return (error_type if error_type in allowed else e.GenericError)(code=exc.code, message=exc.message)


@strawberry.input(description="A new token for someone at your company (or a system). Its secret is shown once, in the payload.")
class CreateApiTokenInput:
    role: RoleEnum  # type: ignore[valid-type]
    name: str | None = strawberry.field(
        default=None, description="Unique per tenant; it becomes the actor name in journals and audit events. Default role-<random>."
    )
    expires_in_days: int | None = strawberry.field(default=None, description=f"1 to {token_lifetime_days_max}; null for no expiry.")
    idempotency_key: str | None = None


@strawberry.type(description="The new token and, this once, its secret: send it as `Authorization: Bearer <secret>`.")
class CreateApiTokenPayload:
    token: ApiTokenType
    secret: str | None = strawberry.field(description="Null on a replay: only the secret's hash is stored, so it cannot be shown again.")
    replayed: bool


@strawberry.input(description="Revoke a token: requests with it are refused from now on.")
class RevokeApiTokenInput:
    token_id: strawberry.ID
    reason: str | None = strawberry.field(default=None, description="Why; kept in the audit trail.")
    idempotency_key: str | None = None


@strawberry.type(description="The token, revoked.")
class RevokeApiTokenPayload:
    token: ApiTokenType
    replayed: bool


token_errors = (
    e.InvalidInputError, UnknownTokenError, TokenNameTakenError, InvalidTokenNameError, TokenAlreadyRevokedError,
    e.IdempotencyConflictError, e.TransactionRetriesExhaustedError, e.GenericError,
)
CreateApiTokenResult = Annotated[Union[(CreateApiTokenPayload, *token_errors)], strawberry.union("CreateApiTokenResult")]  # noqa: UP007
RevokeApiTokenResult = Annotated[Union[(RevokeApiTokenPayload, *token_errors)], strawberry.union("RevokeApiTokenResult")]  # noqa: UP007


def _token(conn: sa.Connection, tenant_id: int, token_id: uuid.UUID) -> DomainToken:
    return identity_service.find_token(conn, str(token_id), tenant_id=tenant_id)


@strawberry.type
class IdentityQuery:
    @strawberry.field(description="Your tenant's API tokens (never their secrets), oldest first; active ones unless `includeRevoked`. Roles: ADMIN.")
    async def api_tokens(
        self, info: Info, first: int = tokens_page_size_default, after: str | None = None,
        include_revoked: bool = False,
    ) -> Connection[ApiTokenType]:
        ctx = info.context
        session = await ctx.authorize("apiTokens")
        check_page_size(first, tokens_page_size_max)
        position = decode_time_cursor("ApiToken", after)
        tokens = await read(ctx.engine, identity_service.list_tokens, session.principal.tenant_id)
        now = ctx.clock()
        ordered = sorted(
            (t for t in tokens if include_revoked or t.is_active(now)), key=lambda t: (utc(t.created_at), t.id)
        )
        if position is not None:
            ordered = [t for t in ordered if (utc(t.created_at), t.id) > position]
        items = [
            (encode_time_cursor("ApiToken", t.created_at, t.id), ApiTokenType(token=t)) for t in ordered[:first]
        ]
        return connection(items, has_next=len(ordered) > first, has_previous=after is not None)


@strawberry.type
class IdentityMutation:
    @strawberry.mutation(description="Issue an API token for someone at your company; the secret is in the payload, once. Roles: ADMIN.")
    async def create_api_token(
        self, info: Info, input: CreateApiTokenInput  # noqa: A002
    ) -> CreateApiTokenResult:  # type: ignore[valid-type]
        ctx = info.context
        session = await ctx.authorize("createApiToken")
        try:
            key = input_key(input.idempotency_key)
            if input.expires_in_days is not None and not 1 <= input.expires_in_days <= token_lifetime_days_max:
                raise RefusedInput(f"expiresInDays must be 1 to {token_lifetime_days_max}", "expiresInDays")
        except RefusedInput as refused:
            return refused.result
        actor = ctx.actor()
        role = Role[input.role.name]
        request = {"role": role.value, "name": input.name, "expires_in_days": input.expires_in_days}
        secrets: list[str] = []

        def command(conn: sa.Connection) -> dict:
            expires_at = None if input.expires_in_days is None else actor.now + dt.timedelta(days=input.expires_in_days)
            issued = identity_service.create_token(
                conn, actor.tenant_id, role, actor_name=actor.name, now=actor.now, name=input.name, expires_at=expires_at,
            )
            secrets.append(issued.secret)  # returned to the caller, never recorded
            return {"token": str(issued.token.id)}

        def work(conn: sa.Connection) -> tuple[DomainToken, bool]:
            result, replayed = run_once(conn, actor, key, "createApiToken", request, command)
            return _token(conn, actor.tenant_id, uuid.UUID(result["token"])), replayed

        try:
            token, replayed = await write(ctx.engine, work)
        except IdentityError as exc:
            return identity_error(exc, token_errors)
        except ledger_errors.LedgerError as exc:
            return e.error_result(exc, token_errors)
        session.loaders.clear()
        return CreateApiTokenPayload(token=ApiTokenType(token=token), secret=None if replayed else secrets[-1], replayed=replayed)

    @strawberry.mutation(description="Revoke an API token; requests with it are refused from then on. Roles: ADMIN.")
    async def revoke_api_token(
        self, info: Info, input: RevokeApiTokenInput  # noqa: A002
    ) -> RevokeApiTokenResult:  # type: ignore[valid-type]
        ctx = info.context
        session = await ctx.authorize("revokeApiToken")
        try:
            token_id = input_id("ApiToken", input.token_id, "tokenId")
            key = input_key(input.idempotency_key)
            actor = ctx.actor(reason=input_reason(input.reason))
        except RefusedInput as refused:
            return refused.result

        def command(conn: sa.Connection) -> dict:
            revoked = identity_service.revoke_token(conn, str(token_id), actor_name=actor.name, now=actor.now, tenant_id=actor.tenant_id)
            return {"token": str(revoked.id)}

        def work(conn: sa.Connection) -> tuple[DomainToken, bool]:
            result, replayed = run_once(conn, actor, key, "revokeApiToken", {"token": str(token_id)}, command)
            return _token(conn, actor.tenant_id, uuid.UUID(result["token"])), replayed

        try:
            token, replayed = await write(ctx.engine, work)
        except IdentityError as exc:
            return identity_error(exc, token_errors)
        except ledger_errors.LedgerError as exc:
            return e.error_result(exc, token_errors)
        session.loaders.clear()
        return RevokeApiTokenPayload(token=ApiTokenType(token=token), replayed=replayed)
