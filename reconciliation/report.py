"""The reconciliation report: the bank's balance, the books' balance and the items that explain the gap.

As of a date: `statement_balance` is the closing balance of the last statement on or before it (for
statements without balances, CSV and Excel exports, the sum of the lines booked by then);
`ledger_balance` the bank account's balance in the books. A match counts as cleared as of the date
when all its lines are booked and all its postings dated by then. What is not cleared is outstanding:
money in the books not yet at the bank (`deposits_in_transit`), money out of the books not yet
presented (`unpresented_payments`), and the bank's lines the books lack (`unbooked_bank_items`, signed).
`difference` = statement + deposits in transit - unpresented payments - unbooked bank items - ledger:
zero when every item is explained, otherwise by how much it is not.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import NamedTuple

from sqlalchemy.engine import Connection

from ledger import errors as ledger_errors
from ledger.queries import account_postings, balance_as_of, current_balances, load_accounts
from reconciliation.store import repository


class Report(NamedTuple):
    bank_account_code: str
    currency: str
    as_of: dt.date
    statement_balance_minor: int
    ledger_balance_minor: int
    deposits_in_transit_minor: int
    unpresented_payments_minor: int
    unbooked_bank_items_minor: int
    difference_minor: int
    outstanding_postings: int
    outstanding_lines: int


def reconciliation_report(conn: Connection, tenant_id: int, code: str, as_of: dt.date, currency: str | None = None) -> Report:
    account = load_accounts(conn, tenant_id, [code]).get(code)
    if account is None:
        raise ledger_errors.UnknownAccount(f"no account with code {code!r}", account=code)
    currency = (currency or repository.any_statement_currency(conn, tenant_id, code) or (account.currencies or ("",))[0]
                or next((b.currency for b in current_balances(conn, tenant_id, code)), ""))
    if not currency:
        raise ledger_errors.InvalidInput(f"bank account {code} has no statements and no fixed currency", field="bankAccountCode")
    link_lines, link_postings = repository.match_links(conn, tenant_id, code)
    latest: dict[object, dt.date] = defaultdict(lambda: dt.date.min)
    for row in link_lines:
        latest[row.match_id] = max(latest[row.match_id], row.booking_date)
    for row in link_postings:
        latest[row.match_id] = max(latest[row.match_id], row.effective_date)
    cleared = {match_id for match_id, day in latest.items() if day <= as_of}
    cleared_lines = {row.line_id for row in link_lines if row.match_id in cleared}
    cleared_postings = {(row.entry_id, row.posting_line_no) for row in link_postings if row.match_id in cleared}
    lines = repository.lines_through(conn, tenant_id, code, currency, as_of)
    unbooked = sum(row.amount_minor for row in lines if row.id not in cleared_lines)
    outstanding_lines = sum(1 for row in lines if row.id not in cleared_lines)
    deposits = unpresented = outstanding_postings = 0
    for posting in account_postings(conn, tenant_id, code, currency, date_to=as_of):
        if (posting.entry_id, posting.line_no) in cleared_postings:
            continue
        outstanding_postings += 1
        if posting.amount_minor > 0:
            deposits += posting.amount_minor
        else:
            unpresented -= posting.amount_minor
    statement = repository.latest_statement(conn, tenant_id, code, as_of)
    statement_balance = statement.closing_minor if statement is not None else sum(row.amount_minor for row in lines)
    ledger = balance_as_of(conn, tenant_id, code, currency, as_of)
    ledger_balance = ledger.debit_minor - ledger.credit_minor
    difference = statement_balance + deposits - unpresented - unbooked - ledger_balance
    return Report(code, currency, as_of, statement_balance, ledger_balance, deposits, unpresented, unbooked, difference,
                  outstanding_postings, outstanding_lines)


class StatementClosing(NamedTuple):
    """What the books should hold in a bank account at the end of a statement's closing date: the
    bank's closing balance, plus deposits in transit, less unpresented payments and the bank's lines
    the books lack, as of that date. It is the books' balance exactly when the reconciliation's
    difference is zero (and the bank's closing balance itself when nothing is outstanding)."""

    statement_id: object
    statement_ref: str | None
    bank_account_code: str
    currency: str
    closing_date: dt.date
    closing_minor: int
    books_minor: int


def statement_closings(conn: Connection, tenant_id: int, date_from: dt.date, date_to: dt.date) -> list[StatementClosing]:
    """Every imported statement with a closing balance dated in [date_from, date_to], reconciled as of
    its closing date."""
    found = []
    for row in repository.statements_closing_between(conn, tenant_id, date_from, date_to):
        report = reconciliation_report(conn, tenant_id, row.bank_account_code, row.closing_date, row.currency)
        books = (row.closing_minor + report.deposits_in_transit_minor - report.unpresented_payments_minor
                 - report.unbooked_bank_items_minor)
        found.append(StatementClosing(row.id, row.statement_ref, row.bank_account_code, row.currency, row.closing_date,
                                      row.closing_minor, books))
    return found
