"""Maker-checker for manual journal entries: the request type, approve / reject / cancel, and the queue.

`postJournalEntry` (graphql_api.ledger.journal) makes a PENDING request; a checker who is not the maker
approves it (the entry posts then, through ledger.service) or rejects it; the maker may cancel it.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Union

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graphql_api.core import error_types as e
from graphql_api.core.idempotency import run_once
from graphql_api.core.inputs import RefusedInput, input_id, input_key, input_reason
from graphql_api.core.scalars import check_page_size, decode_id, decode_time_cursor, encode_id, encode_time_cursor, utc
from graphql_api.core.threads import read, write
from graphql_api.core.types import Connection, connection, mirror_enum
from graphql_api.ledger.types import JournalEntry, Posting
from ledger import errors as ledger_errors
from manual_entries import service as requests_service
from manual_entries.model import EntryRequest, RequestStatus

requests_page_size_default = 50
requests_page_size_max = requests_service.requests_page_size_max

JournalEntryRequestStatus = mirror_enum(
    RequestStatus,
    "PENDING until a checker decides; APPROVED means posted (see journalEntry); REJECTED by a checker; CANCELLED by the maker.",
    name="JournalEntryRequestStatus",
)


@strawberry.type(description="A manual journal entry awaiting, or past, a second person's check (maker-checker).")
class JournalEntryRequest:
    request: strawberry.Private[EntryRequest]

    @strawberry.field(description="Opaque id; pass it back as is.")
    def id(self) -> strawberry.ID:
        return encode_id("JournalEntryRequest", self.request.id)

    @strawberry.field
    def status(self) -> JournalEntryRequestStatus:  # type: ignore[valid-type]
        return JournalEntryRequestStatus[self.request.status.name]

    @strawberry.field(description="The business date the entry will be effective on.")
    def effective_date(self) -> dt.date:
        return self.request.draft.effective_date

    @strawberry.field
    def description(self) -> str:
        return self.request.draft.description

    @strawberry.field
    def metadata(self) -> JSON:
        return dict(self.request.draft.metadata)

    @strawberry.field(description="The legs exactly as they will post.")
    def postings(self) -> list[Posting]:
        return [Posting(line_no=i, posting=p) for i, p in enumerate(self.request.draft.postings, start=1)]

    @strawberry.field(description="The maker's key; the posted entry carries it too.")
    def idempotency_key(self) -> str | None:
        return self.request.draft.idempotency_key

    @strawberry.field(description="The maker (the token's actor name).")
    def submitted_by(self) -> str:
        return self.request.submitted_by

    @strawberry.field
    def submitted_at(self) -> dt.datetime:
        return utc(self.request.submitted_at)

    @strawberry.field(description="The checker who approved or rejected it, or the maker who cancelled it.")
    def decided_by(self) -> str | None:
        return self.request.decided_by

    @strawberry.field
    def decided_at(self) -> dt.datetime | None:
        return None if self.request.decided_at is None else utc(self.request.decided_at)

    @strawberry.field
    def decision_reason(self) -> str | None:
        return self.request.decision_reason

    @strawberry.field(description="The posted entry, once APPROVED.")
    async def journal_entry(self, info: Info) -> JournalEntry | None:
        if self.request.journal_entry_id is None:
            return None
        entry = await info.context.session.loaders.entry.load(self.request.journal_entry_id)
        return None if entry is None else JournalEntry(entry=entry)


@strawberry.input
class ApproveJournalEntryInput:
    request_id: strawberry.ID
    idempotency_key: str | None = strawberry.field(default=None, description="Replaying the same key and input returns the first result.")


@strawberry.input
class RejectJournalEntryInput:
    request_id: strawberry.ID
    reason: str = strawberry.field(description="Why; kept on the request and in the audit trail.")
    idempotency_key: str | None = None


@strawberry.input
class CancelJournalEntryInput:
    request_id: strawberry.ID
    reason: str | None = None
    idempotency_key: str | None = None


@strawberry.type(description="The request, APPROVED, and the entry it posted.")
class ApproveJournalEntryPayload:
    request: JournalEntryRequest
    entry: JournalEntry
    replayed: bool = strawberry.field(description="True when the idempotency key had already done this.")


@strawberry.type(description="The request, REJECTED; nothing was posted.")
class RejectJournalEntryPayload:
    request: JournalEntryRequest
    replayed: bool


@strawberry.type(description="The request, CANCELLED by its maker; nothing was posted.")
class CancelJournalEntryPayload:
    request: JournalEntryRequest
    replayed: bool


decision_errors = (
    e.InvalidInputError, e.UnknownJournalEntryRequestError, e.IllegalTransitionError, e.MakerCheckerViolationError,
    e.IdempotencyConflictError, e.TransactionRetriesExhaustedError, e.GenericError,
)
# Approval posts: the chart may have changed since submission (an account closed, a currency restricted).
approve_errors = (
    *decision_errors[:-2], e.UnknownAccountError, e.AccountClosedError, e.CurrencyNotAllowedError, e.HeaderAccountError,
    *decision_errors[-2:],
)
ApproveJournalEntryResult = Annotated[
    Union[(ApproveJournalEntryPayload, *approve_errors)], strawberry.union("ApproveJournalEntryResult")  # noqa: UP007
]
RejectJournalEntryResult = Annotated[
    Union[(RejectJournalEntryPayload, *decision_errors)], strawberry.union("RejectJournalEntryResult")  # noqa: UP007
]
CancelJournalEntryResult = Annotated[
    Union[(CancelJournalEntryPayload, *decision_errors)], strawberry.union("CancelJournalEntryResult")  # noqa: UP007
]


async def _decide(
    info: Info, operation: str, request_id_text: str, reason_text: str | None, key_text: str | None,
    command, errors: tuple[type, ...], *, reason_required: bool = False,  # noqa: ANN001
) -> tuple[EntryRequest, bool] | object:
    """(the request after the decision, replayed?) or the typed error; one transaction, idempotent by key."""
    ctx = info.context
    session = await ctx.authorize(operation)
    try:
        request_id = input_id("JournalEntryRequest", request_id_text, "requestId")
        reason = input_reason(reason_text, required=reason_required)
        key = input_key(key_text)
    except RefusedInput as refused:
        return refused.result
    actor = ctx.actor(reason=reason)

    def work(conn):  # noqa: ANN001, ANN202
        def once(c):  # noqa: ANN001, ANN202
            command(c, actor, request_id)
            return {"request": str(request_id)}

        _, replayed = run_once(conn, actor, key, operation, {"request": str(request_id), "reason": reason}, once)
        return requests_service.get_request(conn, actor.tenant_id, request_id), replayed

    try:
        request, replayed = await write(ctx.engine, work)
    except ledger_errors.LedgerError as exc:
        return e.error_result(
            exc, errors, ids={request_id: "JournalEntryRequest"}, request_id=request_id_text,
        )
    session.loaders.clear()
    return request, replayed


@strawberry.type
class JournalEntryRequestQuery:
    @strawberry.field(
        description="Manual journal entry requests (maker-checker), newest first; `status: PENDING` is the checkers' queue. "
        "`first` is at most 100. Roles: ADMIN, FINANCE, AUDITOR."
    )
    async def journal_entry_requests(
        self,
        info: Info,
        status: JournalEntryRequestStatus | None = None,  # type: ignore[valid-type]
        first: int = requests_page_size_default,
        after: str | None = None,
    ) -> Connection[JournalEntryRequest]:
        wanted = None if status is None else RequestStatus[status.name]
        ctx = info.context
        session = await ctx.authorize("journalEntryRequests")
        check_page_size(first, requests_page_size_max)
        position = decode_time_cursor("JournalEntryRequest", after)
        found = await read(
            ctx.engine,
            lambda conn: requests_service.list_requests(conn, session.principal.tenant_id, status=wanted, after=position, limit=first + 1),
        )
        items = [
            (encode_time_cursor("JournalEntryRequest", r.submitted_at, r.id), JournalEntryRequest(request=r))
            for r in found[:first]
        ]
        return connection(items, has_next=len(found) > first, has_previous=after is not None)

    @strawberry.field(description="One manual journal entry request; null if your books have none with this id. Roles: ADMIN, FINANCE, AUDITOR.")
    async def journal_entry_request(self, info: Info, id: strawberry.ID) -> JournalEntryRequest | None:  # noqa: A002
        ctx = info.context
        session = await ctx.authorize("journalEntryRequest")
        wanted = decode_id("JournalEntryRequest", id)
        found = await read(ctx.engine, requests_service.get_request, session.principal.tenant_id, wanted)
        return None if found is None else JournalEntryRequest(request=found)


@strawberry.type
class JournalEntryRequestMutation:
    @strawberry.mutation(
        description="Approve a pending manual entry and post it; never by its maker (MAKER_CHECKER_VIOLATION). Roles: ADMIN, FINANCE."
    )
    async def approve_journal_entry(
        self, info: Info, input: ApproveJournalEntryInput  # noqa: A002
    ) -> ApproveJournalEntryResult:
        ctx = info.context

        def command(conn, actor, request_id):  # noqa: ANN001, ANN202
            _, entry = requests_service.approve_entry(conn, actor, request_id)
            return entry

        outcome = await _decide(info, "approveJournalEntry", input.request_id, None, input.idempotency_key, command, approve_errors)
        if not isinstance(outcome, tuple):
            return outcome
        request, replayed = outcome
        entry = await ctx.session.loaders.entry.load(request.journal_entry_id)
        return ApproveJournalEntryPayload(request=JournalEntryRequest(request=request), entry=JournalEntry(entry=entry), replayed=replayed)

    @strawberry.mutation(description="Reject a pending manual entry with a reason; never by its maker. Roles: ADMIN, FINANCE.")
    async def reject_journal_entry(
        self, info: Info, input: RejectJournalEntryInput  # noqa: A002
    ) -> RejectJournalEntryResult:
        outcome = await _decide(
            info, "rejectJournalEntry", input.request_id, input.reason, input.idempotency_key,
            lambda conn, actor, request_id: requests_service.reject_entry(conn, actor, request_id, actor.reason),
            decision_errors, reason_required=True,
        )
        if not isinstance(outcome, tuple):
            return outcome
        return RejectJournalEntryPayload(request=JournalEntryRequest(request=outcome[0]), replayed=outcome[1])

    @strawberry.mutation(description="Withdraw your own pending manual entry; only its maker may. Roles: ADMIN, FINANCE.")
    async def cancel_journal_entry(
        self, info: Info, input: CancelJournalEntryInput  # noqa: A002
    ) -> CancelJournalEntryResult:
        outcome = await _decide(
            info, "cancelJournalEntry", input.request_id, input.reason, input.idempotency_key,
            lambda conn, actor, request_id: requests_service.cancel_entry(conn, actor, request_id, actor.reason),
            decision_errors,
        )
        if not isinstance(outcome, tuple):
            return outcome
        return CancelJournalEntryPayload(request=JournalEntryRequest(request=outcome[0]), replayed=outcome[1])
