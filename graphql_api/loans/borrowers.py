"""Borrowers: the list (always masked), one borrower (unmasked for roles that may see PII, audited), createBorrower.

Unmasking is deliberate and one borrower at a time: only the root `borrower(id)` field reveals, only
for `permissions.pii_readers`, only when the client selects a sensitive field, and always through
`loans.borrowers.reveal_borrower`, which writes a borrower.pii_revealed audit event (with the caller's
reason). Lists and nested borrowers (`loan.borrower`) are masked for everyone, so no query can dump
the PII of a whole book.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import enum
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Union

import strawberry
from strawberry.types import Info

from graphql_api.core import error_types as e
from graphql_api.core.errors import BadUserInput
from graphql_api.core.idempotency import run_once
from graphql_api.core.inputs import RefusedInput, input_key, reason_length_max
from graphql_api.core.scalars import check_page_size
from graphql_api.core.permissions import may_see_pii
from graphql_api.core.scalars import decode_id, decode_time_cursor, encode_id, encode_time_cursor, utc
from graphql_api.core.threads import read, write
from graphql_api.core.types import Connection, connection
from ledger import errors as ledger_errors
from loans import borrowers as borrower_commands
from loans.pii import BorrowerRecord
from loans.queries import borrowers_page

borrowers_page_size_default = 50
national_id_filter_length_max = 40


@strawberry.enum(description="INDIVIDUAL or COMPANY.")
class BorrowerKind(enum.Enum):
    INDIVIDUAL = "INDIVIDUAL"
    COMPANY = "COMPANY"


@dataclass
class PiiAccess:
    """Unmasked reads of one borrower object: its sensitive fields share one audited reveal, run on first use."""

    reveal: Callable[[], Awaitable[dict[str, str | None]]]
    revealed: asyncio.Future[dict[str, str | None]] | None = field(default=None, repr=False)

    async def value(self, name: str) -> str | None:
        if self.revealed is None:
            self.revealed = asyncio.ensure_future(self.reveal())
        return (await asyncio.shield(self.revealed))[name]


@strawberry.type(description="A borrower. National ID, phone and bank account are masked (110***********1234) unless `piiMasked` is false.")
class Borrower:
    record: strawberry.Private[BorrowerRecord]
    access: strawberry.Private[PiiAccess | None] = None

    @strawberry.field(description="Opaque id; pass it back as is.")
    def id(self) -> strawberry.ID:
        return encode_id("Borrower", self.record.id)

    @strawberry.field
    def kind(self) -> BorrowerKind:
        return BorrowerKind(self.record.kind)

    @strawberry.field
    def name(self) -> str:
        return self.record.name

    @strawberry.field
    def address(self) -> str | None:
        return self.record.address

    @strawberry.field(description="False only on `borrower(id)` for roles that may see PII; each such read is in the audit log.")
    def pii_masked(self) -> bool:
        return self.access is None

    @strawberry.field
    async def national_id(self) -> str | None:
        return await self._sensitive("national_id")

    @strawberry.field
    async def phone(self) -> str | None:
        return await self._sensitive("phone")

    @strawberry.field
    async def bank_account(self) -> str | None:
        return await self._sensitive("bank_account")

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return utc(self.record.created_at)

    @strawberry.field
    def created_by(self) -> str:
        return self.record.created_by

    async def _sensitive(self, name: str) -> str | None:
        return getattr(self.record, name) if self.access is None else await self.access.value(name)


@strawberry.input(description="A new borrower. National ID, phone and bank account are encrypted at rest and come back masked.")
class CreateBorrowerInput:
    name: str
    kind: BorrowerKind = BorrowerKind.INDIVIDUAL
    national_id: str | None = None
    phone: str | None = None
    bank_account: str | None = None
    address: str | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="Replaying the same key with the same input returns the borrower it created."
    )


@strawberry.type
class CreateBorrowerPayload:
    borrower: Borrower
    replayed: bool = strawberry.field(description="True when the idempotency key had already created this borrower.")


create_borrower_errors = (
    e.InvalidInputError, e.InvalidBorrowerError, e.IdempotencyConflictError, e.TransactionRetriesExhaustedError, e.GenericError,
)
CreateBorrowerResult = Annotated[
    Union[(CreateBorrowerPayload, *create_borrower_errors)], strawberry.union("CreateBorrowerResult")  # noqa: UP007
]


async def reveal(info: Info, borrower_id: uuid.UUID, reason: str | None) -> dict[str, str | None]:
    ctx = info.context
    actor = ctx.actor(reason=reason)
    return await write(ctx.engine, lambda conn: borrower_commands.reveal_borrower(conn, actor, ctx.cipher, borrower_id))


@strawberry.type
class BorrowerQuery:
    @strawberry.field(description="Borrowers, newest first; sensitive fields always masked here. `first` is at most 100.")
    async def borrowers(
        self,
        info: Info,
        first: int = borrowers_page_size_default,
        after: str | None = None,
        national_id: Annotated[str | None, strawberry.argument(description="Exact match (spaces and case ignored).")] = None,
    ) -> Connection[Borrower]:
        ctx = info.context
        session = await ctx.authorize("borrowers")
        check_page_size(first)
        if national_id is not None and not 0 < len(national_id) <= national_id_filter_length_max:
            raise BadUserInput(f"nationalId must be 1 to {national_id_filter_length_max} characters")
        position = decode_time_cursor("Borrower", after)
        found = await read(
            ctx.engine, lambda conn: borrowers_page(
                conn, session.principal.tenant_id, ctx.cipher, after=position, limit=first + 1, national_id=national_id,
            )
        )
        items = [(encode_time_cursor("Borrower", b.created_at, b.id), Borrower(record=b)) for b in found[:first]]
        return connection(items, has_next=len(found) > first, has_previous=after is not None)

    @strawberry.field(
        description="One borrower; null if your books have none with this id. Roles ADMIN, LOAN_OFFICER and COLLECTOR see "
        "national ID, phone and bank account unmasked (unless `masked`), and each such read is written to the audit log."
    )
    async def borrower(
        self,
        info: Info,
        id: strawberry.ID,  # noqa: A002
        masked: Annotated[bool, strawberry.argument(description="Ask for masked values even if your role may see them.")] = False,
        reason: Annotated[str | None, strawberry.argument(description="Why you need the unmasked values; kept in the audit log.")] = None,
    ) -> Borrower | None:
        session = await info.context.authorize("borrower")
        found_id = decode_id("Borrower", id)
        if reason is not None and len(reason) > reason_length_max:
            raise BadUserInput(f"reason must be at most {reason_length_max} characters")
        record = await session.loaders.borrower.load(found_id)
        if record is None:
            return None
        if masked or not may_see_pii(session.principal.role):
            return Borrower(record=record)
        return Borrower(record=record, access=PiiAccess(lambda: reveal(info, found_id, reason)))


@strawberry.type
class BorrowerMutation:
    @strawberry.mutation(description="A borrower; sensitive fields are encrypted at rest. Roles: ADMIN, LOAN_OFFICER.")
    async def create_borrower(self, info: Info, input: CreateBorrowerInput) -> CreateBorrowerResult:  # noqa: A002
        ctx = info.context
        session = await ctx.authorize("createBorrower")
        try:
            key = input_key(input.idempotency_key)
        except RefusedInput as refused:
            return refused.result
        actor = ctx.actor()
        values = {
            "name": input.name, "kind": input.kind.value, "national_id": input.national_id, "phone": input.phone,
            "bank_account": input.bank_account, "address": input.address,
        }
        # The audit log keeps a hash of a keyed request; a plain hash of a phone number is guessable, a keyed one is not.
        request = {**values, **{name: ctx.cipher.blind_index(values[name]) for name in ("national_id", "phone", "bank_account")}}

        def command(conn) -> dict:  # noqa: ANN001
            return {"borrower": str(borrower_commands.create_borrower(conn, actor, ctx.cipher, **values))}

        try:
            result, replayed = await write(ctx.engine, lambda conn: run_once(conn, actor, key, "createBorrower", request, command))
        except ledger_errors.LedgerError as exc:
            return e.error_result(exc, create_borrower_errors)
        session.loaders.clear()
        record = await session.loaders.borrower.load(uuid.UUID(str(result["borrower"])))
        assert record is not None, "the borrower just created is not readable"
        return CreateBorrowerPayload(borrower=Borrower(record=record), replayed=replayed)
