"""Reports as rows of text for CSV and JSON output (`loanbook report NAME`): one place names the columns.

Amounts are decimal strings in the currency's own precision (ledger.money.format_amount), never
floats. A report is (columns, rows) with rows streamed where the report can be long (GL detail,
loan tape), so a large book does not sit in memory.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal

from sqlalchemy.engine import Connection

from ledger import errors
from ledger.money import format_amount
from ledger.queries import load_accounts
from loans.portfolio import statement
from loans.tape import TapeRow, loan_tape, tape_business_date
from reports import statements

report_names = ("trial-balance", "balance-sheet", "income-statement", "gl-detail", "loan-tape", "classification", "loan-statement")


def _money(minor: int, currency: str) -> str:
    return format_amount(minor, currency)


def build(
    conn: Connection, tenant_id: int, name: str, as_of: dt.date, *, known_on: dt.datetime | None = None,
    date_from: dt.date | None = None, account: str | None = None, currency: str | None = None,
    loan_id: uuid.UUID | None = None,
) -> tuple[list[str], Iterator[list[str]]]:
    if name == "trial-balance":
        tb = statements.trial_balance(conn, tenant_id, as_of, known_on)
        rows = [[a.code, a.name, a.type.value, c, _money(d, c), _money(k, c)] for a, c, d, k in tb.lines]
        rows += [["TOTAL", "", "", c, _money(d, c), _money(k, c)] for c, (d, k) in tb.totals().items()]
        return ["account", "name", "type", "currency", "debit", "credit"], iter(rows)
    if name == "balance-sheet":
        bs = statements.balance_sheet(conn, tenant_id, as_of, known_on)
        rows = []
        for section in (bs.assets, bs.liabilities, bs.equity):
            rows += [[section.type.value, li.account.code, li.account.name, li.currency, _money(li.amount_minor, li.currency)]
                     for li in section.lines]
        rows += [["EQUITY", "", "Current earnings (not yet closed)", c, _money(v, c)] for c, v in sorted(bs.current_earnings.items())]
        for section in (bs.assets, bs.liabilities, bs.equity):
            rows += [[f"TOTAL {section.type.value}", "", "", c, _money(v, c)] for c, v in sorted(section.totals().items())]
        return ["section", "account", "name", "currency", "amount"], iter(rows)
    if name == "income-statement":
        start = date_from or as_of.replace(month=1, day=1)
        inc = statements.income_statement(conn, tenant_id, start, as_of, known_on)
        rows = []
        for section in (inc.income, inc.expenses):
            rows += [[section.type.value, li.account.code, li.account.name, li.currency, _money(li.amount_minor, li.currency)]
                     for li in section.lines]
        rows += [["NET INCOME", "", f"{start} to {as_of}", c, _money(v, c)] for c, v in inc.net_income().items()]
        return ["section", "account", "name", "currency", "amount"], iter(rows)
    if name == "gl-detail":
        return ["date", "entry_id", "line", "description", "debit", "credit", "balance"], _gl_rows(
            conn, tenant_id, account, currency, date_from, as_of, known_on)
    if name == "loan-tape":
        day = tape_business_date(conn, tenant_id, as_of, known_on)
        return list(_tape_columns), (_tape_row(r, day) for r in loan_tape(conn, tenant_id, day))
    if name == "classification":
        return ["currency", "class", "loans", "principal", "provision", "coverage"], iter(_classification(conn, tenant_id, as_of, known_on))
    if name == "loan-statement":
        if loan_id is None:
            raise errors.InvalidInput("loan-statement needs --loan", field="loan")
        return list(_statement_columns), _statement_rows(conn, tenant_id, loan_id, as_of, known_on)
    raise errors.InvalidInput(f"unknown report {name!r}; one of {', '.join(report_names)}", field="name")


def _gl_rows(conn, tenant_id, code, currency, date_from, as_of, known_on) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    if not code or not currency:
        raise errors.InvalidInput("gl-detail needs --account and --currency", field="account")
    account = load_accounts(conn, tenant_id, [code]).get(code)
    if account is None:
        raise errors.UnknownAccount(f"no account with code {code!r}", account=code)
    start = date_from or as_of.replace(month=1, day=1)
    cursor = None
    first = True
    while True:
        page = statements.general_ledger_detail(conn, tenant_id, account, currency, start, as_of, known_on=known_on,
                                                after=cursor, limit=statements.gl_page_size_max)
        if first:
            yield [str(start), "", "", "Opening balance", "", "", _money(page.opening_minor, currency)]
            first = False
        for d in page.lines:
            amount = d.line.amount_minor
            yield [str(d.line.effective_date), str(d.line.entry_id), str(d.line.line_no), d.line.description,
                   _money(amount, currency) if amount > 0 else "", _money(-amount, currency) if amount < 0 else "",
                   _money(d.running_minor, currency)]
        if page.next_cursor is None:
            yield [str(as_of), "", "", "Closing balance", "", "", _money(page.closing_minor or 0, currency)]
            return
        cursor = page.next_cursor


_tape_columns = ("business_date", "loan_id", "product", "status", "currency", "principal", "interest", "fee", "penalty",
                 "provision", "dpd", "bucket", "class", "non_accrual")


def _tape_row(r: TapeRow, day: dt.date | None) -> list[str]:
    c = r.currency
    return [str(day), str(r.loan_id), r.product_code, r.status, c, _money(r.principal, c), _money(r.interest, c),
            _money(r.fee, c), _money(r.penalty, c), _money(r.provision, c), str(r.dpd), r.bucket, r.loan_class,
            "true" if r.non_accrual else "false"]


def classification_summary(conn: Connection, tenant_id: int, as_of: dt.date, known_on: dt.datetime | None = None) -> dict:
    """{(currency, class): [loans, principal, provision]} over the active loans of the tape."""
    day = tape_business_date(conn, tenant_id, as_of, known_on)
    sums: dict[tuple[str, str], list[int]] = {}
    for r in loan_tape(conn, tenant_id, day):
        if r.status != "ACTIVE":
            continue
        s = sums.setdefault((r.currency, r.loan_class), [0, 0, 0])
        s[0] += 1
        s[1] += r.principal
        s[2] += r.provision
    return sums


def _classification(conn: Connection, tenant_id: int, as_of: dt.date, known_on: dt.datetime | None) -> list[list[str]]:
    rows = []
    for (currency, loan_class), (n, principal, provision) in sorted(classification_summary(conn, tenant_id, as_of, known_on).items()):
        coverage = "" if not principal else str((Decimal(provision) / Decimal(principal)).quantize(Decimal("0.0001")))
        rows.append([currency, loan_class, str(n), _money(principal, currency), _money(provision, currency), coverage])
    return rows


_statement_columns = ("section", "ref", "date", "kind", "amount", "principal", "interest", "fee", "penalty", "paid",
                      "outstanding", "recorded_at")


def _statement_rows(
    conn: Connection, tenant_id: int, loan_id: uuid.UUID, as_of: dt.date, known_on: dt.datetime | None
) -> Iterator[list[str]]:
    """A borrower's statement: a BALANCE row (the loan's pools at the end of `as_of`), an INSTALLMENT
    row per installment of the schedule then, and a TRANSACTION row per transaction effective by then.
    The BALANCE row's amount is what the borrower owes, its outstanding that less the borrower's credit."""
    found = statement(conn, tenant_id, loan_id, as_of, known_on=known_on)
    c = found.loan.currency
    s = found.state
    if s is not None:
        owed = s.principal + s.interest + s.interest_suspended + s.fee + s.penalty + s.penalty_suspended
        yield ["BALANCE", str(loan_id), str(as_of), found.loan.status.value, _money(owed, c), _money(s.principal, c),
               _money(s.interest + s.interest_suspended, c), _money(s.fee, c), _money(s.penalty + s.penalty_suspended, c),
               "", _money(owed - s.overpayment, c), ""]
    for i in found.installments:
        yield ["INSTALLMENT", str(i.number), str(i.due_date), i.status, _money(i.principal + i.interest + i.fee, c),
               _money(i.principal, c), _money(i.interest, c), _money(i.fee, c), "", _money(i.paid, c),
               _money(i.outstanding, c), ""]
    while True:
        for t in found.transactions:
            yield ["TRANSACTION", str(t.id), str(t.effective_date), t.type, _money(t.amount, c), _money(t.principal, c),
                   _money(t.interest, c), _money(t.fee, c), _money(t.penalty, c), "", "", _utc(t.recorded_at)]
        if found.next_page is None:
            return
        found = statement(conn, tenant_id, loan_id, as_of, after=found.next_page, known_on=known_on)


def _utc(moment: dt.datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc).isoformat()
