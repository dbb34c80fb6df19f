"""The `loanbook` command line: thin entry points that parse, call a service and print."""
from __future__ import annotations

import argparse
import os
import signal
import threading
import datetime as dt
import sys
import uuid
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from ledger import errors, queries, service
from ledger.actor import Actor
from ledger.importing import check_against_chart, line_errors_max, read_entries
from ledger.model import EntryDraft, credit, debit
from ledger.money import format_amount
from ledger.sealing import default_interval, follow, seal_all_pending, seal_pending
from ledger.store.tables import tenants
from ledger.unit_of_work import run_in_transaction
from ledger.verify import discrepancies_shown_max, verify_books
from loans.verify import verify_subledger
from loanbook import reconciliation_cli
from loanbook.cli_books import add_book_commands
from loanbook.cli_books import tenant_ids as all_tenant_ids
from loanbook.cli_reports import add_commands as add_report_commands
from loanbook.cli_reports import add_export_commands
from loanbook.db import make_engine
from loanbook.migrate import upgrade
from loanbook.settings import Settings


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


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
    except errors.LedgerError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
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

    tenant = sub.add_parser("tenant", help="manage tenants (lending companies)").add_subparsers(dest="tenant_command")
    p = tenant.add_parser("create", help="create a tenant with the default chart of accounts")
    p.add_argument("slug")
    p.add_argument("--name", required=True)
    p.set_defaults(handler=cmd_tenant_create)
    p = tenant.add_parser("list", help="list tenants")
    p.set_defaults(handler=cmd_tenant_list)

    token = sub.add_parser("token", help="manage API tokens (Authorization: Bearer <token>)").add_subparsers(dest="token_command")
    p = token.add_parser("create", help="create a token; prints the token alone on stdout (shown once, stored hashed)")
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

    p = sub.add_parser("accounts", help="print a tenant's chart of accounts with current balances")
    p.add_argument("--tenant", required=True)
    p.set_defaults(handler=cmd_accounts)

    p = sub.add_parser("post", help="post a journal entry: --debit CODE:AMOUNT and --credit CODE:AMOUNT")
    p.add_argument("--tenant", required=True)
    p.add_argument("--date", type=dt.date.fromisoformat, required=True, help="effective (business) date")
    p.add_argument("--currency", required=True)
    p.add_argument("--debit", action="append", default=[], metavar="CODE:AMOUNT")
    p.add_argument("--credit", action="append", default=[], metavar="CODE:AMOUNT")
    p.add_argument("--description", default="")
    p.add_argument("--idempotency-key")
    p.add_argument("--actor", default="cli")
    p.set_defaults(handler=cmd_post)

    p = sub.add_parser(
        "import", help="import journal entries from a JSON Lines file (a migration, a statement), in batches"
    )
    p.add_argument("file", help="JSON Lines, one entry per line (see README, 'Bulk import'); - reads stdin")
    p.add_argument("--tenant", required=True)
    p.add_argument("--batch-size", type=int, default=10_000, help="entries per transaction (at most 20,000)")
    p.add_argument("--actor", default="import")
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("reverse", help="reverse a posted journal entry")
    p.add_argument("entry_id", type=uuid.UUID)
    p.add_argument("--tenant", required=True)
    p.add_argument("--date", type=dt.date.fromisoformat, required=True, help="effective date of the reversal")
    p.add_argument("--reason", required=True)
    p.add_argument("--actor", default="cli")
    p.set_defaults(handler=cmd_reverse)

    p = sub.add_parser("trial-balance", help="print the trial balance, optionally as of a date")
    p.add_argument("--tenant", required=True)
    p.add_argument("--as-of", type=dt.date.fromisoformat)
    p.set_defaults(handler=cmd_trial_balance)

    p = sub.add_parser("cob", help="close of business: accrue, age, penalise, classify and provision every active loan")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--date", type=dt.date.fromisoformat, help="the one business date to close (YYYY-MM-DD)")
    when.add_argument("--through", type=dt.date.fromisoformat, metavar="DATE",
                      help="catch up: close every pending business date in order through DATE (resumes if interrupted)")
    p.add_argument("--tenant", help="only this tenant (slug); default every tenant")
    p.add_argument("--batch-size", type=int, default=2000)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes closing batches at once (PostgreSQL)")
    p.set_defaults(handler=cmd_cob)

    p = sub.add_parser("demo", help="create a tenant with a realistic, reproducible loan book (same seed, same books)")
    p.add_argument("--tenant", default="demo", help="slug of the tenant to create (default demo)")
    p.add_argument("--loans", type=int, default=300, help="applications to make (default 300)")
    p.add_argument("--months", type=int, default=6, help="months of history, ending yesterday (default 6)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.set_defaults(handler=cmd_demo)

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


def cmd_tenant_create(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    tenant_id = run_in_transaction(
        engine, lambda conn: service.create_tenant(conn, args.slug, args.name, actor_name="cli", now=utc_now())
    )
    print(f"created tenant {args.slug} (id {tenant_id}) with the default chart of accounts")
    return 0


def cmd_tenant_list(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        for row in conn.execute(sa.select(tenants).order_by(tenants.c.slug)):
            print(f"{row.slug}\t{row.name}")
    return 0


def cmd_accounts(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        tenant_id = service.tenant_id_for(conn, args.tenant)
        for account in queries.list_accounts(conn, tenant_id):
            balances = queries.current_balances(conn, tenant_id, account.code)
            shown = ", ".join(f"{format_amount(b.net_minor, b.currency)} {b.currency}" for b in balances) or "-"
            print(f"{account.code:<8} {account.type.value:<9} {account.status.value:<6} {account.name:<50} {shown}")
    return 0


def cmd_post(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    legs = [debit(*_split_leg(leg), args.currency) for leg in args.debit]
    legs += [credit(*_split_leg(leg), args.currency) for leg in args.credit]
    draft = EntryDraft(args.date, tuple(legs), args.description, {}, args.idempotency_key)

    def work(conn: sa.Connection):
        return service.post_entry(conn, Actor(service.tenant_id_for(conn, args.tenant), args.actor, utc_now()), draft)

    print(run_in_transaction(engine, work).id)
    return 0


def _split_leg(text: str) -> tuple[str, str]:
    code, sep, amount = text.rpartition(":")
    if not sep or not code:
        raise errors.InvalidEntry(f"a posting is CODE:AMOUNT, got {text!r}")
    return code, amount


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Every line is read and checked (against the chart too) before anything is written; every bad
    line is reported, up to ledger.importing.line_errors_max; then each batch is one transaction."""
    if not 1 <= args.batch_size <= service.entries_per_batch_max:
        print(f"error: --batch-size must be between 1 and {service.entries_per_batch_max}", file=sys.stderr)
        return 2
    if args.file == "-":
        numbered, problems = read_entries(sys.stdin)
    else:
        try:
            with open(args.file, encoding="utf-8") as handle:
                numbered, problems = read_entries(handle)
        except OSError as exc:
            print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return 2
        except UnicodeDecodeError as exc:
            print(f"error: {args.file} is not UTF-8 text ({exc.reason} at byte {exc.start})", file=sys.stderr)
            return 2
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        tenant_id = service.tenant_id_for(conn, args.tenant)
        if len(problems) < line_errors_max:
            codes = sorted({p.account_code for _, draft in numbered for p in draft.postings})
            chart = queries.load_accounts(conn, tenant_id, codes)
            problems += check_against_chart(numbered, chart, errors_max=line_errors_max - len(problems))
        conn.rollback()
    if problems:
        problems.sort(key=lambda problem: problem.line)
        for problem in problems:
            print(f"error: {problem.code}: {problem.message}", file=sys.stderr)
        more = " (stopped there: fix these and run it again)" if len(problems) >= line_errors_max else ""
        print(f"{len(problems)} bad line(s){more}; nothing was written", file=sys.stderr)
        return 1
    reference = os.path.basename(args.file) if args.file != "-" else "stdin"
    imported = replayed = postings = 0
    for start in range(0, len(numbered), args.batch_size):
        chunk = numbered[start:start + args.batch_size]
        drafts = [draft for _, draft in chunk]
        actor = Actor(tenant_id, args.actor, utc_now())
        try:
            posted = run_in_transaction(
                engine, lambda conn: service.import_entries(conn, actor, drafts, reference=f"{reference}:{chunk[0][0]}-{chunk[-1][0]}")
            )
        except errors.LedgerError as exc:
            print(f"error: {exc.code}: lines {chunk[0][0]}-{chunk[-1][0]}: {exc.message}", file=sys.stderr)
            print(f"imported {imported} entries before this batch; nothing of lines {chunk[0][0]}-{chunk[-1][0]} or after was written",
                  file=sys.stderr)
            return 1
        fresh = [e for e in posted if e.recorded_at == actor.now]
        imported += len(fresh)
        replayed += len(posted) - len(fresh)
        postings += sum(len(e.postings) for e in fresh)
    print(f"imported {imported} entries ({postings} postings) from {len(numbered)} lines"
          + (f"; {replayed} already imported (same idempotency key and content)" if replayed else ""))
    return 0


def cmd_reverse(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)

    def work(conn: sa.Connection):
        actor = Actor(service.tenant_id_for(conn, args.tenant), args.actor, utc_now(), reason=args.reason)
        return service.reverse_entry(conn, actor, args.entry_id, args.date)

    print(run_in_transaction(engine, work).id)
    return 0


def cmd_trial_balance(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        tenant_id = service.tenant_id_for(conn, args.tenant)
        tb = queries.trial_balance(conn, tenant_id, args.as_of)
    print(f"Trial balance of {args.tenant} as of {args.as_of or 'now'}")
    for line in tb.lines:
        d = format_amount(line.debit_minor, line.currency) if line.debit_minor else ""
        c = format_amount(line.credit_minor, line.currency) if line.credit_minor else ""
        print(f"{line.account.code:<8} {line.account.name:<50} {line.currency} {d:>18} {c:>18}")
    for currency, (d, c) in sorted(tb.totals().items()):
        print(f"{'total':<59} {currency} {format_amount(d, currency):>18} {format_amount(c, currency):>18}")
    return 0 if tb.balanced else 1


def cmd_cob(args: argparse.Namespace, settings: Settings) -> int:
    from loans.cob import run_close_of_business

    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        slugs = [args.tenant] if args.tenant else list(conn.execute(sa.select(tenants.c.slug).order_by(tenants.c.slug)).scalars())
        ids = {slug: service.tenant_id_for(conn, slug) for slug in slugs}
    if args.through is not None:
        return _cob_through(args, engine, ids)
    for slug, tenant_id in ids.items():
        with _progress(f"COB {args.date} {slug}") as progress:
            summary = run_close_of_business(
                engine, tenant_id, args.date, actor_name="cob-cli", batch_size=args.batch_size, progress=progress,
                workers=args.workers, engine_factory=_worker_engine,
            )
        if summary.already_done:
            print(f"{slug}: {args.date} was already closed; nothing changed")
            continue
        print(
            f"{slug}: closed {args.date}{' (resumed)' if summary.resumed else ''}: {summary.loans_processed} loans, "
            f"{summary.entries_posted} journal entries, {summary.entered_non_accrual} moved to non-accrual"
        )
    return 0


def _cob_through(args: argparse.Namespace, engine: sa.Engine, ids: dict[str, int]) -> int:
    from loans.cob_catch_up import run_close_of_business_through

    for slug, tenant_id in ids.items():
        with _progress(f"COB {slug} through {args.through}", unit="dates") as progress:
            def closed(index: int, count: int, summary) -> None:  # noqa: ANN001
                progress(index, count)
                if not sys.stdout.isatty():
                    print(f"{slug}: closed {summary.business_date} ({index}/{count}): {summary.loans_processed} loans", flush=True)

            summaries = run_close_of_business_through(
                engine, tenant_id, args.through, on_date=closed, actor_name="cob-cli", batch_size=args.batch_size,
                workers=args.workers, engine_factory=_worker_engine,
            )
        if not summaries:
            print(f"{slug}: every date through {args.through} was already closed; nothing changed")
            continue
        print(
            f"{slug}: closed {len(summaries)} business date(s), {summaries[0].business_date} to {summaries[-1].business_date}: "
            f"{sum(s.entries_posted for s in summaries)} journal entries, "
            f"{sum(s.entered_non_accrual for s in summaries)} moved to non-accrual"
        )
    return 0


class _progress:
    """A rich progress bar on a terminal; silent otherwise (logs and CI stay clean)."""

    def __init__(self, label: str, unit: str = "loans") -> None:
        self.label, self.unit, self.bar, self.task = label, unit, None, None

    def __enter__(self):
        if sys.stdout.isatty():
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=None)
        return self.update

    def update(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total or None)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _seconds(text: str) -> dt.timedelta:
    """A duration given in seconds, e.g. 0.02 (read as a decimal, to the microsecond)."""
    try:
        return dt.timedelta(microseconds=int(Decimal(text) * 1_000_000))
    except (InvalidOperation, ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None


def _worker_engine(url: str) -> sa.Engine:
    """A close-of-business worker process's engine: one connection is all it uses."""
    return make_engine(url, pool_size=1)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from loanbook.demo import build_demo
    from loanbook.settings import field_cipher

    engine = make_engine(settings.database_url)
    cipher = field_cipher(settings)
    upgrade(engine, cipher=cipher)
    try:
        with _progress(f"demo {args.tenant}", unit="days") as progress:
            summary = build_demo(engine, cipher, tenant=args.tenant, loans=args.loans, months=args.months,
                                 seed=args.seed, progress=progress)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_demo_summary(summary)
    return 0 if summary.clean else 1


def print_demo_summary(summary) -> None:  # noqa: ANN001
    statuses = ", ".join(f"{count} {status.lower()}" for status, count in summary.loans_by_status.items())
    print(f"demo tenant {summary.tenant!r}: business dates {summary.first_day} to {summary.last_day} closed")
    print(f"  loans: {statuses}")
    print(f"  PAR30: {summary.par30}; {summary.written_off} written off, {summary.recovered} recovery(ies), "
          f"{summary.receipts} unidentified receipt(s) in suspense")
    print(f"  trial balance: {'balanced' if summary.trial_balance_balanced else 'NOT BALANCED'}; "
          f"verify: {'clean' if not summary.discrepancies else f'{len(summary.discrepancies)} discrepancy(ies)'}")
    for problem in summary.discrepancies[:discrepancies_shown_max]:
        print(f"  DISCREPANCY: {problem}")


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
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":  # one snapshot for every check, while others keep posting
            conn.execution_options(isolation_level="REPEATABLE READ")
        report = verify_books(conn, tenant_ids)
        for tenant_id in tenant_ids:
            report.discrepancies += verify_subledger(conn, tenant_id)
        digest_problems = _check_digest(conn, tenant_ids, args.digest) if args.digest else []
        report.discrepancies = digest_problems + report.discrepancies
    print(
        f"verified {report.tenants} tenant(s): {report.entries} entries, {report.postings} postings, "
        f"{report.audit_events} audit events ({report.chained_events} chained), {report.balance_rows} balance rows"
    )
    for problem in report.discrepancies[:discrepancies_shown_max]:
        print(f"DISCREPANCY: {problem}")
    if len(report.discrepancies) > discrepancies_shown_max:
        print(f"... and {len(report.discrepancies) - discrepancies_shown_max} more")
    if args.digest and not digest_problems:
        print(f"digest {args.digest.strip()}: the history up to it is unchanged")
    print("clean" if report.clean else f"{len(report.discrepancies)} discrepancy(ies) found")
    return 0 if report.clean else 1


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
                conn, service.tenant_id_for(conn, args.tenant), role, name=args.name, actor_name="cli", now=now,
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
        return identity_service.revoke_token(conn, args.token, actor_name="cli", now=utc_now(), tenant_id=tenant_id)

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


if __name__ == "__main__":
    sys.exit(main())
