"""`loanbook serve`: migrate, make sure there is someone to sign in as, then run uvicorn."""
from __future__ import annotations

import datetime as dt
import logging
import os

import sqlalchemy as sa
import uvicorn
from sqlalchemy.engine import Engine, make_url
from starlette.types import ASGIApp

from graphql_api.app import create_app
from identity import service as identity_service
from identity.model import IssuedToken, Role
from ledger import service as ledger_service
from ledger.store.tables import tenants
from ledger.unit_of_work import run_in_transaction
from loanbook.db import make_engine, make_reader
from loanbook.migrate import upgrade
from loanbook.settings import Settings, field_cipher

demo_tenant_slug = "demo"
demo_tenant_name = "Demo Lending Co."
demo_token_name = "demo-admin"
bootstrap_actor = "loanbook serve"
workers_default_max = 4
# The sample book `serve` loads into the demo tenant of an empty database: a few hundred loans, seconds to build.
demo_loans, demo_months, demo_seed = 300, 6, 1
demo_roles = ("loan_officer", "approver", "finance", "collector", "auditor")


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


def default_workers(settings: Settings) -> int:
    """Worker processes when --workers is not given: one per CPU (at most 4) on PostgreSQL, one on SQLite.

    A process runs Python on one core at a time (the GIL), so one process leaves the other cores
    idle under load. SQLite has one writer per file; more processes would only queue on its lock.
    """
    if make_url(settings.database_url).get_backend_name() == "sqlite":
        return 1
    return max(1, min(os.cpu_count() or 1, workers_default_max))


def worker_app() -> ASGIApp:
    """The app of one worker process (`uvicorn --factory`): settings from the environment, its own engine."""
    settings = Settings.from_env()
    logging.basicConfig(level=logging.DEBUG if settings.debug else logging.INFO)
    engine = make_engine(settings.database_url)
    return create_app(
        engine, cipher=field_cipher(settings), reader=make_reader(engine), seal_in_background=settings.seal_mode == "background"
    )


def load_demo_book(engine: Engine, cipher) -> None:  # noqa: ANN001
    """Fill the new demo tenant with the sample loan book, showing progress, then its summary."""
    from loanbook.cli_cob import print_demo_summary, progress_bar
    from loanbook.demo import build_demo

    print(f"Loading a sample loan book into {demo_tenant_slug!r} ({demo_loans} loans, {demo_months} months; "
          "--no-demo or LOANBOOK_NO_DEMO=1 skips this)...", flush=True)
    with progress_bar("demo", unit="days") as progress:
        summary = build_demo(engine, cipher, tenant=demo_tenant_slug, loans=demo_loans, months=demo_months, seed=demo_seed,
                             progress=progress, tenant_exists=True)
    print_demo_summary(summary)


def serve(
    settings: Settings, *, host: str | None = None, port: int | None = None, migrate: bool = True, workers: int | None = None,
    demo: bool = True,
) -> int:
    # Built once, before anything listens: a missing or malformed key stops the server at startup, not mid-request.
    cipher = field_cipher(settings)
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine, cipher=cipher)
    issued = ensure_demo_tenant(engine, utc_now())
    host = host or settings.host
    port = settings.port if port is None else port
    if issued is not None and demo:
        try:
            load_demo_book(engine, cipher)
        except Exception:  # the admin token below is shown once: a failed sample book must not swallow it
            logging.getLogger(__name__).exception("the sample loan book could not be loaded; `loanbook demo --tenant NAME` retries it")
    if issued is not None:
        # Shown once: only its hash is stored. flush so a supervisor (or a test) sees it before uvicorn's logs.
        print(
            f"Created tenant {demo_tenant_slug!r} with an admin token (shown once, keep it):\n"
            f"  LOANBOOK_TOKEN={issued.secret}\n"
            f"  curl -s http://{host}:{port}/graphql -H 'Authorization: Bearer {issued.secret}' "
            "-H 'Content-Type: application/json' -d '{\"query\": \"{ me { tenant { slug } role } }\"}'",
            flush=True,
        )
        print("Tokens for the other roles (each a different person, for maker-checker):", flush=True)
        for role in demo_roles:
            print(f"  loanbook token create --tenant {demo_tenant_slug} --role {role} --name {role.replace('_', '-')}", flush=True)
    print(f"GraphQL (GraphiQL) at http://{host}:{port}/graphql; health at http://{host}:{port}/health", flush=True)
    logging.basicConfig(level=logging.DEBUG if settings.debug else logging.INFO)
    workers = default_workers(settings) if workers is None else workers
    log_level = "debug" if settings.debug else "info"
    if workers == 1:
        app = create_app(engine, cipher=cipher, reader=make_reader(engine), seal_in_background=settings.seal_mode == "background")
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    else:
        # Each worker is a fresh process that builds its own engine (connections must not cross a fork).
        engine.dispose()
        uvicorn.run("loanbook.server:worker_app", factory=True, workers=workers, host=host, port=port, log_level=log_level)
    engine.dispose()
    return 0
