"""`loanbook tenant` and `loanbook token`: tenants with their chart, and API tokens (a lost admin token is replaced here)."""
from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys

import sqlalchemy as sa

from ledger import service
from ledger.accounts import functional_currency_default
from ledger.store.tables import tenants
from ledger.unit_of_work import run_in_transaction
from loanbook.db import make_engine
from loanbook.settings import Settings


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def add_tenant_commands(sub: argparse._SubParsersAction) -> None:
    tenant = sub.add_parser("tenant", help="manage tenants (lending companies)").add_subparsers(dest="tenant_command")
    p = tenant.add_parser("create", help="create a tenant with the default chart of accounts")
    p.add_argument("slug")
    p.add_argument("--name", required=True)
    p.add_argument("--currency", default=functional_currency_default, metavar="CODE",
                   help=f"functional currency, ISO 4217: the default chart's accounts accept it (default {functional_currency_default})")
    p.set_defaults(handler=cmd_tenant_create)
    p = tenant.add_parser("list", help="list tenants")
    p.set_defaults(handler=cmd_tenant_list)

    token = sub.add_parser("token", help="manage API tokens (Authorization: Bearer <token>)").add_subparsers(dest="token_command")
    p = token.add_parser("create", help="create a token; prints the token alone on stdout (shown once, stored hashed); "
                         "a lost admin token is replaced with --role admin")
    p.add_argument("--tenant", required=True, help="tenant slug")
    p.add_argument("--role", required=True, help="admin, loan_officer, approver, finance, collector or auditor")
    p.add_argument("--name", help="unique per tenant; becomes the actor name in journals and audit events")
    p.add_argument("--expires-days", type=int, help="expire the token after this many days")
    p.set_defaults(handler=cmd_token_create)
    p = token.add_parser("revoke", help="revoke a token by id, id prefix, clear prefix (lb_...) or the token itself")
    p.add_argument("token")
    p.add_argument("--tenant", help="only look in this tenant (slug)")
    p.set_defaults(handler=cmd_token_revoke)
    p = token.add_parser("list", help="list a tenant's tokens (never the secrets)")
    p.add_argument("--tenant", required=True)
    p.set_defaults(handler=cmd_token_list)


def cmd_tenant_create(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    tenant_id = run_in_transaction(engine, lambda conn: service.create_tenant(
        conn, args.slug, args.name, actor_name="cli", now=utc_now(), functional_currency=args.currency,
    ))
    print(f"created tenant {args.slug} (id {tenant_id}) with the default chart of accounts in {args.currency}")
    return 0


def cmd_tenant_list(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        for row in conn.execute(sa.select(tenants).order_by(tenants.c.slug)):
            print(f"{row.slug}\t{row.functional_currency}\t{row.name}")
    return 0


def cli_actor_name() -> str:
    """`cli:` and the operating-system user running the command: who used the database's authority."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for the process's uid (a bare container)
        return "cli"
    return f"cli:{user}"[:200]


def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    from identity import service as identity_service
    from identity.errors import IdentityError
    from identity.model import parse_role

    engine = make_engine(settings.database_url)
    now = utc_now()
    if args.expires_days is not None and not 1 <= args.expires_days <= 3650:
        print("error: --expires-days must be between 1 and 3650", file=sys.stderr)
        return 2
    expires_at = now + dt.timedelta(days=args.expires_days) if args.expires_days else None
    try:
        role = parse_role(args.role)
        issued = run_in_transaction(
            engine,
            lambda conn: identity_service.create_token(
                conn, service.tenant_id_for(conn, args.tenant), role, name=args.name, actor_name=cli_actor_name(), now=now,
                expires_at=expires_at,
            ),
        )
    except IdentityError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    print(f"created token {issued.token.id} ({issued.token.name}, {issued.token.role.value})", file=sys.stderr)
    print(issued.secret)
    return 0


def cmd_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from identity import service as identity_service
    from identity.errors import IdentityError

    engine = make_engine(settings.database_url)

    def work(conn: sa.Connection):
        tenant_id = service.tenant_id_for(conn, args.tenant) if args.tenant else None
        return identity_service.revoke_token(conn, args.token, actor_name=cli_actor_name(), now=utc_now(), tenant_id=tenant_id)

    try:
        revoked = run_in_transaction(engine, work)
    except IdentityError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    print(f"revoked token {revoked.id} ({revoked.name}, {revoked.role.value})")
    return 0


def cmd_token_list(args: argparse.Namespace, settings: Settings) -> int:
    from identity import service as identity_service

    engine = make_engine(settings.database_url)
    now = utc_now()
    with engine.connect() as conn:
        for t in identity_service.list_tokens(conn, service.tenant_id_for(conn, args.tenant)):
            state = "active" if t.is_active(now) else ("revoked" if t.revoked_at else "expired")
            print(f"{t.id}\t{t.token_prefix}...\t{t.role.value}\t{state}\t{t.name}")
    return 0

