"""Period close from the API: closePeriod and closeFiscalYear (finance's and admins'), reopenPeriod
(admins' alone), and the closures (ledger.periods). Each runs in one transaction with its audit events."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Union

import strawberry
from strawberry.types import Info

from graphql_api.core import error_types as e
from graphql_api.core.scalars import encode_id, utc
from graphql_api.core.threads import read, write
from ledger import errors as ledger_errors
from ledger import periods


@strawberry.type(description="A closure of the books: no entry dated on or before `throughDate` posts while it stands.")
class PeriodClosure:
    closure: strawberry.Private[periods.PeriodClosure]

    @strawberry.field(description="1 for the tenant's first closure, then 2, 3...")
    def seq(self) -> int:
        return self.closure.seq

    @strawberry.field
    def through_date(self) -> dt.date:
        return self.closure.through_date

    @strawberry.field
    def reason(self) -> str:
        return self.closure.reason

    @strawberry.field
    def closed_by(self) -> str:
        return self.closure.closed_by

    @strawberry.field
    def closed_at(self) -> dt.datetime:
        return utc(self.closure.closed_at)

    @strawberry.field(description="Null while the closure stands.")
    def reopened_at(self) -> dt.datetime | None:
        return None if self.closure.reopened_at is None else utc(self.closure.reopened_at)

    @strawberry.field
    def reopened_by(self) -> str | None:
        return self.closure.reopened_by

    @strawberry.field
    def reopen_reason(self) -> str | None:
        return self.closure.reopen_reason


@strawberry.input(description="Close the books through a date (at the latest yesterday, later than the current close).")
class ClosePeriodInput:
    through_date: dt.date
    reason: str = strawberry.field(description="Why; kept in the audit trail.")


@strawberry.input(description="Reopen the latest closure; the books are then closed through the one before it, if any.")
class ReopenPeriodInput:
    reason: str = strawberry.field(description="Why; kept in the audit trail.")


@strawberry.input(description="Close a fiscal year (calendar year): income and expense go to retained earnings, then the year is closed.")
class CloseFiscalYearInput:
    year: int
    reason: str = strawberry.field(description="Why; kept in the audit trail.")


@strawberry.type
class PeriodClosurePayload:
    closure: PeriodClosure


@strawberry.type
class CloseFiscalYearPayload:
    year: int
    closing_entry_id: strawberry.ID | None = strawberry.field(
        description="The JournalEntry moving the year's income and expense to retained earnings (null: nothing to move)."
    )
    closure: PeriodClosure


period_errors = (e.InvalidInputError, e.InvalidPeriodCloseError, e.PeriodClosedError, e.UnknownAccountError,
                 e.TransactionRetriesExhaustedError, e.GenericError)
PeriodClosureResult = Annotated[Union[(PeriodClosurePayload, *period_errors)], strawberry.union("PeriodClosureResult")]  # noqa: UP007
CloseFiscalYearResult = Annotated[Union[(CloseFiscalYearPayload, *period_errors)], strawberry.union("CloseFiscalYearResult")]  # noqa: UP007


@strawberry.type
class PeriodQuery:
    @strawberry.field(description="The date the books are closed through; null when no closure stands.")
    async def closed_through(self, info: Info) -> dt.date | None:
        ctx = info.context
        session = await ctx.authorize("closedThrough")
        return await read(ctx.engine, periods.closed_through_date, session.principal.tenant_id)

    @strawberry.field(description="Every closure of the books, latest first, reopened ones included.")
    async def period_closures(self, info: Info) -> list[PeriodClosure]:
        ctx = info.context
        session = await ctx.authorize("periodClosures")
        found = await read(ctx.engine, periods.list_closures, session.principal.tenant_id)
        return [PeriodClosure(closure=c) for c in found]


async def _run(info: Info, command) -> object:  # type: ignore[no-untyped-def]
    try:
        return await write(info.context.engine, command), None
    except ledger_errors.LedgerError as exc:
        return None, e.error_result(exc, period_errors, fields={"through_date": "throughDate"})


@strawberry.type
class PeriodMutation:
    @strawberry.mutation(description="Close the books through a date: no entry dated on or before it posts, from any road. Roles: ADMIN, FINANCE.")
    async def close_period(self, info: Info, input: ClosePeriodInput) -> PeriodClosureResult:  # type: ignore[valid-type]  # noqa: A002
        await info.context.authorize("closePeriod")
        actor = info.context.actor(reason=input.reason)
        done, error = await _run(info, lambda conn: periods.close_period(conn, actor, input.through_date, input.reason))
        return error or PeriodClosurePayload(closure=PeriodClosure(closure=done))

    @strawberry.mutation(description="Reopen the latest closure of the books, with a reason (audited). Roles: ADMIN.")
    async def reopen_period(self, info: Info, input: ReopenPeriodInput) -> PeriodClosureResult:  # type: ignore[valid-type]  # noqa: A002
        await info.context.authorize("reopenPeriod")
        actor = info.context.actor(reason=input.reason)
        done, error = await _run(info, lambda conn: periods.reopen_period(conn, actor, input.reason))
        return error or PeriodClosurePayload(closure=PeriodClosure(closure=done))

    @strawberry.mutation(description="Post the year-end closing entry to retained earnings and close the year. Roles: ADMIN, FINANCE.")
    async def close_fiscal_year(self, info: Info, input: CloseFiscalYearInput) -> CloseFiscalYearResult:  # type: ignore[valid-type]  # noqa: A002
        await info.context.authorize("closeFiscalYear")
        actor = info.context.actor(reason=input.reason)
        done, error = await _run(info, lambda conn: periods.close_fiscal_year(conn, actor, input.year, input.reason))
        if error is not None:
            return error
        entry_id = None if done.entry_id is None else encode_id("JournalEntry", done.entry_id)
        return CloseFiscalYearPayload(year=done.year, closing_entry_id=entry_id, closure=PeriodClosure(closure=done.closure))
