"""runCloseOfBusiness: close one business date for the caller's tenant (loans.cob, its own batched transactions).

Close of business is idempotent by date already (a closed date is a no-op, an interrupted one
resumes), so a retried request is safe with or without a key. A key adds the usual contract: the
same key with the same date returns the first run's summary, with another date IDEMPOTENCY_CONFLICT.
The key is recorded after the run (COB commits batch by batch, so it cannot share one transaction
with it); a crash in between only means a retry runs COB again, which finds the date closed.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Union

import strawberry
from anyio import to_thread
from strawberry.types import Info

from graphql_api import error_types as e
from graphql_api.idempotency import find_replay, remember
from graphql_api.inputs import RefusedInput, input_key
from graphql_api.threads import write
from ledger import errors as ledger_errors
from loans.cob import CobSummary, run_close_of_business

cob_errors_shown_max = 100


@strawberry.input
class RunCloseOfBusinessInput:
    business_date: dt.date = strawberry.field(description="The next date to close: the day after the last closed one (any date the first time).")
    idempotency_key: str | None = None


@strawberry.type(description="What close of business did: accruals, ageing, penalties, non-accrual, classification and provisions of every active loan.")
class RunCloseOfBusinessPayload:
    business_date: dt.date
    loans_processed: int
    entries_posted: int = strawberry.field(description="Journal entries posted: one per batch of loans and currency.")
    entered_non_accrual: int = strawberry.field(description="Loans that moved to non-accrual on this date.")
    already_done: bool = strawberry.field(description="The date was already closed; nothing changed.")
    resumed: bool = strawberry.field(description="An interrupted run of this date was finished.")
    errors: list[str] = strawberry.field(description=f"Loans COB could not process, at most {cob_errors_shown_max}.")
    replayed: bool


cob_errors = (e.InvalidInputError, e.CobOutOfOrderError, e.IdempotencyConflictError, e.TransactionRetriesExhaustedError, e.GenericError)
RunCloseOfBusinessResult = Annotated[
    Union[(RunCloseOfBusinessPayload, *cob_errors)], strawberry.union("RunCloseOfBusinessResult")  # noqa: UP007
]
_summary_fields = ("loans_processed", "entries_posted", "entered_non_accrual", "already_done", "resumed", "errors")


async def run_close_of_business_mutation(info: Info, data: RunCloseOfBusinessInput) -> RunCloseOfBusinessResult:
    ctx = info.context
    session = await ctx.authorize("runCloseOfBusiness")
    try:
        key = input_key(data.idempotency_key)
    except RefusedInput as refused:
        return refused.result
    actor = ctx.actor()
    request = {"business_date": data.business_date.isoformat()}
    try:
        earlier = None if key is None else await write(
            ctx.engine, lambda conn: find_replay(conn, actor, key, "runCloseOfBusiness", request)
        )
        if earlier is not None:
            return RunCloseOfBusinessPayload(business_date=data.business_date, replayed=True, **earlier)  # type: ignore[arg-type]
        summary: CobSummary = await to_thread.run_sync(
            lambda: run_close_of_business(ctx.engine, actor.tenant_id, data.business_date, actor_name=actor.name, clock=ctx.clock)
        )
        result = {name: getattr(summary, name) for name in _summary_fields}
        result["errors"] = list(summary.errors[:cob_errors_shown_max])
        if key is not None:
            await write(ctx.engine, lambda conn: remember(conn, actor, key, "runCloseOfBusiness", request, result))
    except ledger_errors.LedgerError as exc:
        return e.error_result(exc, cob_errors)
    session.loaders.clear()
    return RunCloseOfBusinessPayload(business_date=summary.business_date, replayed=False, **result)  # type: ignore[arg-type]

