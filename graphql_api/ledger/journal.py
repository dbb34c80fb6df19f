"""Journal queries and mutations: parse the input, authorise, call the ledger in a thread, map the result.

`postJournalEntry` makes a maker-checker request (manual_entries): the entry posts when another person
approves it (graphql_api.ledger.journal_requests). Reversals post at once: see README, "Maker-checker".
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Union

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graphql_api.core import error_types as e
from graphql_api.core.errors import BadUserInput
from graphql_api.ledger.journal_requests import JournalEntryRequest
from graphql_api.core.scalars import check_page_size, decode_cursor, decode_id, decode_time_cursor, encode_cursor, encode_time_cursor
from graphql_api.core.threads import read, write
from graphql_api.core.types import Connection, connection
from graphql_api.ledger.types import Account, JournalEntry, Side, TrialBalance, trial_balance_type
from ledger import errors as ledger_errors
from ledger import service as ledger_service
from ledger.model import EntryDraft, canonical_metadata, credit, debit
from ledger.queries import TrialBalance as LedgerTrialBalance
from ledger.queries import TrialBalanceLine, accounts_page, get_entry, list_entries, trial_balance
from reports.statements import trial_balance as report_trial_balance
from manual_entries import service as requests_service

entries_page_size_default = 50
accounts_page_size_default = 100
reason_length_max = 500


@strawberry.input(description="One leg of a new journal entry.")
class PostingInput:
    account_code: str
    side: Side
    amount: Decimal = strawberry.field(description='Positive decimal string, e.g. "1000.00"; `side` says debit or credit.')
    currency: str = strawberry.field(description="ISO 4217 code; the entry must balance in each currency.")


@strawberry.input
class PostJournalEntryInput:
    effective_date: dt.date = strawberry.field(description="The business date the entry is effective on.")
    postings: list[PostingInput] = strawberry.field(description="At least two; debits equal credits per currency.")
    description: str = ""
    metadata: JSON | None = strawberry.field(default=None, description="An object of strings, integers, booleans and nulls (no floats).")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Replaying the same key with the same input returns the original request (and its entry once posted); "
        "a different input is IDEMPOTENCY_CONFLICT. The posted entry carries the key too.",
    )


@strawberry.input
class ReverseJournalEntryInput:
    entry_id: strawberry.ID
    effective_date: dt.date = strawberry.field(description="Business date of the reversal.")
    reason: str = strawberry.field(description="Why; kept in the audit trail.")
    description: str | None = None
    idempotency_key: str | None = None


@strawberry.type(description="The manual entry request: PENDING until a checker (never the maker) approves it with approveJournalEntry.")
class PostJournalEntryPayload:
    request: JournalEntryRequest
    entry: JournalEntry | None = strawberry.field(description="The posted entry: null until the request is approved.")
    replayed: bool = strawberry.field(description="True when the idempotency key had already submitted this request.")


@strawberry.type
class ReverseJournalEntryPayload:
    entry: JournalEntry = strawberry.field(description="The reversing entry just posted (or replayed).")
    reversed_entry: JournalEntry


post_errors = (
    e.InvalidInputError, e.InvalidAmountError, e.FloatAmountRefusedError, e.AmountTooPreciseError,
    e.AmountOutOfRangeError, e.UnknownCurrencyError, e.UnbalancedEntryError, e.TooFewPostingsError,
    e.TooManyPostingsError, e.InvalidEntryError, e.UnknownAccountError, e.AccountClosedError,
    e.CurrencyNotAllowedError, e.IdempotencyConflictError, e.TransactionRetriesExhaustedError, e.PeriodClosedError,
    e.HeaderAccountError, e.GenericError,
)
reverse_errors = (
    e.InvalidInputError, e.UnknownEntryError, e.AlreadyReversedError, e.EntryOwnedByWorkflowError, e.AccountClosedError,
    e.CurrencyNotAllowedError, e.InvalidEntryError, e.IdempotencyConflictError,
    e.TransactionRetriesExhaustedError, e.PeriodClosedError, e.HeaderAccountError, e.GenericError,
)
PostJournalEntryResult = Annotated[
    Union[(PostJournalEntryPayload, *post_errors)], strawberry.union("PostJournalEntryResult")  # noqa: UP007
]
ReverseJournalEntryResult = Annotated[
    Union[(ReverseJournalEntryPayload, *reverse_errors)], strawberry.union("ReverseJournalEntryResult")  # noqa: UP007
]


# The operation of this API that corrects an entry of each workflow (ledger.ownership); a workflow
# without one (close of business: its postings follow from the loans' state) is named by its guidance.
correcting_operations = {"loans": "reverseRepayment", "reconciliation": "unbookStatementLine"}
workflow_guidance = {
    "loans": "reverse the loan transaction with reverseRepayment, which corrects the loan and the GL together",
    "reconciliation": "unbook the statement line with unbookStatementLine, which reverses the entry and unmatches the line together",
    "close_of_business": "its postings follow from the loans' state: correct the loan (reverseRepayment, waiveFee, a "
                         "backdated repayment) and the loan's replay posts the difference",
}


def workflow_refusal(exc: ledger_errors.EntryOwnedByWorkflow) -> ledger_errors.EntryOwnedByWorkflow:
    """The refusal, with the operation (and the way) that corrects an entry of its workflow."""
    workflow = str(exc.details.get("workflow"))
    operation = correcting_operations.get(workflow)
    guidance = workflow_guidance.get(workflow, f"correct it through the {workflow.replace('_', ' ')} workflow's own operations")
    message = f"entry {exc.details.get('entry')} was posted by the {workflow.replace('_', ' ')} workflow and cannot be " \
              f"reversed on its own; {guidance}"
    details = {**exc.details, **({"operation": operation} if operation else {})}
    return ledger_errors.EntryOwnedByWorkflow(message, **details)


def draft_from_input(data: PostJournalEntryInput) -> EntryDraft:
    """The ledger draft for the input; a LedgerError names the input field (postings[i].amount) it is about."""
    legs = []
    for i, leg in enumerate(data.postings):
        make = debit if leg.side is Side.DEBIT else credit
        try:
            legs.append(make(leg.account_code, leg.amount, leg.currency))
        except ledger_errors.UnknownCurrency as exc:
            exc.details["field"] = f"postings[{i}].currency"
            raise
        except ledger_errors.InvalidAmount as exc:
            exc.details["field"] = f"postings[{i}].amount"
            raise
    metadata = {} if data.metadata is None else data.metadata
    try:
        canonical_metadata(metadata)
    except ledger_errors.LedgerError as exc:
        exc.details["field"] = "metadata"
        raise
    return EntryDraft(data.effective_date, tuple(legs), data.description, metadata, data.idempotency_key)


@strawberry.type
class JournalQuery:
    @strawberry.field(description="The chart of accounts, ordered by code.")
    async def accounts(
        self, info: Info, first: int = accounts_page_size_default, after: str | None = None
    ) -> Connection[Account]:
        ctx = info.context
        session = await ctx.authorize("accounts")
        check_page_size(first)
        after_code = decode_cursor("Account", after, 1)[0] if after is not None else None
        found = await read(ctx.engine, accounts_page, session.principal.tenant_id, after_code, first + 1)
        items = [(encode_cursor("Account", a.code), Account(account=a)) for a in found[:first]]
        return connection(items, has_next=len(found) > first, has_previous=after is not None)

    @strawberry.field(description="One account by code; null if your chart has no such account.")
    async def account(self, info: Info, code: str) -> Account | None:
        session = await info.context.authorize("account")
        found = await session.loaders.account.load(code)
        return None if found is None else Account(account=found)

    @strawberry.field(description="Balances of every account per currency; current, or as of a business date, "
                      "optionally as known on a moment (entries recorded after it left out; asOf then defaults to today, UTC).")
    async def trial_balance(self, info: Info, as_of: dt.date | None = None, known_on: dt.datetime | None = None) -> TrialBalance:
        ctx = info.context
        session = await ctx.authorize("trialBalance")
        if known_on is None:
            tb = await read(ctx.engine, trial_balance, session.principal.tenant_id, as_of)
            return trial_balance_type(tb)
        if known_on.tzinfo is None:
            raise BadUserInput("knownOn needs a time zone (e.g. 2026-01-31T23:59:59Z)")
        day = as_of or ctx.clock().date()
        report = await read(ctx.engine, report_trial_balance, session.principal.tenant_id, day, known_on)
        return trial_balance_type(LedgerTrialBalance(day, tuple(TrialBalanceLine(a, c, d, k) for a, c, d, k in report.lines)))

    @strawberry.field(description="Journal entries, newest recorded first. `first` is at most 100.")
    async def journal_entries(
        self,
        info: Info,
        first: int = entries_page_size_default,
        after: str | None = None,
        account_code: Annotated[str | None, strawberry.argument(description="Only entries with a posting to this account.")] = None,
        date_from: Annotated[dt.date | None, strawberry.argument(description="Effective on or after.")] = None,
        date_to: Annotated[dt.date | None, strawberry.argument(description="Effective on or before.")] = None,
    ) -> Connection[JournalEntry]:
        ctx = info.context
        session = await ctx.authorize("journalEntries")
        check_page_size(first)
        position = decode_time_cursor("JournalEntry", after)
        entries = await read(
            ctx.engine, lambda conn: list_entries(
                conn, session.principal.tenant_id, account_code=account_code, date_from=date_from, date_to=date_to,
                after=position, limit=first + 1,
            )
        )
        items = [
            (encode_time_cursor("JournalEntry", entry.recorded_at, entry.id), JournalEntry(entry=entry))
            for entry in entries[:first]
        ]
        return connection(items, has_next=len(entries) > first, has_previous=after is not None)

    @strawberry.field(description="One journal entry by id; null if your books have no such entry.")
    async def journal_entry(self, info: Info, id: strawberry.ID) -> JournalEntry | None:  # noqa: A002
        ctx = info.context
        session = await ctx.authorize("journalEntry")
        entry = await session.loaders.entry.load(decode_id("JournalEntry", id))
        return None if entry is None else JournalEntry(entry=entry)


@strawberry.type
class JournalMutation:
    @strawberry.mutation(
        description="Submit a balanced manual journal entry for a second person's check (maker-checker): it is validated now "
        "and posts when approved with approveJournalEntry. Roles: ADMIN, FINANCE."
    )
    async def post_journal_entry(self, info: Info, input: PostJournalEntryInput) -> PostJournalEntryResult:  # noqa: A002
        ctx = info.context
        await ctx.authorize("postJournalEntry")
        try:
            draft = draft_from_input(input)
            actor = ctx.actor()
            request, replayed = await write(ctx.engine, lambda conn: requests_service.submit_entry(conn, actor, draft))
        except ledger_errors.LedgerError as exc:
            return e.error_result(exc, post_errors)
        entry = None
        if request.journal_entry_id is not None:
            entry = JournalEntry(entry=await ctx.session.loaders.entry.load(request.journal_entry_id))
        return PostJournalEntryPayload(request=JournalEntryRequest(request=request), entry=entry, replayed=replayed)

    @strawberry.mutation(description="Post the exact mirror of an entry, linked to it; an entry is reversed once. Roles: ADMIN, FINANCE.")
    async def reverse_journal_entry(self, info: Info, input: ReverseJournalEntryInput) -> ReverseJournalEntryResult:  # noqa: A002
        ctx = info.context
        await ctx.authorize("reverseJournalEntry")
        try:
            entry_id = decode_id("JournalEntry", input.entry_id)
        except BadUserInput as exc:
            return e.invalid_input(exc.message, "entryId")
        reason = input.reason.strip()
        if not reason or len(reason) > reason_length_max:
            return e.invalid_input(f"reason must be 1 to {reason_length_max} characters", "reason")
        actor = ctx.actor(reason=reason)

        def work(conn):
            reversal = ledger_service.reverse_entry(
                conn, actor, entry_id, input.effective_date, description=input.description, idempotency_key=input.idempotency_key
            )
            return reversal, get_entry(conn, actor.tenant_id, entry_id)

        try:
            reversal, original = await write(ctx.engine, work)
        except ledger_errors.EntryOwnedByWorkflow as exc:
            return e.error_result(workflow_refusal(exc), reverse_errors)
        except ledger_errors.LedgerError as exc:
            return e.error_result(exc, reverse_errors)
        return ReverseJournalEntryPayload(entry=JournalEntry(entry=reversal), reversed_entry=JournalEntry(entry=original))
