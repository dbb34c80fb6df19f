"""`loanbook accounts`, `post`, `import`, `reverse` and `trial-balance`: the journal from the command line."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import uuid

import sqlalchemy as sa

from ledger import errors, queries, service
from ledger.actor import Actor
from ledger.importing import check_against_chart, line_errors_max, read_entries
from ledger.model import EntryDraft, credit, debit
from ledger.money import format_amount
from ledger.unit_of_work import run_in_transaction
from loanbook.db import make_engine
from loanbook.settings import Settings


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def add_journal_commands(sub: argparse._SubParsersAction) -> None:
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
    # Read as bytes: each line is decoded on its own, so text that is not UTF-8 is a bad line, named like the others.
    if args.file == "-":
        numbered, problems = read_entries(getattr(sys.stdin, "buffer", sys.stdin))
    else:
        try:
            with open(args.file, "rb") as handle:
                numbered, problems = read_entries(handle)
        except OSError as exc:
            print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return 2
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        tenant_id = service.tenant_id_for(conn, args.tenant)
        if len(problems) < line_errors_max:
            codes = sorted({p.account_code for _, draft in numbered for p in draft.postings})
            chart = queries.load_accounts(conn, tenant_id, codes)
            problems += check_against_chart(
                numbered, chart, errors_max=line_errors_max - len(problems),
                children_of=lambda code: queries.open_child_codes(conn, tenant_id, code),
            )
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
