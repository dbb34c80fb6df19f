"""`loanbook serve`: migrate, make sure there is someone to sign in as, then run uvicorn."""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
import uvicorn
from sqlalchemy.engine import Engine

from graphql_api.app import create_app
from identity import service as identity_service
from identity.model import IssuedToken, Role
from ledger import service as ledger_service
from ledger.store.tables import tenants
from ledger.store.transaction import run_in_transaction
from ledger.store.sealer import BackgroundSealer
from loanbook.db import make_engine
from loanbook.migrate import upgrade
from loanbook.settings import Settings, field_cipher

demo_tenant_slug = "demo"
demo_tenant_name = "Demo Lending Co."
demo_token_name = "demo-admin"
bootstrap_actor = "loanbook serve"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def ensure_demo_tenant(engine: Engine, now: dt.datetime) -> IssuedToken | None:
    """On a database with no tenants, create the demo tenant and an admin token; else do nothing."""

    def work(conn: sa.Connection) -> IssuedToken | None:
        if conn.execute(sa.select(tenants.c.id).limit(1)).first() is not None:
            return None
        tenant_id = ledger_service.create_tenant(conn, demo_tenant_slug, demo_tenant_name, actor_name=bootstrap_actor, now=now)
        return identity_service.create_token(
            conn, tenant_id, Role.ADMIN, name=demo_token_name, actor_name=bootstrap_actor, now=now
        )

    return run_in_transaction(engine, work)


def serve(settings: Settings, *, host: str | None = None, port: int | None = None, migrate: bool = True) -> int:
    # Built once, before anything listens: a missing or malformed key stops the server at startup, not mid-request.
    cipher = field_cipher(settings)
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    issued = ensure_demo_tenant(engine, utc_now())
    host = host or settings.host
    port = settings.port if port is None else port
    if issued is not None:
        # Shown once: only its hash is stored. flush so a supervisor (or a test) sees it before uvicorn's logs.
        print(
            f"Created tenant {demo_tenant_slug!r} with an admin token (shown once, keep it):\n"
            f"  LOANBOOK_TOKEN={issued.secret}\n"
            f"  curl -s http://{host}:{port}/graphql -H 'Authorization: Bearer {issued.secret}' "
            "-H 'Content-Type: application/json' -d '{\"query\": \"{ me { tenant { slug } role } }\"}'",
            flush=True,
        )
    print(f"GraphQL (GraphiQL) at http://{host}:{port}/graphql; health at http://{host}:{port}/health", flush=True)
    logging.basicConfig(level=logging.DEBUG if settings.debug else logging.INFO)
    app = create_app(engine, cipher=cipher)
    sealer = BackgroundSealer(engine).start() if settings.seal_mode == "background" else None
    try:
        uvicorn.run(app, host=host, port=port, log_level="debug" if settings.debug else "info")
    finally:
        if sealer is not None:
            sealer.stop()  # seals what committed before shutdown
    engine.dispose()
    return 0
