"""Unidentified receipts: money in the bank that names no loan, held in suspense until applied.

`receiveUnidentifiedReceipt` books it (Dr bank, Cr suspense); `applyUnidentifiedReceipt` applies it to a
loan as a repayment out of suspense (a loan money command, so its payload is a LoanMoneyPayload);
reversing that repayment (`reverseRepayment`) returns the money to suspense and the receipt to the
UNAPPLIED queue. `unidentifiedReceipts(status: UNAPPLIED)` is finance's work queue.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Union

import sqlalchemy as sa
import strawberry
from strawberry.types import Info

from graphql_api.core import error_types as e
from graphql_api.core.inputs import RefusedInput, input_id, input_key
from graphql_api.loans.money import LoanMoneyPayload, money_errors, run_money_command
from graphql_api.loans.types import LoanTransaction, loan_transaction_type
from graphql_api.core.scalars import check_page_size, decode_id, decode_time_cursor, encode_id, encode_time_cursor, utc
from graphql_api.core.strings import length_max_key
from graphql_api.core.threads import read, write
from graphql_api.core.types import Connection, Money, connection, mirror_enum, money
from graphql_api.ledger.types import JournalEntry
from ledger import errors as ledger_errors
from loans import receipts as receipts_reads
from loans import suspense
from loans.queries import receipt_key_used
from loans.receipts import Receipt, ReceiptStatus

receipts_page_size_default = 50
receipts_page_size_max = receipts_reads.receipts_page_size_max

UnidentifiedReceiptStatus = mirror_enum(
    ReceiptStatus,
    "UNAPPLIED: the money sits in suspense; APPLIED: a repayment out of suspense stands (reverse it to apply the receipt again).",
    name="UnidentifiedReceiptStatus",
)


@strawberry.type(description="Money received that names no loan (e.g. a transfer with an unreadable narrative), held in suspense.")
class UnidentifiedReceipt:
    receipt: strawberry.Private[Receipt]

    @strawberry.field(description="Opaque id; pass it back as is (e.g. to applyUnidentifiedReceipt).")
    def id(self) -> strawberry.ID:
        return encode_id("UnidentifiedReceipt", self.receipt.id)

    @strawberry.field
    def status(self) -> UnidentifiedReceiptStatus:  # type: ignore[valid-type]
        return UnidentifiedReceiptStatus[self.receipt.status.name]

    @strawberry.field(description="The business date the money arrived.")
    def received_on(self) -> dt.date:
        return self.receipt.received_on

    @strawberry.field
    def amount(self) -> Money:
        return money(self.receipt.amount_minor, self.receipt.currency)

    @strawberry.field(description="The bank's narrative or the payer, as received.")
    def reference(self) -> str:
        return self.receipt.reference

    @strawberry.field
    def recorded_at(self) -> dt.datetime:
        return utc(self.receipt.recorded_at)

    @strawberry.field
    def recorded_by(self) -> str:
        return self.receipt.recorded_by

    @strawberry.field(description="The entry that booked it: Dr bank, Cr suspense.")
    async def journal_entry(self, info: Info) -> JournalEntry | None:
        entry = await info.context.session.loaders.entry.load(self.receipt.journal_entry_id)
        return None if entry is None else JournalEntry(entry=entry)

    @strawberry.field(description="The loan it is applied to now; null while UNAPPLIED.")
    def applied_loan_id(self) -> strawberry.ID | None:
        loan_id = self.receipt.applied_loan_id
        return None if loan_id is None else encode_id("Loan", loan_id)

    @strawberry.field(description="The repayment out of suspense that applies it now (type SUSPENSE_REPAYMENT); null while UNAPPLIED.")
    async def applied_transaction(self, info: Info) -> LoanTransaction | None:
        if self.receipt.applied_transaction_id is None:
            return None
        row = await info.context.session.loaders.loan_transaction.load(self.receipt.applied_transaction_id)
        return None if row is None else loan_transaction_type(row)


@strawberry.input(description="Book money that names no loan into suspense (Dr bank, Cr suspense).")
class ReceiveUnidentifiedReceiptInput:
    amount: Decimal
    currency: str
    received_on: dt.date = strawberry.field(description="The business date the money arrived.")
    # Its own rule (1-200 characters, INVALID_RECEIPT) answers first; the API's string check is the backstop.
    reference: str = strawberry.field(
        description="The bank's narrative or the payer (1-200 characters), to find the loan by later.",
        metadata={length_max_key: 1000},
    )
    idempotency_key: str | None = strawberry.field(default=None, description="Sending the same key again returns the same receipt.")


@strawberry.type(description="The receipt, UNAPPLIED, and the entry that booked it.")
class ReceiveUnidentifiedReceiptPayload:
    receipt: UnidentifiedReceipt
    replayed: bool = strawberry.field(description="True when the idempotency key had already booked this receipt; nothing new was written.")


receive_errors = (
    e.InvalidInputError, e.InvalidAmountError, e.AmountNotPositiveError, e.AmountTooPreciseError, e.AmountOutOfRangeError,
    e.FloatAmountRefusedError, e.UnknownCurrencyError, e.InvalidReceiptError, e.IdempotencyConflictError, e.AccountClosedError,
    e.CurrencyNotAllowedError, e.HeaderAccountError, e.TransactionRetriesExhaustedError, e.GenericError,
)
ReceiveUnidentifiedReceiptResult = Annotated[
    Union[(ReceiveUnidentifiedReceiptPayload, *receive_errors)], strawberry.union("ReceiveUnidentifiedReceiptResult")  # noqa: UP007
]


@strawberry.input(description="Apply an unidentified receipt to a loan: a repayment out of suspense by the product's waterfall.")
class ApplyUnidentifiedReceiptInput:
    receipt_id: strawberry.ID
    loan_id: strawberry.ID
    effective_date: dt.date = strawberry.field(
        description="Business date of the repayment (not before the receipt arrived; a later date applies it as of that date)."
    )
    idempotency_key: str | None = strawberry.field(default=None, description="Sending the same key again returns the same repayment.")


@strawberry.type(description="The repayment out of suspense (Dr suspense, Cr what the loan owed); the receipt is APPLIED.")
class ApplyUnidentifiedReceiptPayload(LoanMoneyPayload):
    pass


apply_errors = (*money_errors[:-1], e.UnknownReceiptError, e.ReceiptAlreadyAppliedError, e.GenericError)
ApplyUnidentifiedReceiptResult = e.result_union("ApplyUnidentifiedReceiptResult", ApplyUnidentifiedReceiptPayload, apply_errors)


@strawberry.type
class ReceiptQuery:
    @strawberry.field(
        description="Unidentified receipts (money in suspense that names no loan), newest first; `status: UNAPPLIED` is the "
        "queue to apply. `first` is at most 100."
    )
    async def unidentified_receipts(
        self,
        info: Info,
        status: UnidentifiedReceiptStatus | None = None,  # type: ignore[valid-type]
        first: int = receipts_page_size_default,
        after: str | None = None,
    ) -> Connection[UnidentifiedReceipt]:
        wanted = None if status is None else ReceiptStatus[status.name]
        ctx = info.context
        session = await ctx.authorize("unidentifiedReceipts")
        check_page_size(first, receipts_page_size_max)
        position = decode_time_cursor("UnidentifiedReceipt", after)
        found = await read(
            ctx.engine,
            lambda conn: receipts_reads.list_receipts(conn, session.principal.tenant_id, status=wanted, after=position, limit=first + 1),
        )
        items = [
            (encode_time_cursor("UnidentifiedReceipt", r.recorded_at, r.id), UnidentifiedReceipt(receipt=r))
            for r in found[:first]
        ]
        return connection(items, has_next=len(found) > first, has_previous=after is not None)

    @strawberry.field(description="One unidentified receipt; null if your books have none with this id.")
    async def unidentified_receipt(self, info: Info, id: strawberry.ID) -> UnidentifiedReceipt | None:  # noqa: A002
        ctx = info.context
        session = await ctx.authorize("unidentifiedReceipt")
        wanted = decode_id("UnidentifiedReceipt", id)
        found = await read(ctx.engine, receipts_reads.receipts_by_id, session.principal.tenant_id, [wanted])
        return None if wanted not in found else UnidentifiedReceipt(receipt=found[wanted])


@strawberry.type
class ReceiptMutation:
    @strawberry.mutation(
        description="Book money that names no loan into suspense (Dr bank, Cr suspense) until it is applied. Roles: ADMIN, FINANCE."
    )
    async def receive_unidentified_receipt(
        self, info: Info, input: ReceiveUnidentifiedReceiptInput  # noqa: A002
    ) -> ReceiveUnidentifiedReceiptResult:  # type: ignore[valid-type]
        ctx = info.context
        session = await ctx.authorize("receiveUnidentifiedReceipt")
        try:
            key = input_key(input.idempotency_key)
        except RefusedInput as refused:
            return refused.result
        actor = ctx.actor()

        def work(conn: sa.Connection) -> tuple[Receipt, bool]:
            replayed = key is not None and receipt_key_used(conn, actor.tenant_id, key)
            receipt_id = suspense.receive_unidentified(conn, actor, input.amount, input.currency, input.received_on, input.reference, key)
            return receipts_reads.receipts_by_id(conn, actor.tenant_id, [receipt_id])[receipt_id], replayed

        try:
            receipt, replayed = await write(ctx.engine, work)
        except ledger_errors.LedgerError as exc:
            return e.error_result(exc, receive_errors, fields={"amount": "amount", "reference": "reference"})
        session.loaders.clear()
        return ReceiveUnidentifiedReceiptPayload(receipt=UnidentifiedReceipt(receipt=receipt), replayed=replayed)

    @strawberry.mutation(
        description="Apply an unidentified receipt to a loan as a repayment out of suspense; reverseRepayment undoes it and "
        "returns the money to suspense. Roles: ADMIN, FINANCE."
    )
    async def apply_unidentified_receipt(
        self, info: Info, input: ApplyUnidentifiedReceiptInput  # noqa: A002
    ) -> ApplyUnidentifiedReceiptResult:  # type: ignore[valid-type]
        try:
            receipt_id = input_id("UnidentifiedReceipt", input.receipt_id, "receiptId")
        except RefusedInput as refused:
            await info.context.authorize("applyUnidentifiedReceipt")
            return refused.result
        return await run_money_command(
            info, "applyUnidentifiedReceipt", input.loan_id, input.idempotency_key,
            lambda conn, actor, loan_id, key: suspense.apply_receipt(conn, actor, receipt_id, loan_id, input.effective_date, key),
            ApplyUnidentifiedReceiptPayload, apply_errors,
            ids={receipt_id: "UnidentifiedReceipt"}, known={"receipt_id": input.receipt_id},
        )
