"""The books as a Beancount file, written by loanbook's own code (Beancount itself is GPL: only its
bean-check program runs, as a separate process, to check what this writes).

What the file holds: an `open` directive per account (Beancount names must start with an ASCII
capital, so `Assets:CashAtBank:1100`, the account's own name in metadata), every journal entry as a
transaction with its metadata (entry id, loan id, the reversal it is or was undone by, as links),
and a `balance` assertion for every account at every month end, with the figures read from
loanbook's balance tables, not summed from the transactions written: bean-check passing proves
the transactions add up to loanbook's balances. Each imported bank statement with a closing
balance adds one for its bank account at its closing date, with the figure from the bank: its
closing balance adjusted by what the reconciliation shows outstanding then (deposits in transit,
unpresented payments, the bank's lines not yet booked), so it fails when the bank's balance is not
explained by the books. Never `pad`. An export from a date starts with one
opening transaction bringing every balance of the day before, against Equity:OpeningBalances.

Rows stream through: memory holds one entry, the chart and the reversal links, never the journal.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, TextIO

from ledger.model import Account, AccountType
from ledger.money import format_amount

roots = {
    AccountType.ASSET: "Assets", AccountType.LIABILITY: "Liabilities", AccountType.EQUITY: "Equity",
    AccountType.INCOME: "Income", AccountType.EXPENSE: "Expenses",
}
opening_account = "Equity:OpeningBalances"
Balances = dict[tuple[str, str], int]  # (account code, currency) -> debits - credits


class StatementAssertion(Protocol):
    """A bank statement's closing, as reconciliation.report.StatementClosing gives it."""
    statement_id: object
    statement_ref: str | None
    bank_account_code: str
    currency: str
    closing_date: dt.date
    closing_minor: int
    books_minor: int


@dataclass(frozen=True, slots=True)
class PostingRow:
    """One posting with its entry, as ledger.reporting.stream_postings yields them (entry by entry)."""
    entry_id: uuid.UUID
    effective_date: dt.date
    recorded_at: dt.datetime
    description: str
    metadata: str  # canonical JSON
    actor: str
    reverses_entry_id: uuid.UUID | None
    line_no: int
    account_code: str
    currency: str
    amount_minor: int


def _camel(name: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name)
    text = "".join(w[:1].upper() + w[1:] for w in words)[:40]
    return text if text and text[0].isalpha() else ("A" + text if text else "Account")


def account_names(accounts: Iterable[Account]) -> dict[str, str]:
    """Beancount names by code: Root:NameInCamelCase:CODE (CODE with anything but letters, digits, - as -)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for a in sorted(accounts, key=lambda a: a.code):
        code = re.sub(r"[^A-Za-z0-9-]", "-", a.code)
        code = code[:1].upper() + code[1:]
        name = f"{roots[a.type]}:{_camel(a.name)}:{code}"
        while name in taken:
            name += "-X"
        taken.add(name)
        names[a.code] = name
    return names


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ") + '"'


def month_ends(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    """The last day of every month from first's month through last's month."""
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
        yield nxt - dt.timedelta(days=1)
        year, month = nxt.year, nxt.month


def write_beancount(
    out: TextIO,
    *,
    title: str,
    accounts: list[Account],
    rows: Iterable[PostingRow],
    balances_at: Callable[[dt.date], Balances],
    reversed_by: dict[uuid.UUID, uuid.UUID],
    first_day: dt.date,
    last_day: dt.date,
    opening: Balances | None = None,
    currencies: Iterable[str] = (),
    statement_closings: Iterable[StatementAssertion] = (),
) -> int:
    """Write the file; returns the number of transactions. `balances_at(d)` is loanbook's balance as of d;
    `statement_closings` the bank statements' closing balances as the books should hold them."""
    names = account_names(accounts)
    seen_currencies = sorted(set(currencies))
    out.write("; Exported by loanbook. Balances are asserted from loanbook's own balance tables.\n")
    out.write(f"option \"title\" {_quote(title)}\n")
    for currency in seen_currencies:
        out.write(f"option \"operating_currency\" \"{currency}\"\n")
    out.write("\n")
    open_day = first_day - dt.timedelta(days=1)
    for a in sorted(accounts, key=lambda a: a.code):
        out.write(f"{open_day} open {names[a.code]}\n  code: {_quote(a.code)}\n  name: {_quote(a.name)}\n")
        out.write(f"  type: \"{a.type.value}\"\n")
    if opening:
        out.write(f"{open_day} open {opening_account}\n\n")
        out.write(f"{open_day} * \"Opening balances\"\n  loanbook-opening: TRUE\n")
        totals: dict[str, int] = {}
        for (code, currency), net in sorted(opening.items()):
            out.write(f"  {names[code]}  {format_amount(net, currency)} {currency}\n")
            totals[currency] = totals.get(currency, 0) + net
        for currency, total in sorted(totals.items()):
            if total:
                out.write(f"  {opening_account}  {format_amount(-total, currency)} {currency}\n")
    out.write("\n")
    _statement_assertions(out, names, statement_closings)
    ends = list(month_ends(first_day, last_day))
    if not ends or ends[-1] != last_day:
        ends = [e for e in ends if e < last_day] + [last_day]
    used: dict[str, set[str]] = {}
    for code, currency in (opening or {}):
        used.setdefault(code, set()).add(currency)
    count = 0
    pending: list[PostingRow] = []

    def assert_through(day: dt.date) -> None:
        while ends and ends[0] < day:
            end = ends.pop(0)
            _assertions(out, end, names, balances_at(end), used, seen_currencies)

    def flush() -> None:
        nonlocal count
        if not pending:
            return
        _transaction(out, pending, names, reversed_by)
        for p in pending:
            used.setdefault(p.account_code, set()).add(p.currency)
        count += 1
        pending.clear()

    for row in rows:
        if pending and row.entry_id != pending[0].entry_id:
            flush()
        if not pending:
            assert_through(row.effective_date)
        pending.append(row)
    flush()
    assert_through(dt.date.max)
    return count


