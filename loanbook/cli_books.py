"""`loanbook close-period`, `reopen-period`, `close-fiscal-year` and `audit digest`: the books' close and proof."""
from __future__ import annotations

import argparse
import datetime as dt

import sqlalchemy as sa

from ledger import service
from ledger.actor import Actor
from ledger.sealing import seal_pending
from ledger.store.tables import tenants
from ledger.unit_of_work import run_in_transaction
from loanbook.db import make_engine
from loanbook.settings import Settings


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def tenant_ids(engine: sa.Engine, slug: str | None) -> list[int]:
    with engine.connect() as conn:
        return [service.tenant_id_for(conn, slug)] if slug else list(
            conn.execute(sa.select(tenants.c.id).order_by(tenants.c.id)).scalars()
        )


def add_book_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("close-period", help="close a tenant's books through a date: no entry dated on or before it posts")
    p.add_argument("--tenant", required=True)
    p.add_argument("--through", type=dt.date.fromisoformat, required=True, help="the last closed day (YYYY-MM-DD)")
    p.add_argument("--reason", required=True)
    p.add_argument("--actor", default="cli")
    p.set_defaults(handler=cmd_close_period)

    p = sub.add_parser("reopen-period", help="reopen the latest closure of a tenant's books (audited)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--actor", default="cli")
    p.set_defaults(handler=cmd_reopen_period)

    p = sub.add_parser("close-fiscal-year", help="move a year's income and expense to retained earnings and close the year")
    p.add_argument("--tenant", required=True)
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--actor", default="cli")
    p.set_defaults(handler=cmd_close_fiscal_year)

    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(dest="audit_command")
    p = audit.add_parser("digest", help="print the audit chain head as SEQ:HASH (then its time and tenant) for an auditor")
    p.add_argument("--tenant", help="only this tenant (slug); default every tenant, one block each")
    p.add_argument("--no-seal", action="store_true", help="do not seal pending events first")
    p.set_defaults(handler=cmd_audit_digest)


def _period_command(args: argparse.Namespace, settings: Settings, command):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url)

    def work(conn: sa.Connection):  # type: ignore[no-untyped-def]
        actor = Actor(service.tenant_id_for(conn, args.tenant), args.actor, utc_now(), reason=args.reason)
        return command(conn, actor)

    return run_in_transaction(engine, work)


def cmd_close_period(args: argparse.Namespace, settings: Settings) -> int:
    from ledger import periods

    closure = _period_command(args, settings, lambda conn, actor: periods.close_period(conn, actor, args.through, args.reason))
    print(f"closed the books of {args.tenant} through {closure.through_date} (closure {closure.seq})")
    return 0


def cmd_reopen_period(args: argparse.Namespace, settings: Settings) -> int:
    from ledger import periods

    closure = _period_command(args, settings, lambda conn, actor: periods.reopen_period(conn, actor, args.reason))
    print(f"reopened closure {closure.seq} (through {closure.through_date}) of {args.tenant}")
    return 0


def cmd_close_fiscal_year(args: argparse.Namespace, settings: Settings) -> int:
    from ledger import periods

    done = _period_command(args, settings, lambda conn, actor: periods.close_fiscal_year(conn, actor, args.year, args.reason))
    print(f"closed fiscal year {done.year} of {args.tenant}: closing entry {done.entry_id or '(nothing to move)'}, "
          f"books closed through {done.closure.through_date}")
    return 0


def cmd_audit_digest(args: argparse.Namespace, settings: Settings) -> int:
    from ledger.digest import audit_digest

    engine = make_engine(settings.database_url)
    chosen = tenant_ids(engine, args.tenant)
    for n, tenant_id in enumerate(chosen):
        if not args.no_seal:
            seal_pending(engine, tenant_id)
        with engine.connect() as conn:
            digest = audit_digest(conn, tenant_id)
        if n:
            print()
        print(digest.text)
        print(f"sealed at {digest.sealed_at.isoformat() if digest.sealed_at else '(no events yet)'}")
        print(f"tenant {digest.tenant_slug}")
    return 0


