"""The per-request context: who is calling (resolved once, lazily), their loaders, and the clock."""
from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

from graphql_api.core.errors import Forbidden, Unauthenticated
from graphql_api.core.loaders import Loaders, build_loaders
from graphql_api.core.permissions import may_run
from graphql_api.core.threads import read_statement
from graphql_api.loans.cob_runner import CobRunner
from identity.model import Principal
from identity.service import authenticate
from ledger.actor import Actor
from loans.pii import FieldCipher

request_id_pattern = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


@dataclass(frozen=True)
class Session:
    """An authenticated caller: their principal and the DataLoaders scoped to their tenant."""

    principal: Principal
    loaders: Loaders


@dataclass
class ApiContext:
    engine: Engine
    clock: Callable[[], dt.datetime]
    request: Request
    response: Response
    request_id: str
    cipher: FieldCipher = field(repr=False)
    cob_runner: CobRunner = field(repr=False)
    # Runs the single statements of every request (token, DataLoader batches); default: `engine`.
    reader: Engine | AsyncEngine | None = field(default=None, repr=False)
    _session: asyncio.Future[Session] | None = field(default=None, repr=False)

    async def authorize(self, operation: str) -> Session:
        """The caller's session if their role may run `operation`; otherwise a top-level error."""
        session = await self._authenticated()
        if not may_run(session.principal.role, operation):
            raise Forbidden(f"role {session.principal.role.name} may not run {operation}")
        return session

    @property
    def session(self) -> Session:
        """For nested fields: the root field already authorised the request."""
        assert self._session is not None and self._session.done(), "a root resolver must call authorize() first"
        return self._session.result()

    def actor(self, reason: str | None = None) -> Actor:
        return Actor(self.session.principal.tenant_id, self.session.principal.actor_name, self.clock(),
                     request_id=self.request_id, reason=reason)

    async def _authenticated(self) -> Session:
        # Root fields resolve concurrently; the first one looks the token up and the rest await it.
        if self._session is None:
            self._session = asyncio.ensure_future(self._authenticate())
        return await asyncio.shield(self._session)

    async def _authenticate(self) -> Session:
        secret = bearer_token(self.request)
        if secret is None:
            raise Unauthenticated("sign in: send the header `Authorization: Bearer <token>`")
        reader = self.engine if self.reader is None else self.reader
        principal = await read_statement(reader, authenticate, secret, self.clock())
        if principal is None:
            raise Unauthenticated("the bearer token is unknown, revoked or expired")
        return Session(principal, build_loaders(self.engine, principal.tenant_id, self.cipher, reader))


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def request_id_for(request: Request) -> str:
    """The caller's X-Request-ID when it is tame, else a new one; it is written into audit events."""
    given = request.headers.get("x-request-id", "")
    return given if request_id_pattern.match(given) else uuid.uuid4().hex
