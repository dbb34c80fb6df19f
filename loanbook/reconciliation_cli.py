"""The CLI's bank reconciliation commands: import-statement, reconciliation-report, auto-reconcile, statement-mapping,
reconciliation-rules."""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys

from ledger import service
from ledger.actor import Actor
from ledger.money import from_minor
from ledger.unit_of_work import run_in_transaction
from loanbook.db import make_engine
from loanbook.settings import Settings, configured_field_cipher
from reconciliation import importing, reconciling
from reconciliation.parsing import formats
from reconciliation.report import reconciliation_report


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-statement", help="import a bank statement (camt.053, MT940, or CSV/.xlsx with a saved mapping)")
    p.add_argument("file")
    p.add_argument("--tenant", required=True)
    p.add_argument("--bank-account", required=True, help="the ledger account the statement is for (e.g. 1100)")
    p.add_argument("--format", choices=formats, help="default: guessed from the file name and content")
    p.add_argument("--mapping", help="the saved column mapping (CSV and .xlsx)")
    p.add_argument("--actor", default="cli")
    p.set_defaults(handler=cmd_import_statement)

    p = sub.add_parser("reconciliation-report", help="the bank account reconciled as of a date")
    p.add_argument("--tenant", required=True)
    p.add_argument("--bank-account", required=True)
    p.add_argument("--as-of", type=dt.date.fromisoformat, required=True)
    p.add_argument("--csv", action="store_true", help="print CSV (figure,amount,currency) instead of a table")
    p.set_defaults(handler=cmd_reconciliation_report)

    p = sub.add_parser("auto-reconcile", help="match a bank account's lines through a date (as the API's autoReconcile)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--bank-account", required=True)
    p.add_argument("--through", type=dt.date.fromisoformat, required=True)
    p.add_argument("--actor", default="cli")
    p.set_defaults(handler=cmd_auto_reconcile)

    p = sub.add_parser("statement-mapping", help="save a bank's CSV/.xlsx column mapping from a JSON file (see docs/reconciliation.md)")
    p.add_argument("name")
    p.add_argument("file")
    p.add_argument("--tenant", required=True)
    p.add_argument("--actor", default="cli")
    p.set_defaults(handler=cmd_statement_mapping)

    p = sub.add_parser("reconciliation-rules", help="set the tenant's matching rules, in order, from a JSON list (see docs/reconciliation.md)")
    p.add_argument("file")
    p.add_argument("--tenant", required=True)
    p.add_argument("--actor", default="cli")
    p.set_defaults(handler=cmd_reconciliation_rules)


def _actor(conn, slug: str, name: str) -> Actor:
    return Actor(service.tenant_id_for(conn, slug), name, dt.datetime.now(dt.timezone.utc))


def cmd_import_statement(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with open(args.file, "rb") as handle:
            content = handle.read()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    engine = make_engine(settings.database_url)
    result = run_in_transaction(engine, lambda conn: importing.import_statement(
        conn, _actor(conn, args.tenant, args.actor), args.bank_account, content, fmt=args.format,
        filename=args.file.rsplit("/", 1)[-1][:200], mapping_name=args.mapping))
    state = "already imported, nothing added" if result.replayed else f"{result.lines_added} lines added"
    print(f"statement {result.statement_id}: {state}; {result.lines_known} lines were known from earlier statements")
    return 0


def cmd_auto_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    # The payer_account rule looks payers up among borrowers' registered accounts: with the configured key only.
    cipher = configured_field_cipher(settings)
    engine = make_engine(settings.database_url)
    done = run_in_transaction(engine, lambda conn: reconciling.auto_reconcile(
        conn, _actor(conn, args.tenant, args.actor), args.bank_account, args.through, cipher=cipher))
    print(f"matched {done.matched}, proposed {done.proposed}, unmatched {done.unmatched}, "
          f"repayments booked {done.repayments_booked}")
    return 0


def cmd_reconciliation_report(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        report = reconciliation_report(conn, service.tenant_id_for(conn, args.tenant), args.bank_account, args.as_of)
    figures = [
        ("statementBalance", report.statement_balance_minor), ("depositsInTransit", report.deposits_in_transit_minor),
        ("unpresentedPayments", report.unpresented_payments_minor), ("unbookedBankItems", report.unbooked_bank_items_minor),
        ("ledgerBalance", report.ledger_balance_minor), ("difference", report.difference_minor),
    ]
    if args.csv:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(["figure", "amount", "currency"])
        for name, minor in figures:
            out.writerow([name, from_minor(minor, report.currency), report.currency])
        return 0
    print(f"bank account {report.bank_account_code} as of {report.as_of} ({report.currency})")
    for name, minor in figures:
        print(f"  {name:<20} {from_minor(minor, report.currency):>20}")
    print(f"  outstanding: {report.outstanding_postings} postings, {report.outstanding_lines} bank lines")
    return 0


def cmd_statement_mapping(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with open(args.file, encoding="utf-8") as handle:
            definition = json.load(handle)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {args.file} as JSON: {exc}", file=sys.stderr)
        return 1
    engine = make_engine(settings.database_url)
    run_in_transaction(engine, lambda conn: importing.save_mapping(conn, _actor(conn, args.tenant, args.actor), args.name, definition))
    print(f"mapping {args.name} saved")
    return 0


def cmd_reconciliation_rules(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with open(args.file, encoding="utf-8") as handle:
            rules = json.load(handle)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {args.file} as JSON: {exc}", file=sys.stderr)
        return 1
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        print("error: the rules file must be a JSON list of objects", file=sys.stderr)
        return 1
    engine = make_engine(settings.database_url)
    saved = run_in_transaction(engine, lambda conn: reconciling.save_rules(conn, _actor(conn, args.tenant, args.actor), rules))
    print(f"{len(saved)} rules saved: " + ", ".join(str(rule["kind"]) for rule in saved))
    return 0
