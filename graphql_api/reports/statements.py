"""Report queries: each takes `asOf` (or a period) and an optional `knownOn`; reads in a thread (reports)."""
from __future__ import annotations

import base64
import datetime as dt
import uuid

import orjson
import strawberry
from strawberry.types import Info

from graphql_api.core.errors import BadUserInput
from graphql_api.core.scalars import encode_id
from graphql_api.core.types import Money, money
from ledger.queries import load_accounts
from loans.tape import loan_tape, tape_business_date
from reports import statements
from reports.tables import classification_summary


@strawberry.type(description="An account's figure in one currency, on the account's normal side.")
class ReportLine:
    account_code: str
    account_name: str
    amount: Money


@strawberry.type
class ReportSection:
    lines: list[ReportLine]
    totals: list[Money]


def _section(section: statements.Section) -> ReportSection:
    return ReportSection(
        lines=[ReportLine(account_code=li.account.code, account_name=li.account.name, amount=money(li.amount_minor, li.currency))
               for li in section.lines],
        totals=[money(v, c) for c, v in sorted(section.totals().items())],
    )


@strawberry.type(description="Assets = liabilities + equity + current earnings (income less expense not yet closed), per currency.")
class BalanceSheet:
    as_of: dt.date
    known_on: dt.datetime | None
    assets: ReportSection
    liabilities: ReportSection
    equity: ReportSection
    current_earnings: list[Money]
    balanced: bool


@strawberry.type(description="Income and expense moved in the period, year-end closing entries left out.")
class IncomeStatement:
    date_from: dt.date
    date_to: dt.date
    known_on: dt.datetime | None
    income: ReportSection
    expenses: ReportSection
    net_income: list[Money]


@strawberry.type
class GeneralLedgerLine:
    effective_date: dt.date
    entry_id: strawberry.ID
    line_no: int
    description: str
    amount: Money = strawberry.field(description="Positive for a debit, negative for a credit.")
    running_balance: Money = strawberry.field(description="On the account's normal side, after this line.")


@strawberry.type(description="One page of an account's postings: `openingBalance` before its first line; `closingBalance` on the last page.")
class GeneralLedgerDetail:
    account_code: str
    currency: str
    opening_balance: Money
    lines: list[GeneralLedgerLine]
    closing_balance: Money | None
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page; null on the last page.")


@strawberry.type(description="One loan on the tape: the snapshot of the last business date closed by asOf (and known by knownOn).")
class LoanTapeRow:
    loan_id: strawberry.ID
    business_date: dt.date
    product_code: str
    status: str
    principal: Money
    interest: Money
    fees: Money
    penalties: Money
    provision: Money
    days_past_due: int
    bucket: str
    loan_class: str
    non_accrual: bool


@strawberry.type
class ClassificationLine:
    loan_class: str
    loans: int
    principal: Money
    provision: Money


def _cursor(value: tuple) -> str:
    day, entry_id, line_no, running = value
    return base64.urlsafe_b64encode(orjson.dumps([str(day), str(entry_id), line_no, running])).decode()


def _decode(cursor: str) -> tuple:
    try:
        day, entry_id, line_no, running = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        return dt.date.fromisoformat(day), uuid.UUID(entry_id), int(line_no), int(running)
    except (ValueError, TypeError):
        raise BadUserInput("after is not a cursor this query returned") from None


def _aware(known_on: dt.datetime | None) -> dt.datetime | None:
    if known_on is not None and known_on.tzinfo is None:
        raise BadUserInput("knownOn needs a time zone (e.g. 2026-01-31T23:59:59Z)")
    return known_on