def _transaction(out: TextIO, lines: list[PostingRow], names: dict[str, str], reversed_by: dict[uuid.UUID, uuid.UUID]) -> None:
    head = lines[0]
    links = []
    if head.reverses_entry_id is not None:
        links.append(f"^reversal-{head.reverses_entry_id}")
    if head.entry_id in reversed_by:
        links.append(f"^reversal-{head.entry_id}")
    out.write(f"{head.effective_date} * {_quote(head.description or '')}{''.join(' ' + link for link in links)}\n")
    out.write(f"  entry_id: \"{head.entry_id}\"\n  recorded_at: \"{head.recorded_at.isoformat()}\"\n  actor: {_quote(head.actor)}\n")
    metadata = json.loads(head.metadata) if head.metadata else {}
    if "loan_id" in metadata:
        out.write(f"  loan_id: {_quote(str(metadata['loan_id']))}\n")
    if head.reverses_entry_id is not None:
        out.write(f"  reverses: \"{head.reverses_entry_id}\"\n")
    if head.entry_id in reversed_by:
        out.write(f"  reversed_by: \"{reversed_by[head.entry_id]}\"\n")
    if metadata:
        out.write(f"  metadata: {_quote(json.dumps(metadata, ensure_ascii=False, sort_keys=True))}\n")
    for p in lines:
        out.write(f"  {names[p.account_code]}  {format_amount(p.amount_minor, p.currency)} {p.currency}\n")
    out.write("\n")


def _statement_assertions(out: TextIO, names: dict[str, str], closings: Iterable[StatementAssertion]) -> None:
    wrote = False
    for c in closings:
        if c.bank_account_code not in names:
            continue
        day = c.closing_date + dt.timedelta(days=1)
        out.write(f"{day} balance {names[c.bank_account_code]}  {format_amount(c.books_minor, c.currency)} {c.currency}\n")
        out.write(f"  bank_statement: \"{c.statement_id}\"\n")
        if c.statement_ref:
            out.write(f"  statement_ref: {_quote(c.statement_ref)}\n")
        out.write(f"  statement_closing_balance: \"{format_amount(c.closing_minor, c.currency)} {c.currency}\"\n")
        wrote = True
    if wrote:
        out.write("\n")


def _assertions(out: TextIO, end: dt.date, names: dict[str, str], balances: Balances, used: dict[str, set[str]],
                currencies: list[str]) -> None:
    """A balance assertion per account and currency at the end of `end` (Beancount checks the start of the next day)."""
    day = end + dt.timedelta(days=1)
    for code, name in sorted(names.items()):
        held = sorted(used.get(code, set()) | {c for (k, c) in balances if k == code}) or currencies[:1]
        for currency in held:
            out.write(f"{day} balance {name}  {format_amount(balances.get((code, currency), 0), currency)} {currency}\n")
    out.write("\n")


def export_beancount(engine, tenant_id: int, out: TextIO, *, date_from: dt.date | None = None,
                     date_to: dt.date | None = None) -> int:  # type: ignore[no-untyped-def]
    """Export one tenant's books to `out`: one connection streams the postings while another reads
    the month-end balances (period rows: a few rows per account per month) and reconciles each
    bank statement at its closing date."""

    from ledger.queries import list_accounts
    from ledger.reporting import first_and_last_dates, net_balances, reversal_links, stream_postings, tenant_slug

    from ledger.unit_of_work import read_connection
    from reconciliation.report import statement_closings

    with read_connection(engine) as reads, read_connection(engine) as stream:
        if engine.dialect.name == "postgresql":  # one snapshot for both: the balances and the rows agree
            import sqlalchemy as sa

            reads.execution_options(isolation_level="REPEATABLE READ")
            stream.execution_options(isolation_level="REPEATABLE READ")
            snapshot = reads.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
            stream.execute(sa.text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
        accounts = list_accounts(reads, tenant_id)
        first, last, currencies = first_and_last_dates(reads, tenant_id)
        today = dt.datetime.now(dt.timezone.utc).date()
        start = date_from or first or today
        end = date_to or max(last or today, start)
        opening = net_balances(reads, tenant_id, start - dt.timedelta(days=1)) if date_from else None
        rows = (PostingRow(*r) for r in stream_postings(stream, tenant_id, start, end))
        return write_beancount(
            out, title=f"loanbook: {tenant_slug(reads, tenant_id)}", accounts=accounts, rows=rows,
            balances_at=lambda day: net_balances(reads, tenant_id, day), reversed_by=reversal_links(reads, tenant_id),
            first_day=start, last_day=end, opening=opening, currencies=currencies,
            statement_closings=statement_closings(reads, tenant_id, start, end),
        )
