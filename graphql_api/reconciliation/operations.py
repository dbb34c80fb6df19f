"""The reconciliation's root fields: import statements, list their lines, reconcile, and the report.

Resolvers parse, call reconciliation's use cases in one unit of work, and map the result. Finance and
admins act; every role that may read the books (auditors among them) reads.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid

import sqlalchemy as sa
import strawberry
from strawberry.types import Info

from graphql_api.core import error_types as e
from graphql_api.core.inputs import RefusedInput, input_id, input_key, input_reason
from graphql_api.core.scalars import check_page_size, decode_cursor, decode_id, encode_cursor, encode_id
from graphql_api.core.strings import length_max_key
from graphql_api.core.threads import read, write
from graphql_api.core.types import Connection, Money, connection, money
from graphql_api.reconciliation.rules import ReconciliationRulesMutation, ReconciliationRulesQuery
from graphql_api.reconciliation.types import (
    BankStatement,
    ReconciliationMatchError,
    StatementFormat,
    StatementLine,
    StatementLineBooking,
    StatementLineStatus,
    StatementRejectedError,
    common_errors,
    error_of,
)
from ledger import errors as ledger_errors
from reconciliation import importing, queries, reconciling
from reconciliation.report import reconciliation_report

lines_page_size_default = 100
lines_page_size_max = queries.page_size_max
content_characters_max = 1_000_000  # a statement sent through the API (within its 1 MiB request body); larger files go through the CLI


@strawberry.input(description="A bank statement to import: its text (camt.053 XML, MT940, CSV) or, with contentBase64 or for "
                              ".xlsx, its bytes in base64.")
class ImportBankStatementInput:
    bank_account_code: str = strawberry.field(description="The ledger account the statement is for (e.g. 1100).")
    format: StatementFormat
    content: str = strawberry.field(
        description="The file's text, or its bytes in base64.", metadata={length_max_key: content_characters_max}
    )
    filename: str | None = None
    mapping_name: str | None = strawberry.field(default=None, description="The saved column mapping for CSV and .xlsx exports.")
    idempotency_key: str | None = None
    content_base64: bool = strawberry.field(default=False, description="`content` is base64 (always so for .xlsx).")


@strawberry.type
class ImportBankStatementPayload:
    statement: BankStatement
    lines_added: int
    lines_known: int = strawberry.field(description="Lines already imported from an earlier statement (an overlapping export).")
    replayed: bool = strawberry.field(description="The same file or idempotency key was imported before; nothing was added.")


@strawberry.input
class AutoReconcileInput:
    bank_account_code: str
    through_date: dt.date = strawberry.field(description="Lines booked on or before this date are reconciled.")


@strawberry.type
class AutoReconcilePayload:
    matched: int = strawberry.field(description="Lines matched now.")
    proposed: int
    unmatched: int
    repayments_booked: int = strawberry.field(description="Bank lines booked as the repayment of the loan they name.")


@strawberry.input(description="Match lines to postings by hand: both sides must sum to the same amount.")
class MatchStatementLinesInput:
    bank_account_code: str
    line_ids: list[strawberry.ID]
    posting_refs: list[str] = strawberry.field(description="JOURNAL_ENTRY_ID:LINE_NO of postings to the bank account.")
    reason: str


@strawberry.type
class MatchStatementLinesPayload:
    match_id: strawberry.ID
    lines: list[StatementLine]


@strawberry.input(description="Undo the matches holding these lines; every line of those matches returns to UNMATCHED.")
class UnmatchStatementLinesInput:
    bank_account_code: str
    line_ids: list[strawberry.ID]
    reason: str


@strawberry.type
class UnmatchStatementLinesPayload:
    lines: list[StatementLine]


@strawberry.input(description="Book a bank item the books lack and match the line to it.")
class BookStatementLineInput:
    bank_account_code: str
    line_id: strawberry.ID
    kind: StatementLineBooking
    account_code: str | None = strawberry.field(default=None, description="The other side (e.g. a bank charges expense); not for SUSPENSE.")
    reason: str


@strawberry.type
class BookStatementLinePayload:
    journal_entry_id: strawberry.ID
    line: StatementLine


@strawberry.input(description="Undo bookStatementLine: the line returns to UNMATCHED and the entry booked for it is reversed.")
class UnbookStatementLineInput:
    bank_account_code: str
    line_id: strawberry.ID
    effective_date: dt.date | None = strawberry.field(
        default=None, description="The reversal's date; by default the booked entry's own (a closed period needs a date in the open one)."
    )
    reason: str


@strawberry.type
class UnbookStatementLinePayload:
    reversal_entry_id: strawberry.ID = strawberry.field(description="The entry reversing the one booked for the line.")
    line: StatementLine


@strawberry.type(description="The bank account reconciled as of a date; `difference` is zero when every item is explained.")
class ReconciliationReport:
    bank_account_code: str
    as_of: dt.date
    statement_balance: Money
    ledger_balance: Money
    deposits_in_transit: Money
    unpresented_payments: Money
    unbooked_bank_items: Money = strawberry.field(description="Signed: bank lines the books do not have yet.")
    difference: Money
    outstanding_postings: int
    outstanding_lines: int


import_errors = (StatementRejectedError, e.UnknownAccountError, *common_errors)
match_errors = (ReconciliationMatchError, e.UnknownAccountError, e.UnknownEntryError, *common_errors)
book_errors = (
    ReconciliationMatchError, e.UnknownAccountError, e.AccountClosedError, e.CurrencyNotAllowedError, e.HeaderAccountError,
    *common_errors,
)
ImportBankStatementResult = e.result_union("ImportBankStatementResult", ImportBankStatementPayload, import_errors)
AutoReconcileResult = e.result_union("AutoReconcileResult", AutoReconcilePayload, (e.UnknownAccountError, *common_errors))
MatchStatementLinesResult = e.result_union("MatchStatementLinesResult", MatchStatementLinesPayload, match_errors)
UnmatchStatementLinesResult = e.result_union("UnmatchStatementLinesResult", UnmatchStatementLinesPayload, match_errors)
BookStatementLineResult = e.result_union("BookStatementLineResult", BookStatementLinePayload, book_errors)
unbook_errors = (ReconciliationMatchError, e.EntryOwnedByWorkflowError, e.PeriodClosedError, *common_errors)
UnbookStatementLineResult = e.result_union("UnbookStatementLineResult", UnbookStatementLinePayload, unbook_errors)


def _content(data: ImportBankStatementInput) -> bytes:
    if len(data.content) > content_characters_max:
        raise RefusedInput(f"content is over {content_characters_max} characters; import large files with the CLI", "content")
    if data.content_base64 or data.format is StatementFormat.XLSX:
        try:
            return base64.b64decode(data.content, validate=True)
        except (binascii.Error, ValueError):
            raise RefusedInput("content is not base64", "content") from None
    return data.content.encode()


def _posting_ref(text: str) -> tuple[uuid.UUID, int]:
    entry, sep, line = text.rpartition(":")
    if not sep or not line.isdigit():
        raise RefusedInput(f"{text[:60]!r} is not JOURNAL_ENTRY_ID:LINE_NO", "postingRefs")
    return input_id("JournalEntry", entry, "postingRefs"), int(line)


def _all_lines(conn: sa.Connection, tenant_id: int, code: str, wanted: set) -> list:
    found = queries.lines_by_id(conn, tenant_id, code, wanted)
    return [found[i] for i in sorted(found, key=str)]


@strawberry.type
class ReconciliationQuery(ReconciliationRulesQuery):
    @strawberry.field(description="Imported bank statements, newest first (optionally of one bank account); at most 500.")
    async def bank_statements(self, info: Info, bank_account_code: str | None = None, first: int = 50) -> list[BankStatement]:
        ctx = info.context
        session = await ctx.authorize("bankStatements")
        check_page_size(first, queries.page_size_max)
        rows = await read(ctx.engine, queries.statements_page, session.principal.tenant_id, bank_account_code, first)
        return [BankStatement(row=row) for row in rows]

    @strawberry.field(description="One imported statement; null if your books have none with this id.")
    async def bank_statement(self, info: Info, id: strawberry.ID) -> BankStatement | None:  # noqa: A002
        ctx = info.context
        session = await ctx.authorize("bankStatement")
        row = await read(ctx.engine, queries.statement_by_id, session.principal.tenant_id, decode_id("BankStatement", id))
        return None if row is None else BankStatement(row=row)

    @strawberry.field(description="A bank account's statement lines in booking-date order; `status: UNMATCHED` is the work queue. "
                                  "`first` is at most 500.")
    async def statement_lines(
        self, info: Info, bank_account_code: str, status: StatementLineStatus | None = None, date_from: dt.date | None = None,
        date_to: dt.date | None = None, first: int = lines_page_size_default, after: str | None = None,
    ) -> Connection[StatementLine]:
        ctx = info.context
        session = await ctx.authorize("statementLines")
        check_page_size(first, lines_page_size_max)
        position = None
        if after is not None:
            day, line_id = decode_cursor("StatementLine", after, 2)
            position = (dt.date.fromisoformat(day), uuid.UUID(line_id))
        rows = await read(ctx.engine, lambda conn: queries.lines_page(
            conn, session.principal.tenant_id, bank_account_code, status=None if status is None else status.value,
            date_from=date_from, date_to=date_to, after=position, limit=first + 1))
        items = [(encode_cursor("StatementLine", row.booking_date.isoformat(), str(row.id)), StatementLine(row=row)) for row in rows[:first]]
        return connection(items, has_next=len(rows) > first, has_previous=after is not None)

    @strawberry.field(description="The bank account reconciled as of a date: statement balance, ledger balance, outstanding items "
                                  "and the difference they leave unexplained; null for an unknown account or one with nothing in it.")
    async def reconciliation_report(self, info: Info, bank_account_code: str, as_of: dt.date) -> ReconciliationReport | None:
        ctx = info.context
        session = await ctx.authorize("reconciliationReport")
        try:
            report = await read(ctx.engine, reconciliation_report, session.principal.tenant_id, bank_account_code, as_of)
        except (ledger_errors.UnknownAccount, ledger_errors.InvalidInput):
            return None  # no such account, or nothing in it to reconcile yet
        c = report.currency
        return ReconciliationReport(
            bank_account_code=report.bank_account_code, as_of=report.as_of,
            statement_balance=money(report.statement_balance_minor, c), ledger_balance=money(report.ledger_balance_minor, c),
            deposits_in_transit=money(report.deposits_in_transit_minor, c),
            unpresented_payments=money(report.unpresented_payments_minor, c),
            unbooked_bank_items=money(report.unbooked_bank_items_minor, c), difference=money(report.difference_minor, c),
            outstanding_postings=report.outstanding_postings, outstanding_lines=report.outstanding_lines,
        )


@strawberry.type
class ReconciliationMutation(ReconciliationRulesMutation):
    @strawberry.mutation(description="Import a bank statement; each check failing is a typed error and nothing is stored; "
                                     "importing the same statement again adds nothing. Roles: ADMIN, FINANCE.")
    async def import_bank_statement(self, info: Info, input: ImportBankStatementInput) -> ImportBankStatementResult:  # type: ignore[valid-type]  # noqa: A002
        ctx = info.context
        await ctx.authorize("importBankStatement")
        try:
            key, content = input_key(input.idempotency_key), _content(input)
        except RefusedInput as refused:
            return refused.result
        actor = ctx.actor()

        def work(conn: sa.Connection):
            result = importing.import_statement(conn, actor, input.bank_account_code, content, fmt=input.format.value,
                                                filename=input.filename, mapping_name=input.mapping_name, idempotency_key=key)
            return result, queries.statement_by_id(conn, actor.tenant_id, result.statement_id)

        try:
            result, row = await write(ctx.engine, work)
        except ledger_errors.LedgerError as exc:
            return error_of(exc, import_errors)
        return ImportBankStatementPayload(statement=BankStatement(row=row), lines_added=result.lines_added,
                                          lines_known=result.lines_known, replayed=result.replayed)

    @strawberry.mutation(description="Match what is unambiguous through a date, propose the rest, and book money in that names a "
                                     "loan as its repayment. Never matches a line or a posting twice. Roles: ADMIN, FINANCE.")
    async def auto_reconcile(self, info: Info, input: AutoReconcileInput) -> AutoReconcileResult:  # type: ignore[valid-type]  # noqa: A002
        ctx = info.context
        await ctx.authorize("autoReconcile")
        actor = ctx.actor()
        try:
            done = await write(ctx.engine, lambda conn: reconciling.auto_reconcile(
                conn, actor, input.bank_account_code, input.through_date, cipher=ctx.cipher))
        except ledger_errors.LedgerError as exc:
            return error_of(exc, (e.UnknownAccountError, *common_errors))
        return AutoReconcilePayload(matched=done.matched, proposed=done.proposed, unmatched=done.unmatched,
                                    repayments_booked=done.repayments_booked)

    @strawberry.mutation(description="Match statement lines to postings by hand (audited with actor and reason). Roles: ADMIN, FINANCE.")
    async def match_statement_lines(self, info: Info, input: MatchStatementLinesInput) -> MatchStatementLinesResult:  # type: ignore[valid-type]  # noqa: A002
        ctx = info.context
        await ctx.authorize("matchStatementLines")
        try:
            line_ids = [input_id("StatementLine", i, "lineIds") for i in input.line_ids]
            postings = [_posting_ref(ref) for ref in input.posting_refs]
            reason = input_reason(input.reason, required=True)
        except RefusedInput as refused:
            return refused.result
        actor = ctx.actor(reason)

        def work(conn: sa.Connection):
            match_id = reconciling.match_lines(conn, actor, input.bank_account_code, line_ids, postings, reason)
            return match_id, _all_lines(conn, actor.tenant_id, input.bank_account_code, set(line_ids))

        try:
            match_id, rows = await write(ctx.engine, work)
        except ledger_errors.LedgerError as exc:
            return error_of(exc, match_errors)
        return MatchStatementLinesPayload(match_id=encode_id("ReconciliationMatch", match_id), lines=[StatementLine(row=r) for r in rows])

    @strawberry.mutation(description="Undo the matches holding these lines (audited with actor and reason). Roles: ADMIN, FINANCE.")
    async def unmatch_statement_lines(self, info: Info, input: UnmatchStatementLinesInput) -> UnmatchStatementLinesResult:  # type: ignore[valid-type]  # noqa: A002
        ctx = info.context
        await ctx.authorize("unmatchStatementLines")
        try:
            line_ids = [input_id("StatementLine", i, "lineIds") for i in input.line_ids]
            reason = input_reason(input.reason, required=True)
        except RefusedInput as refused:
            return refused.result
        actor = ctx.actor(reason)

        def work(conn: sa.Connection):
            freed = reconciling.unmatch_lines(conn, actor, input.bank_account_code, line_ids, reason)
            return _all_lines(conn, actor.tenant_id, input.bank_account_code, set(freed))

        try:
            rows = await write(ctx.engine, work)
        except ledger_errors.LedgerError as exc:
            return error_of(exc, match_errors)
        return UnmatchStatementLinesPayload(lines=[StatementLine(row=r) for r in rows])

    @strawberry.mutation(description="Book a bank fee, bank interest or another item the books lack (through the ledger's one entry "
                                     "path, metadata workflow=reconciliation), or money in to suspense, and match the line to it. "
                                     "Roles: ADMIN, FINANCE.")
    async def book_statement_line(self, info: Info, input: BookStatementLineInput) -> BookStatementLineResult:  # type: ignore[valid-type]  # noqa: A002
        def book(conn: sa.Connection, actor, line_id: uuid.UUID, reason: str) -> uuid.UUID:  # noqa: ANN001
            return reconciling.book_line(conn, actor, input.bank_account_code, line_id, input.kind.value, input.account_code, reason)

        done = await _line_entry_command(info, "bookStatementLine", input.bank_account_code, input.line_id, input.reason, book,
                                         book_errors)
        if isinstance(done, e.Error):
            return done
        entry_id, row = done
        return BookStatementLinePayload(journal_entry_id=encode_id("JournalEntry", entry_id), line=StatementLine(row=row))

    @strawberry.mutation(description="Undo bookStatementLine (a fee booked to the wrong account, say): unmatch the line and reverse "
                                     "the entry booked for it; book it again afterwards. Audited with actor and reason. "
                                     "Roles: ADMIN, FINANCE.")
    async def unbook_statement_line(self, info: Info, input: UnbookStatementLineInput) -> UnbookStatementLineResult:  # type: ignore[valid-type]  # noqa: A002
        def unbook(conn: sa.Connection, actor, line_id: uuid.UUID, reason: str) -> uuid.UUID:  # noqa: ANN001
            return reconciling.unbook_line(conn, actor, input.bank_account_code, line_id, input.effective_date, reason)

        done = await _line_entry_command(info, "unbookStatementLine", input.bank_account_code, input.line_id, input.reason, unbook,
                                         unbook_errors)
        if isinstance(done, e.Error):
            return done
        reversal_id, row = done
        return UnbookStatementLinePayload(reversal_entry_id=encode_id("JournalEntry", reversal_id), line=StatementLine(row=row))


async def _line_entry_command(info: Info, operation: str, code: str, line: strawberry.ID, reason_text: str,
                              command, allowed: tuple[type, ...]):  # noqa: ANN001, ANN202
    """A command on one statement line that posts an entry: (entry id, the line afterwards), or the typed error."""
    ctx = info.context
    await ctx.authorize(operation)
    try:
        line_id = input_id("StatementLine", line, "lineId")
        reason = input_reason(reason_text, required=True)
    except RefusedInput as refused:
        return refused.result
    actor = ctx.actor(reason)

    def work(conn: sa.Connection):
        entry_id = command(conn, actor, line_id, reason)
        return entry_id, _all_lines(conn, actor.tenant_id, code, {line_id})[0]

    try:
        return await write(ctx.engine, work)
    except ledger_errors.LedgerError as exc:
        return error_of(exc, allowed)
