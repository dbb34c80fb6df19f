"""Trial balance, balance sheet, income statement and general-ledger detail, as of and as known on.

Every report takes `as_of` (effective date) and an optional `known_on` (leave out entries recorded
after it); the sums come from ledger.reporting. Amounts are integer minor units, shown on each
account's normal side (a negative figure is a balance on the other side).

The balance sheet carries the year's unclosed result as "current earnings" (income less expense
since the books began, less what year-end closes moved to retained earnings), so assets equal
liabilities plus equity on any date. The income statement leaves out year-end closing entries:
closing a year does not make its own income statement zero.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from ledger import periods
from ledger.model import Account, AccountType, NormalBalance
from ledger.queries import list_accounts
from ledger.reporting import LedgerLine, account_lines, balance_before, entries_net, net_balances

gl_page_size_max = 1000


@dataclass(frozen=True, slots=True)
class Line:
    account: Account
    currency: str
    amount_minor: int  # on the account's normal side


@dataclass
class Section:
    type: AccountType
    lines: list[Line] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        sums: dict[str, int] = {}
        for line in self.lines:
            sums[line.currency] = sums.get(line.currency, 0) + line.amount_minor
        return sums


@dataclass
class TrialBalanceReport:
    as_of: dt.date
    known_on: dt.datetime | None
    lines: list[tuple[Account, str, int, int]]  # account, currency, debit, credit

    def totals(self) -> dict[str, tuple[int, int]]:
        sums: dict[str, list[int]] = {}
        for _, currency, d, c in self.lines:
            pair = sums.setdefault(currency, [0, 0])
            pair[0] += d
            pair[1] += c
        return {k: (v[0], v[1]) for k, v in sorted(sums.items())}


@dataclass
class BalanceSheet:
    as_of: dt.date
    known_on: dt.datetime | None
    assets: Section
    liabilities: Section
    equity: Section
    current_earnings: dict[str, int]  # income less expense not yet closed to retained earnings

    def balanced(self) -> bool:
        currencies = set(self.assets.totals()) | set(self.liabilities.totals()) | set(self.equity.totals()) | set(self.current_earnings)
        return all(
            self.assets.totals().get(c, 0)
            == self.liabilities.totals().get(c, 0) + self.equity.totals().get(c, 0) + self.current_earnings.get(c, 0)
            for c in currencies
        )


@dataclass
class IncomeStatement:
    date_from: dt.date
    date_to: dt.date
    known_on: dt.datetime | None
    income: Section
    expenses: Section

    def net_income(self) -> dict[str, int]:
        income, expenses = self.income.totals(), self.expenses.totals()
        return {c: income.get(c, 0) - expenses.get(c, 0) for c in sorted(set(income) | set(expenses))}


def _normal(account: Account, net: int) -> int:
    return net if account.normal_balance is NormalBalance.DEBIT else -net


def trial_balance(conn: Connection, tenant_id: int, as_of: dt.date, known_on: dt.datetime | None = None) -> TrialBalanceReport:
    chart = {a.code: a for a in list_accounts(conn, tenant_id)}
    nets = net_balances(conn, tenant_id, as_of, known_on)
    lines = [(chart[code], currency, max(net, 0), max(-net, 0)) for (code, currency), net in sorted(nets.items())]
    return TrialBalanceReport(as_of, known_on, lines)


def balance_sheet(conn: Connection, tenant_id: int, as_of: dt.date, known_on: dt.datetime | None = None) -> BalanceSheet:
    chart = {a.code: a for a in list_accounts(conn, tenant_id)}
    sections = {t: Section(t) for t in AccountType}
    earnings: dict[str, int] = {}
    for (code, currency), net in sorted(net_balances(conn, tenant_id, as_of, known_on).items()):
        account = chart[code]
        if account.type in (AccountType.INCOME, AccountType.EXPENSE):
            earnings[currency] = earnings.get(currency, 0) - net  # credit-positive
            continue
        sections[account.type].lines.append(Line(account, currency, _normal(account, net)))
    return BalanceSheet(as_of, known_on, sections[AccountType.ASSET], sections[AccountType.LIABILITY],
                        sections[AccountType.EQUITY], {c: v for c, v in earnings.items() if v})


def income_statement(
    conn: Connection, tenant_id: int, date_from: dt.date, date_to: dt.date, known_on: dt.datetime | None = None
) -> IncomeStatement:
    chart = {a.code: a for a in list_accounts(conn, tenant_id)}
    end = net_balances(conn, tenant_id, date_to, known_on)
    start = net_balances(conn, tenant_id, date_from - dt.timedelta(days=1), known_on)
    closing = entries_net(conn, tenant_id, list(periods.year_end_entry_ids(conn, tenant_id).values()), date_from, date_to, known_on)
    income, expenses = Section(AccountType.INCOME), Section(AccountType.EXPENSE)
    for key in sorted(set(end) | set(start) | set(closing)):
        account = chart[key[0]]
        if account.type not in (AccountType.INCOME, AccountType.EXPENSE):
            continue
        moved = end.get(key, 0) - start.get(key, 0) - closing.get(key, 0)
        if moved:
            target = income if account.type is AccountType.INCOME else expenses
            target.lines.append(Line(account, key[1], _normal(account, moved)))
    return IncomeStatement(date_from, date_to, known_on, income, expenses)


@dataclass(frozen=True, slots=True)
class DetailLine:
    line: LedgerLine
    running_minor: int  # normal side


@dataclass
class GeneralLedgerDetail:
    account: Account
    currency: str
    date_from: dt.date
    date_to: dt.date
    opening_minor: int  # of the page: the running balance before its first line
    lines: list[DetailLine]
    closing_minor: int | None  # the period's closing balance, on its last page only
    next_cursor: tuple[dt.date, uuid.UUID, int, int] | None  # (date, entry, line, running) after this page


def general_ledger_detail(
    conn: Connection, tenant_id: int, account: Account, currency: str, date_from: dt.date, date_to: dt.date, *,
    known_on: dt.datetime | None = None, after: tuple[dt.date, uuid.UUID, int, int] | None = None, limit: int = 100,
) -> GeneralLedgerDetail:
    """One page of the account's postings with running balance; `after` is the previous page's next_cursor."""
    limit = max(1, min(limit, gl_page_size_max))
    if after is None:
        running = _normal(account, balance_before(conn, tenant_id, account.code, currency, date_from, known_on))
        position = None
    else:
        running, position = after[3], after[:3]
    opening = running
    found = account_lines(conn, tenant_id, account.code, currency, date_from, date_to, known_on=known_on,
                          after=position, limit=limit + 1)
    lines = []
    for line in found[:limit]:
        running += _normal(account, line.amount_minor)
        lines.append(DetailLine(line, running))
    more = len(found) > limit
    cursor = (lines[-1].line.effective_date, lines[-1].line.entry_id, lines[-1].line.line_no, running) if more else None
    return GeneralLedgerDetail(account, currency, date_from, date_to, opening, lines, None if more else running, cursor)
