"""runCloseOfBusiness: start a close of business run (a background job), and the queries that poll it.

The mutation records a run (loans.cob_runs) and hands it to the server's CobRunner. With the default
`wait: true` it answers when the run has finished, exactly as before (the summary fields filled, a
failure as its typed error); with `wait: false` it answers at once with the QUEUED run and null summary
fields, and the client polls `closeOfBusinessRun(id)`. Either way the run goes on if the client leaves.

Idempotency: the key is recorded in the audit log with the run it started, in the same transaction
(graphql_api.core.idempotency); a replay returns that run (waiting for it if asked to), another date under
the same key is IDEMPOTENCY_CONFLICT.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Union

import strawberry
from strawberry.types import Info

from graphql_api.core import error_types as e
from graphql_api.core.idempotency import run_once
from graphql_api.core.inputs import RefusedInput, input_key
from graphql_api.core.scalars import check_page_size, decode_id, decode_time_cursor, encode_id, encode_time_cursor, utc
from graphql_api.core.threads import read, write
from graphql_api.core.types import Connection, connection, mirror_enum
from ledger import errors as ledger_errors
from loans import cob_runs
from loans.cob_runs import CobRun, RunStatus

cob_errors_shown_max = cob_runs.loan_errors_kept_max
runs_page_size_default = 20

CloseOfBusinessRunStatus = mirror_enum(
    RunStatus, "QUEUED, then RUNNING on a background worker, then SUCCEEDED or FAILED (see errorCode).", name="CloseOfBusinessRunStatus",
)


@strawberry.type(description="One request to close a business date, run in the background: poll it until it has finished.")
class CloseOfBusinessRun:
    run: strawberry.Private[CobRun]

    @strawberry.field(description="Opaque id; pass it back as is.")
    def id(self) -> strawberry.ID:
        return encode_id("CloseOfBusinessRun", self.run.id)

    @strawberry.field
    def business_date(self) -> dt.date:
        return self.run.business_date

    @strawberry.field
    def status(self) -> CloseOfBusinessRunStatus:  # type: ignore[valid-type]
        return CloseOfBusinessRunStatus[self.run.status.name]

    @strawberry.field(description="True once SUCCEEDED or FAILED.")
    def finished(self) -> bool:
        return self.run.finished

    @strawberry.field(description="Who asked (the token's actor name); close of business posts under this name.")
    def requested_by(self) -> str:
        return self.run.requested_by

    @strawberry.field
    def requested_at(self) -> dt.datetime:
        return utc(self.run.requested_at)

    @strawberry.field
    def started_at(self) -> dt.datetime | None:
        return None if self.run.started_at is None else utc(self.run.started_at)

    @strawberry.field
    def finished_at(self) -> dt.datetime | None:
        return None if self.run.finished_at is None else utc(self.run.finished_at)

    @strawberry.field(description="Active loans to close, known once the run has started its batches.")
    def loans_total(self) -> int | None:
        return self.run.loans_total

    @strawberry.field(description="Loans closed so far; final once SUCCEEDED.")
    def loans_processed(self) -> int:
        return self.run.loans_processed

    @strawberry.field(description="Journal entries posted (one per batch and currency); known once SUCCEEDED.")
    def entries_posted(self) -> int:
        return self.run.entries_posted

    @strawberry.field(description="Loans that moved to non-accrual; known once SUCCEEDED.")
    def entered_non_accrual(self) -> int:
        return self.run.entered_non_accrual

    @strawberry.field(description="The date was already closed; nothing changed.")
    def already_done(self) -> bool:
        return self.run.already_done

    @strawberry.field(description="The run finished a date an earlier, interrupted run had started.")
    def resumed(self) -> bool:
        return self.run.resumed

    @strawberry.field(description=f"Loans the run could not process, at most {cob_errors_shown_max}.")
    def loan_errors(self) -> list[str]:
        return list(self.run.loan_errors)

    @strawberry.field(
        description="Why a FAILED run failed: a stable code such as COB_OUT_OF_ORDER, COB_INTERRUPTED (the server stopped; "
        "run the date again to resume), COB_RUN_ABANDONED (no progress for 10 minutes) or INTERNAL_ERROR."
    )
    def error_code(self) -> str | None:
        return self.run.error_code

    @strawberry.field
    def error_message(self) -> str | None:
        return self.run.error_message


@strawberry.input
class RunCloseOfBusinessInput:
    business_date: dt.date | None = strawberry.field(
        default=None,
        description="The next date to close: the day after the last closed one (any date the first time). Give this or throughDate.",
    )
    through_date: dt.date | None = strawberry.field(
        default=None,
        description="Catch up: close every pending business date in order, from the day after the last closed one through this "
        "date (each date its own run; an interrupted catch-up resumes). Give this or businessDate.",
    )
    idempotency_key: str | None = None
    wait: bool = strawberry.field(
        default=True,
        description="true (the default): answer when the run has finished, with the summary. false: answer at once with the "
        "QUEUED run (summary fields null) and poll closeOfBusinessRun(id).",
    )


@strawberry.type(
    description="A close of business run: accruals, ageing, penalties, non-accrual, classification and provisions of every active "
    "loan. The summary fields are filled once the run has SUCCEEDED (with the default wait: true, whenever the answer is this "
    "payload and not an error, unless the run was interrupted) and null before."
)
class RunCloseOfBusinessPayload:
    business_date: dt.date
    loans_processed: int | None
    entries_posted: int | None = strawberry.field(description="Journal entries posted: one per batch of loans and currency.")
    entered_non_accrual: int | None = strawberry.field(description="Loans that moved to non-accrual on this date.")
    already_done: bool | None = strawberry.field(description="The date was already closed; nothing changed.")
    resumed: bool | None = strawberry.field(description="An interrupted run of this date was finished.")
    errors: list[str] | None = strawberry.field(description=f"Loans COB could not process, at most {cob_errors_shown_max}.")
    replayed: bool
    dates_closed: int | None = strawberry.field(
        default=None,
        description="With throughDate: how many business dates this request closed (0 when all were closed already).",
    )
    run: CloseOfBusinessRun = strawberry.field(description="The run: poll closeOfBusinessRun(id) while it is QUEUED or RUNNING.")


cob_errors = (
    e.InvalidInputError, e.CobOutOfOrderError, e.CobAlreadyRunningError, e.IdempotencyConflictError,
    e.TransactionRetriesExhaustedError, e.GenericError,
)
RunCloseOfBusinessResult = Annotated[
    Union[(RunCloseOfBusinessPayload, *cob_errors)], strawberry.union("RunCloseOfBusinessResult")  # noqa: UP007
]


def payload(run: CobRun, replayed: bool, first: CobRun | None = None) -> RunCloseOfBusinessPayload:
    done = run.status is RunStatus.SUCCEEDED
    closed = None
    if first is not None and done:
        closed = 0 if run.already_done else (run.business_date - first.business_date).days + 1
    return RunCloseOfBusinessPayload(
        business_date=run.business_date, replayed=replayed, run=CloseOfBusinessRun(run=run), dates_closed=closed,
        loans_processed=run.loans_processed if done else None, entries_posted=run.entries_posted if done else None,
        entered_non_accrual=run.entered_non_accrual if done else None, already_done=run.already_done if done else None,
        resumed=run.resumed if done else None, errors=list(run.loan_errors) if done else None,
    )


def _error(exc: ledger_errors.LedgerError, code: str | None = None) -> object:
    if code is not None:
        exc.code = code  # the stored code of a failed run, on a plain LedgerError carrying its message
    run_id = exc.details.get("run")
    known = {} if run_id is None else {"run_id": encode_id("CloseOfBusinessRun", uuid.UUID(str(run_id)))}
    kinds = {} if run_id is None else {uuid.UUID(str(run_id)): "CloseOfBusinessRun"}
    return e.error_result(exc, cob_errors, ids=kinds, **known)


@strawberry.type
class CloseOfBusinessQuery:
    @strawberry.field(description="One close of business run (a background job); null if your books have none with this id. Roles: ADMIN, FINANCE, AUDITOR.")
    async def close_of_business_run(self, info: Info, id: strawberry.ID) -> CloseOfBusinessRun | None:  # noqa: A002
        ctx = info.context
        session = await ctx.authorize("closeOfBusinessRun")
        wanted = decode_id("CloseOfBusinessRun", id)
        found = await read(ctx.engine, cob_runs.get_run, session.principal.tenant_id, wanted)
        return None if found is None else CloseOfBusinessRun(run=found)

    @strawberry.field(description="Close of business runs, newest requested first. `first` is at most 100. Roles: ADMIN, FINANCE, AUDITOR.")
    async def close_of_business_runs(
        self, info: Info, first: int = runs_page_size_default, after: str | None = None
    ) -> Connection[CloseOfBusinessRun]:
        ctx = info.context
        session = await ctx.authorize("closeOfBusinessRuns")
        check_page_size(first, cob_runs.runs_page_size_max)
        position = decode_time_cursor("CloseOfBusinessRun", after)
        found = await read(
            ctx.engine, lambda conn: cob_runs.list_runs(conn, session.principal.tenant_id, after=position, limit=first + 1)
        )
        items = [
            (encode_time_cursor("CloseOfBusinessRun", r.requested_at, r.id), CloseOfBusinessRun(run=r))
            for r in found[:first]
        ]
        return connection(items, has_next=len(found) > first, has_previous=after is not None)


@strawberry.type
class CloseOfBusinessMutation:
    @strawberry.mutation(
        description="Close a business date for every active loan (accrue, age, penalise, classify, provision) as a background run. "
        "Answers when the run has finished unless `wait: false`, then at once with the run to poll. Roles: ADMIN, FINANCE."
    )
    async def run_close_of_business(
        self, info: Info, input: RunCloseOfBusinessInput  # noqa: A002
    ) -> RunCloseOfBusinessResult:
        ctx = info.context
        session = await ctx.authorize("runCloseOfBusiness")
        try:
            key = input_key(input.idempotency_key)
        except RefusedInput as refused:
            return refused.result
        if (input.business_date is None) == (input.through_date is None):
            return e.invalid_input("give exactly one of businessDate (one date) and throughDate (catch up)", "businessDate")
        actor = ctx.actor()
        through = input.through_date
        if through is None:
            request = {"business_date": input.business_date.isoformat()}
            requested = lambda c: cob_runs.request_run(c, actor, input.business_date)  # noqa: E731
        else:
            request = {"through_date": through.isoformat()}
            requested = lambda c: cob_runs.request_catch_up(c, actor, through)  # noqa: E731

        def work(conn):  # noqa: ANN001, ANN202
            command = lambda c: {"run": str(requested(c).id)}  # noqa: E731
            result, replayed = run_once(conn, actor, key, "runCloseOfBusiness", request, command)
            if "run" not in result:  # a key recorded before runs were jobs: the date was closed by that request
                result, replayed = command(conn), True
            return cob_runs.get_run(conn, actor.tenant_id, uuid.UUID(str(result["run"]))), replayed

        try:
            run, replayed = await write(ctx.engine, work)
        except ledger_errors.LedgerError as exc:
            return _error(exc)
        first = run
        if not replayed:
            ctx.cob_runner.start(run, through)
        if input.wait:
            run = await ctx.cob_runner.wait(run)
            if run.status is RunStatus.FAILED and run.error_code in e.error_type_by_code:
                # As before runs were jobs: a refused date is its typed error (nothing was closed by this run).
                return _error(ledger_errors.LedgerError(run.error_message or run.error_code), code=run.error_code)
        session.loaders.clear()
        return payload(run, replayed, first if through is not None else None)