@strawberry.type
class ReportsQuery:
    @strawberry.field(description="The balance sheet as of a date; knownOn leaves out entries recorded after it.")
    async def balance_sheet(self, info: Info, as_of: dt.date, known_on: dt.datetime | None = None) -> BalanceSheet:
        ctx = info.context
        session = await ctx.authorize("balanceSheet")
        bs = await _read(ctx, statements.balance_sheet, session.principal.tenant_id, as_of, _aware(known_on))
        return BalanceSheet(as_of=as_of, known_on=known_on, assets=_section(bs.assets), liabilities=_section(bs.liabilities),
                            equity=_section(bs.equity), current_earnings=[money(v, c) for c, v in sorted(bs.current_earnings.items())],
                            balanced=bs.balanced())

    @strawberry.field(description="The income statement for dateFrom to dateTo (both included).")
    async def income_statement(
        self, info: Info, date_from: dt.date, date_to: dt.date, known_on: dt.datetime | None = None
    ) -> IncomeStatement:
        ctx = info.context
        session = await ctx.authorize("incomeStatement")
        if date_from > date_to:
            raise BadUserInput("dateFrom is after dateTo")
        inc = await _read(ctx, statements.income_statement, session.principal.tenant_id, date_from, date_to, _aware(known_on))
        return IncomeStatement(date_from=date_from, date_to=date_to, known_on=known_on, income=_section(inc.income),
                               expenses=_section(inc.expenses), net_income=[money(v, c) for c, v in inc.net_income().items()])

    @strawberry.field(description="An account's postings in a period with running balance, paged (`first` at most 1000).")
    async def general_ledger_detail(
        self, info: Info, account_code: str, currency: str, date_from: dt.date, date_to: dt.date,
        known_on: dt.datetime | None = None, first: int = 100, after: str | None = None,
    ) -> GeneralLedgerDetail | None:
        ctx = info.context
        session = await ctx.authorize("generalLedgerDetail")
        if not 1 <= first <= statements.gl_page_size_max:
            raise BadUserInput(f"first must be between 1 and {statements.gl_page_size_max}")
        position = None if after is None else _decode(after)
        tenant_id, moment = session.principal.tenant_id, _aware(known_on)

        def page(conn):  # type: ignore[no-untyped-def]
            account = load_accounts(conn, tenant_id, [account_code]).get(account_code)
            if account is None:
                return None
            return statements.general_ledger_detail(conn, tenant_id, account, currency, date_from, date_to,
                                                    known_on=moment, after=position, limit=first)

        found = await _read(ctx, page)
        if found is None:
            return None
        return GeneralLedgerDetail(
            account_code=account_code, currency=currency, opening_balance=money(found.opening_minor, currency),
            lines=[GeneralLedgerLine(effective_date=d.line.effective_date, entry_id=encode_id("JournalEntry", d.line.entry_id),
                                     line_no=d.line.line_no, description=d.line.description, amount=money(d.line.amount_minor, currency),
                                     running_balance=money(d.running_minor, currency)) for d in found.lines],
            closing_balance=None if found.closing_minor is None else money(found.closing_minor, currency),
            end_cursor=None if found.next_cursor is None else _cursor(found.next_cursor),
        )

    @strawberry.field(description="One row per loan as of a date (at most `first`, 10000 by default).")
    async def loan_tape(self, info: Info, as_of: dt.date, known_on: dt.datetime | None = None, first: int = 10000) -> list[LoanTapeRow]:
        ctx = info.context
        session = await ctx.authorize("loanTape")
        if not 1 <= first <= 100_000:
            raise BadUserInput("first must be between 1 and 100000")
        tenant_id, moment = session.principal.tenant_id, _aware(known_on)

        def rows(conn):  # type: ignore[no-untyped-def]
            day = tape_business_date(conn, tenant_id, as_of, moment)
            found = []
            for r in loan_tape(conn, tenant_id, day):
                if len(found) == first:
                    break
                c = r.currency
                found.append(LoanTapeRow(
                    loan_id=encode_id("Loan", r.loan_id), business_date=day, product_code=r.product_code, status=r.status,
                    principal=money(r.principal, c), interest=money(r.interest, c), fees=money(r.fee, c),
                    penalties=money(r.penalty, c), provision=money(r.provision, c), days_past_due=r.dpd, bucket=r.bucket,
                    loan_class=r.loan_class, non_accrual=r.non_accrual,
                ))
            return found

        return await _read(ctx, rows)

    @strawberry.field(description="Active loans per class (NORMAL to LOSS): count, principal and provision, per currency.")
    async def classification_summary(
        self, info: Info, as_of: dt.date, known_on: dt.datetime | None = None
    ) -> list[ClassificationLine]:
        ctx = info.context
        session = await ctx.authorize("classificationSummary")
        sums = await _read(ctx, classification_summary, session.principal.tenant_id, as_of, _aware(known_on))
        return [ClassificationLine(loan_class=k, loans=n, principal=money(p, c), provision=money(v, c))
                for (c, k), (n, p, v) in sorted(sums.items())]


async def _read(ctx, fn, *args):  # type: ignore[no-untyped-def]
    from graphql_api.core.threads import read

    return await read(ctx.engine, fn, *args)
