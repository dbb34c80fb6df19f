"""The `loanbook` command line: thin entry points that parse, call a service and print."""
from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
import threading
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from ledger import errors
from ledger.sealing import default_interval, follow, seal_all_pending, seal_pending
from ledger.unit_of_work import connection_lost, driver_message, read_connection
from ledger.verify import discrepancies_shown_max, verify_books
from loans.verify import verify_subledger
from loanbook import reconciliation_cli
from loanbook.cli_backup import add_backup_commands
from loanbook.cli_books import add_book_commands
from loanbook.cli_books import tenant_ids as all_tenant_ids
from loanbook.cli_cob import add_cob_commands
from loanbook.cli_journal import add_journal_commands
from loanbook.cli_reports import add_commands as add_report_commands
from loanbook.cli_reports import add_export_commands
from loanbook.cli_tenants import add_tenant_commands
from loanbook.db import make_engine
from loanbook.migrate import upgrade
from loanbook.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"error: configuration: {exc}", file=sys.stderr)
        return 2
    try:
        return args.handler(args, settings)
    except (errors.LedgerError, errors.DatabaseUnavailable) as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except sa.exc.DBAPIError as exc:
        # A command that reads outside the unit of work meets an unreachable database here.
        if not connection_lost(exc):
            raise
        print(f"error: {errors.DatabaseUnavailable.code}: the database is unreachable ({driver_message(exc)}); "
              "try again once it is back", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loanbook", description="Accounting core for lending companies.")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("migrate", help="apply database migrations (LOANBOOK_DATABASE_URL, default ./var/loanbook.db)")
    p.set_defaults(handler=cmd_migrate)

    p = sub.add_parser("serve", help="serve the GraphQL API with GraphiQL")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--no-migrate", action="store_true", help="do not apply migrations first")
    p.add_argument("--no-demo", action="store_true",
                   help="on an empty database, do not load the sample loan book (also LOANBOOK_NO_DEMO=1)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: one per CPU, at most 4, on PostgreSQL; 1 on SQLite)")
    p.set_defaults(handler=cmd_serve)

    add_tenant_commands(sub)
    add_journal_commands(sub)
    add_cob_commands(sub)

    p = sub.add_parser("seal", help="seal pending audit events into each tenant's hash chain")
    p.add_argument("--follow", action="store_true", help="keep sealing as events commit, until interrupted (a sidecar sealer)")
    p.add_argument("--interval", type=_seconds, default=default_interval,
                   help="with --follow: seconds between passes over a queue that was not full (default 0.02)")
    p.set_defaults(handler=cmd_seal)

    p = sub.add_parser("verify", help="recompute the audit chain, entry balances and stored balances; exit 1 on any discrepancy")
    p.add_argument("--tenant", help="only this tenant (slug)")
    p.add_argument("--no-seal", action="store_true", help="do not seal pending events first")
    p.add_argument("--digest", metavar="SEQ:HASH", help="also prove the history up to this digest (loanbook audit digest) unchanged")
    p.set_defaults(handler=cmd_verify)

    reconciliation_cli.add_commands(sub)
    add_report_commands(sub)
    add_export_commands(sub)

    add_book_commands(sub)
    add_backup_commands(sub)
    return parser


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from loanbook.settings import configured_field_cipher

    engine = make_engine(settings.database_url)
    # Stored borrower fields that a migration indexes are decrypted with the configured key; without
    # one, such a migration stops and says so.
    upgrade(engine, cipher=configured_field_cipher(settings))
    print(f"migrated {engine.url.render_as_string(hide_password=True)}")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from loanbook.server import serve

    if args.workers is not None and args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    return serve(settings, host=args.host, port=args.port, migrate=not args.no_migrate, workers=args.workers,
                 demo=not (args.no_demo or settings.no_demo))


def _seconds(text: str) -> dt.timedelta:
    """A duration given in seconds, e.g. 0.02 (read as a decimal, to the microsecond)."""
    try:
        return dt.timedelta(microseconds=int(Decimal(text) * 1_000_000))
    except (InvalidOperation, ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None


def cmd_seal(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    if args.follow:
        if args.interval <= dt.timedelta(0):
            print("error: --interval must be a positive number of seconds", file=sys.stderr)
            return 2
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        print(f"sealing audit events as they commit (polling every {args.interval.total_seconds():g}s); Ctrl-C stops", flush=True)
        sealed = follow(engine, stop, interval=args.interval)
    else:
        sealed = seal_all_pending(engine)
    print(f"sealed {sealed} audit event(s)")
    return 0


def _check_digest(conn: sa.Connection, tenant_ids: list[int], text: str) -> list[str]:
    """verify --digest: the digest names its tenant by --tenant, or by being the only tenant's."""
    from ledger.digest import parse_digest, verify_digest

    seq, digest_hash = parse_digest(text)
    if len(tenant_ids) != 1:
        raise errors.InvalidInput("--digest needs --tenant when the database holds more than one tenant", field="tenant")
    return [f"digest {seq}:{digest_hash[:12]}...: {p}" for p in verify_digest(conn, tenant_ids[0], seq, digest_hash)]


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    tenant_ids = all_tenant_ids(engine, args.tenant)
    if not args.no_seal:
        for tenant_id in tenant_ids:
            seal_pending(engine, tenant_id)
    # One snapshot for every check while others keep posting (ledger.verify); a read connection, so
    # on SQLite it does not hold the write lock meanwhile.
    with read_connection(engine) as conn:
        report = verify_books(conn, tenant_ids)
        for tenant_id in tenant_ids:
            report.discrepancies += verify_subledger(conn, tenant_id)
        digest_problems = _check_digest(conn, tenant_ids, args.digest) if args.digest else []
        report.discrepancies = digest_problems + report.discrepancies
    print(
        f"verified {report.tenants} tenant(s): {report.entries} entries, {report.postings} postings, "
        f"{report.audit_events} audit events ({report.chained_events} chained), {report.balance_rows} balance rows"
    )
    if report.pending_events:  # committed since the last seal: the sealer chains them, nothing is wrong
        print(f"{report.pending_events} audit events pending sealing")
    for problem in report.discrepancies[:discrepancies_shown_max]:
        print(f"DISCREPANCY: {problem}")
    if len(report.discrepancies) > discrepancies_shown_max:
        print(f"... and {len(report.discrepancies) - discrepancies_shown_max} more")
    if args.digest and not digest_problems:
        print(f"digest {args.digest.strip()}: the history up to it is unchanged")
    print("clean" if report.clean else f"{len(report.discrepancies)} discrepancy(ies) found")
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
