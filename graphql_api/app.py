"""The ASGI app: GraphQL (with GraphiQL) at /graphql, an open JSON health check at /health.

`/` redirects to /graphql; GraphiQL's assets are served from /graphiql/ (graphql_api.graphiql). A
request strawberry refuses before GraphQL runs (a body that is not JSON, a content type it does not
take) is answered as GraphQL over HTTP answers errors: JSON `{"errors": [...]}` with the 4xx status.

Built by `create_app(engine, cipher=...)` in the composition root; nothing here reads settings or
opens connections at import time.
"""
from __future__ import annotations

import contextlib
import gc
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Callable

import orjson
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from cross_web import HTTPException
from strawberry.asgi import GraphQL

from graphql_api.context import ApiContext, request_id_for
from graphql_api.core.errors import unavailable_code, unavailable_retry_after_seconds
from graphql_api.core.root import database_reachable, package_version
from graphql_api.core.strings import unstorable_character
from graphql_api.core.threads import read
from graphql_api import graphiql as graphiql_page
from graphql_api.loans.cob_runner import CobRunner
from graphql_api.schema import schema
from ledger.errors import DatabaseUnavailable
from ledger.sealing import BackgroundSealer
from loans.pii import FieldCipher

log = logging.getLogger("loanbook.http")

# A manual entry at the 1000-posting limit is ~150 KB of JSON; 1 MiB leaves room without inviting abuse.
request_body_bytes_max = 1024 * 1024


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class LoanbookGraphQL(GraphQL):
    def __init__(
        self, engine: Engine, clock: Callable[[], dt.datetime], cipher: FieldCipher, cob_runner: CobRunner, *, graphiql: bool,
        reader: Engine | AsyncEngine | None = None,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None, allow_queries_via_get=True)
        self.engine = engine
        self.reader = reader
        self.clock = clock
        self.cipher = cipher
        self.cob_runner = cob_runner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:
            response = refused_request(exc.status_code, exc.reason)
        await response(scope, receive, send)

    def encode_json(self, data: object) -> str:
        """The answer as JSON by orjson, several times faster than the standard library on a loan's
        schedule (text, as strawberry's own: a WebSocket message then stays a text frame); what orjson
        refuses (a lone surrogate echoed in an error message, an integer beyond 64 bits) is encoded by
        the standard library instead."""
        try:
            return orjson.dumps(data).decode()
        except TypeError:  # orjson.JSONEncodeError is one
            return json.dumps(data, separators=(",", ":"))

    def create_response(self, response_data, sub_response: Response) -> Response:  # type: ignore[no-untyped-def]  # noqa: ANN001
        """An answer with a SERVICE_UNAVAILABLE error is HTTP 503 with Retry-After: the whole request may be sent again."""
        response = super().create_response(response_data, sub_response)
        if any(unavailable_in(result) for result in (response_data if isinstance(response_data, list) else [response_data])):
            response.status_code = 503
            response.headers["Retry-After"] = str(unavailable_retry_after_seconds)
        return response

    async def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
        return graphiql_page.page()

    async def get_context(self, request: Request, response: Response) -> ApiContext:  # type: ignore[override]
        request_id = request_id_for(request)
        response.headers["X-Request-ID"] = request_id
        return ApiContext(
            engine=self.engine, clock=self.clock, request=request, response=response, request_id=request_id, cipher=self.cipher,
            cob_runner=self.cob_runner, reader=self.reader,
        )

    async def parse_http_body(self, request):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN201
        """strawberry's parsing, then refuse NUL characters and lone surrogates in variables (400, like other malformed bodies).

        No field accepts them and no text column can store them (PostgreSQL refuses NUL, no encoding
        has a lone surrogate): left in, one in any string argument failed its statement and surfaced
        as an unexpected error. In the document's own string literals they are a validation error
        (graphql_api.core.errors.RefuseNulCharacters); graphql_api.core.strings checks every argument too.
        """
        data = await super().parse_http_body(request)
        for item in data if isinstance(data, list) else [data]:
            for part in (item.variables, item.operation_name, item.extensions):
                bad = unstorable_in(part)
                if bad is not None:
                    raise HTTPException(400, f"The request contains {bad}, which no field accepts.")
        return data


def unavailable_in(result: object) -> bool:
    errors = result.get("errors") if isinstance(result, dict) else None
    return any((error.get("extensions") or {}).get("code") == unavailable_code for error in errors or ())


refused_codes = {400: "BAD_REQUEST", 405: "METHOD_NOT_ALLOWED", 406: "NOT_ACCEPTABLE", 413: "PAYLOAD_TOO_LARGE",
                 415: "UNSUPPORTED_MEDIA_TYPE"}


