"""Loan queries: the loan book, one loan, its statement, a payoff quote, a restructure preview, the portfolio."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Union

import strawberry
from strawberry.types import Info

from graphql_api.core import error_types as e
from graphql_api.core.inputs import RefusedInput, input_id
from graphql_api.core.scalars import check_page_size
from graphql_api.loans.types import (
    Allocation,
    BucketEnum,
    InstallmentStatus,
    Loan,
    LoanClassEnum,
    LoanStatusEnum,
    LoanBalances,
    LoanTransaction,
    domain_allocation,
    loan_balances_type,
    loan_transaction_type,
    loan_type,
)
from graphql_api.core.errors import BadUserInput
from graphql_api.core.scalars import decode_cursor, decode_id, decode_time_cursor, encode_cursor, encode_id, encode_time_cursor, utc
from graphql_api.schedules.preview import Schedule, schedule_type
from graphql_api.core.threads import read
from graphql_api.core.types import Connection, Money, as_mirror, connection, money
from ledger import errors as ledger_errors
from loans import portfolio as loan_portfolio
from loans import money as money_commands
from loans.delinquency import Bucket, LoanClass, bucket_short_names
from loans.errors import UnknownLoan
from loans.portfolio import statement_transactions_max
from loans.queries import loan_row, loans_page
from loans.state import LoanStatus

loans_page_size_default = 50


# ---------------------------------------------------------------- statement


@strawberry.type(description="One installment on a statement: what was due, what was paid, what is left.")
class StatementLine:
    number: int
    due_date: dt.date
    principal: Money
    interest: Money
    fee: Money
    paid: Money
    outstanding: Money
    status: InstallmentStatus = strawberry.field(description="PAID; OVERDUE when due before `asOf` and unpaid; DUE otherwise.")


@strawberry.type(description="A loan's statement as of a date: its schedule with paid and outstanding amounts, and its history.")
class LoanStatement:
    loan: Loan = strawberry.field(description="The loan as it is now.")
    as_of: dt.date
    known_on: dt.datetime | None = strawberry.field(description="The moment the statement was read as known on, if one was asked for.")
    lines: list[StatementLine] = strawberry.field(
        description="The schedule in force on `asOf`, each installment as paid, due or overdue then (empty before disbursement)."
    )
    balances: LoanBalances | None = strawberry.field(description="The loan's pools at the end of `asOf` (null before disbursement).")
    transactions: list[LoanTransaction] = strawberry.field(
        description=f"Transactions effective on or before `asOf`, oldest first by effective date; at most "
        f"`transactionsFirst` (<= {statement_transactions_max}) a page: see `transactionsTruncated`."
    )
    transactions_total: int = strawberry.field(description="How many transactions are effective on or before `asOf`, on all pages.")
    transactions_truncated: bool = strawberry.field(
        description="True when more transactions follow this page: pass `transactionsEndCursor` as `transactionsAfter`."
    )
    transactions_end_cursor: str | None = strawberry.field(description="Where the next page starts; null on the last page.")


def _statement_cursor(text: str | None) -> loan_portfolio.StatementCursor | None:
    if text is None:
        return None
    day, at, row_id = decode_cursor("LoanStatement", text, 3)
    try:
        return dt.date.fromisoformat(day), utc(dt.datetime.fromisoformat(at)), uuid.UUID(row_id)
    except ValueError:
        raise BadUserInput("`transactionsAfter` is not a cursor this statement returned; start again without it") from None


# ---------------------------------------------------------------- payoff quote and restructure preview

quote_errors = (
    e.InvalidInputError, e.UnknownLoanError, e.IllegalTransitionError, e.LoanClosedError, e.DateBeforeDisbursementError,
    e.DateAfterBusinessDateError, e.GenericError,
)


@strawberry.type(description="What settles the loan on `date`: principal, interest earned to the date, fees and penalties, less the borrower's credit.")
class PayoffQuote:
    loan_id: strawberry.ID
    date: dt.date
    breakdown: Allocation = strawberry.field(description="`overpayment` is negative: the borrower's credit, applied first.")
    amount: Money = strawberry.field(description="Pay this with payOffLoan on `date`.")


PayoffQuoteResult = Annotated[Union[(PayoffQuote, *quote_errors)], strawberry.union("PayoffQuoteResult")]  # noqa: UP007


@strawberry.input(description="Proposed new terms for a loan; unset terms stay as they are.")
class RestructurePreviewInput:
    loan_id: strawberry.ID
    effective_date: dt.date = strawberry.field(description="The loan's open business date.")
    annual_rate: Decimal | None = None
    term_periods: int | None = strawberry.field(default=None, description="Periods of the new schedule, from the date.")
    capitalise_arrears: bool = strawberry.field(default=True, description="Add unpaid interest, fees and penalties to the principal.")


@strawberry.type(description="The schedule a restructure would give; nothing is written.")
class RestructurePreview:
    loan_id: strawberry.ID
    schedule: Schedule


preview_errors = (*quote_errors[:-1], e.RestructureNotAllowedError, e.InvalidScheduleTermsError, e.InvalidAmountError, e.GenericError)
RestructurePreviewResult = Annotated[
    Union[(RestructurePreview, *preview_errors)], strawberry.union("RestructurePreviewResult")  # noqa: UP007
]


# ---------------------------------------------------------------- portfolio


@strawberry.type(description="Loans in one delinquency bucket.")
class BucketSlice:
    bucket: BucketEnum  # type: ignore[valid-type]
    short_name: str = strawberry.field(description="M0, M1, M2, M3, M3+.")
    count: int
    principal: Money
    provision: Money


@strawberry.type(description="Loans in one class of the five-tier classification.")
class ClassSlice:
    loan_class: LoanClassEnum = strawberry.field(name="class")  # type: ignore[valid-type]
    count: int
    principal: Money
    provision: Money


@strawberry.type(description="The active portfolio in one currency, from the last business date closed on or before `asOf`.")
class Portfolio:
    as_of: dt.date
    business_date: dt.date | None = strawberry.field(description="The closed business date the figures come from.")
    currency: str
    loans: int
    principal: Money
    interest: Money
    fees: Money
    penalties: Money
    provisions: Money
    par30: Decimal = strawberry.field(description='Principal more than 30 days past due / principal outstanding, 4 places: "0.0312".')
    par90: Decimal
    par30_principal: Money
    par90_principal: Money
    non_accrual_loans: int
    by_bucket: list[BucketSlice]
    by_class: list[ClassSlice]


def portfolio_type(p: loan_portfolio.Portfolio) -> Portfolio:
    c = p.currency
    return Portfolio(
        as_of=p.as_of, business_date=p.business_date, currency=c, loans=p.loans, principal=money(p.principal, c),
        interest=money(p.interest, c), fees=money(p.fees, c), penalties=money(p.penalties, c), provisions=money(p.provisions, c),
        par30=Decimal(p.par30), par90=Decimal(p.par90), par30_principal=money(p.par30_principal, c),
        par90_principal=money(p.par90_principal, c), non_accrual_loans=p.non_accrual,
        by_bucket=[
            BucketSlice(bucket=as_mirror(BucketEnum, b), short_name=bucket_short_names[b], count=s.count,
                        principal=money(s.principal, c), provision=money(s.provision, c))
            for b, s in ((b, p.by_bucket[b]) for b in Bucket)
        ],
        by_class=[
            ClassSlice(loan_class=as_mirror(LoanClassEnum, k), count=s.count, principal=money(s.principal, c), provision=money(s.provision, c))
            for k, s in ((k, p.by_class[k]) for k in LoanClass)
        ],
    )


@strawberry.type
class LoanQuery:
    @strawberry.field(description="Loans, newest application first. `first` is at most 100.")
    async def loans(
        self,
        info: Info,
        status: LoanStatusEnum | None = None,  # type: ignore[valid-type]
        borrower_id: strawberry.ID | None = None,
        first: int = loans_page_size_default,
        after: str | None = None,
    ) -> Connection[Loan]:
        ctx = info.context
        session = await ctx.authorize("loans")
        check_page_size(first)
        position = decode_time_cursor("Loan", after)
        borrower = None if borrower_id is None else decode_id("Borrower", borrower_id)
        rows = await read(
            ctx.engine, lambda conn: loans_page(
                conn, session.principal.tenant_id, status=None if status is None else LoanStatus[status.name].value,
                borrower_id=borrower, after=position, limit=first + 1,
            )
        )
        items = [(encode_time_cursor("Loan", row.created_at, row.id), loan_type(row)) for row in rows[:first]]
        return connection(items, has_next=len(rows) > first, has_previous=after is not None)

    @strawberry.field(description="One loan with its schedule, balances and transactions; null if your books have no such loan.")
    async def loan(self, info: Info, id: strawberry.ID) -> Loan | None:  # noqa: A002
        session = await info.context.authorize("loan")
        row = await session.loaders.loan.load(decode_id("Loan", id))
        return None if row is None else loan_type(row)

    @strawberry.field(description="A loan's statement as of a date: each installment paid, outstanding or overdue then, "
                      "and the transactions effective by then, a page at a time. `knownOn` leaves out what was "
                      "recorded after that moment (null if the loan was not known then).")
    async def loan_statement(
        self, info: Info, loan_id: strawberry.ID, as_of: dt.date,
        transactions_first: int = statement_transactions_max, transactions_after: str | None = None,
        known_on: dt.datetime | None = None,
    ) -> LoanStatement | None:
        ctx = info.context
        session = await ctx.authorize("loanStatement")
        found_id = decode_id("Loan", loan_id)
        check_page_size(transactions_first, statement_transactions_max)
        after = _statement_cursor(transactions_after)
        if known_on is not None and known_on.tzinfo is None:
            raise BadUserInput("knownOn needs a time zone (e.g. 2026-01-31T23:59:59Z)")
        try:
            found = await read(
                ctx.engine, loan_portfolio.statement, session.principal.tenant_id, found_id, as_of, transactions_first, after,
                known_on,
            )
        except UnknownLoan:
            return None
        currency = found.loan.currency
        lines = [
            StatementLine(
                number=line.number, due_date=line.due_date, principal=money(line.principal, currency),
                interest=money(line.interest, currency), fee=money(line.fee, currency), paid=money(line.paid, currency),
                outstanding=money(line.outstanding, currency), status=InstallmentStatus[line.status],
            )
            for line in found.installments
        ]
        end = None if found.next_page is None else encode_cursor(
            "LoanStatement", found.next_page[0].isoformat(), utc(found.next_page[1]).isoformat(), str(found.next_page[2])
        )
        return LoanStatement(
            loan=loan_type(found.loan), as_of=found.as_of, known_on=known_on, lines=lines,
            balances=None if found.state is None else loan_balances_type(found.state),
            transactions=[loan_transaction_type(t) for t in found.transactions], transactions_total=found.transactions_total,
            transactions_truncated=found.next_page is not None, transactions_end_cursor=end,
        )

    @strawberry.field(description="What settles a loan on a date (at most its open business date). Nothing is written.")
    async def payoff_quote(self, info: Info, loan_id: strawberry.ID, date: dt.date) -> PayoffQuoteResult:
        ctx = info.context
        session = await ctx.authorize("payoffQuote")
        try:
            found_id = input_id("Loan", loan_id, "loanId")
        except RefusedInput as refused:
            return refused.result
        tenant_id = session.principal.tenant_id

        def quote(conn):  # noqa: ANN001, ANN202
            return money_commands.payoff_quote(conn, tenant_id, found_id, date), loan_row(conn, tenant_id, found_id).currency

        try:
            allocation, currency = await read(ctx.engine, quote)
        except ledger_errors.LedgerError as exc:
            return e.error_result(exc, quote_errors, ids={found_id: "Loan"}, fields={"date": "date"}, loan_id=loan_id)
        return PayoffQuote(
            loan_id=encode_id("Loan", found_id), date=date, breakdown=domain_allocation(allocation, currency),
            amount=money(allocation.total, currency),
        )

    @strawberry.field(description="The schedule a restructure would give. Nothing is written.")
    async def restructure_preview(
        self, info: Info, input: RestructurePreviewInput  # noqa: A002
    ) -> RestructurePreviewResult:
        ctx = info.context
        session = await ctx.authorize("restructurePreview")
        try:
            found_id = input_id("Loan", input.loan_id, "loanId")
        except RefusedInput as refused:
            return refused.result
        tenant_id = session.principal.tenant_id

        def preview(conn):  # noqa: ANN001, ANN202
            return money_commands.restructure_preview(
                conn, tenant_id, found_id, input.effective_date, annual_rate=input.annual_rate, term_periods=input.term_periods,
                capitalise_arrears=input.capitalise_arrears,
            )

        try:
            schedule = await read(ctx.engine, preview)
        except ledger_errors.LedgerError as exc:
            return e.error_result(exc, preview_errors, ids={found_id: "Loan"}, fields={"date": "effectiveDate"}, loan_id=input.loan_id)
        return RestructurePreview(loan_id=encode_id("Loan", found_id), schedule=schedule_type(schedule))

    @strawberry.field(description="The active portfolio per currency as of a date: outstanding, PAR30/PAR90, buckets, classes, provisions.")
    async def portfolio(self, info: Info, as_of: dt.date) -> list[Portfolio]:
        ctx = info.context
        session = await ctx.authorize("portfolio")
        found = await read(ctx.engine, loan_portfolio.portfolio, session.principal.tenant_id, as_of)
        return [portfolio_type(p) for p in found]