def refused_request(status: int, reason: str) -> JSONResponse:
    if status == 400 and reason.lower().startswith("unsupported content type"):
        status = 415  # strawberry says 400; the status for a content type the server does not take is 415
    code = refused_codes.get(status, "BAD_REQUEST")
    reason = reason.rstrip(".") + "."
    hint = " Send POST with Content-Type: application/json and a body {\"query\": \"...\", \"variables\": {...}}."
    return JSONResponse({"errors": [{"message": reason + hint, "extensions": {"code": code}}]}, status_code=status)


def unstorable_in(value: object, depth: int = 0) -> str | None:
    """What a string anywhere in this parsed JSON value (keys included) holds that no field accepts, or None."""
    if isinstance(value, str):
        return unstorable_character(value)
    if depth > 100:  # the JSON parser bounds nesting anyway; do not recurse without limit
        return "values nested too deep"
    if isinstance(value, dict):
        for k, v in value.items():
            bad = unstorable_in(k, depth + 1) or unstorable_in(v, depth + 1)
            if bad:
                return bad
    elif isinstance(value, list):
        for v in value:
            bad = unstorable_in(v, depth + 1)
            if bad:
                return bad
    return None


class BodySizeLimit:
    """Refuse request bodies over `bytes_max` with 413, by Content-Length or by counting the stream."""

    def __init__(self, app: ASGIApp, bytes_max: int) -> None:
        self.app = app
        self.bytes_max = bytes_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.bytes_max):
            await self._refuse(scope, receive, send)
            return
        # Read the whole (bounded) body first, so an oversized chunked stream is refused before the app sees any of it.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.bytes_max:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"errors": [{"message": f"request body is larger than {self.bytes_max} bytes", "extensions": {"code": "PAYLOAD_TOO_LARGE"}}]},
            status_code=413,
        )
        await response(scope, receive, send)


# A request allocates tens of thousands of short-lived objects (a loan detail is ~640 fields); with
# CPython's default first-generation threshold (700) the collector runs dozens of times per request and
# now and then walks the whole heap, which is what the slowest requests wait on.
gc_thresholds = (50_000, 20, 100)


def tune_garbage_collector() -> None:
    """Once per server process, after start-up: what was built so far (modules, schema) is never garbage."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*gc_thresholds)


def create_app(
    engine: Engine, *, cipher: FieldCipher, clock: Callable[[], dt.datetime] = utc_now, graphiql: bool = True,
    body_bytes_max: int = request_body_bytes_max, reader: Engine | AsyncEngine | None = None, seal_in_background: bool = False,
) -> ASGIApp:
    """`reader` runs the single statements of every request (loanbook.db.make_reader); default `engine`.

    `seal_in_background` (LOANBOOK_SEAL_MODE=background): requests return at commit and a sealer thread
    of this process chains their audit events (ledger.sealing.BackgroundSealer).
    """
    async def health(request: Request) -> JSONResponse:
        try:
            ok = await read(engine, database_reachable)
        except DatabaseUnavailable:  # an outage is a health answer, not a crash
            log.warning("health check could not reach the database")
            ok = False
        except Exception:
            log.exception("health check could not reach the database")
            ok = False
        body = {"status": "ok" if ok else "unavailable", "database": "ok" if ok else "unreachable", "version": package_version()}
        return JSONResponse(body, status_code=200 if ok else 503)

    cob_runner = CobRunner(engine, clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tune_garbage_collector()
        # With background sealing each server process (each worker) runs one sealer for its engine;
        # sealers of one tenant take turns on its advisory lock.
        sealer = BackgroundSealer(engine).start() if seal_in_background else None
        try:
            yield
        finally:
            # Running close of business jobs stop after their current batch; the date resumes on its next run.
            cob_runner.stop()
            if sealer is not None:
                sealer.stop()  # seals what committed before shutdown

    graphql_app = LoanbookGraphQL(engine, clock, cipher, cob_runner, graphiql=graphiql, reader=reader)
    app = Starlette(
        routes=[
            Route("/", lambda request: RedirectResponse("/graphql", status_code=307), methods=["GET", "HEAD"]),
            Route("/health", health, methods=["GET"]),
            Route("/graphql", graphql_app, methods=["GET", "POST"]),
            Route("/graphiql/{name}", graphiql_page.asset_endpoint(), methods=["GET", "HEAD"]),
        ],
        lifespan=lifespan,
    )
    return BodySizeLimit(app, body_bytes_max)
