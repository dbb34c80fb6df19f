"""The audit log and its verification: auditEvents (a filtered connection) and verifyAudit. Auditors and admins."""
from __future__ import annotations

import asyncio
import datetime as dt
import enum
import json
import uuid
from typing import Annotated

import sqlalchemy as sa
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graphql_api.core.errors import BadUserInput
from graphql_api.core.scalars import check_page_size
from graphql_api.core.scalars import decode_id, decode_time_cursor, encode_id, encode_time_cursor, utc
from graphql_api.core.threads import read
from graphql_api.core.types import Connection, connection
from ledger.digest import audit_digest, parse_digest, verify_digest
from ledger.errors import LedgerError
from ledger.queries import AuditFilter, audit_events_page
from ledger.sealing import seal_pending
from ledger.verify import verify_books
from loans.verify import verify_subledger

audit_page_size_default = 50
discrepancies_shown_max = 1000
filter_text_length_max = 200
# Audit entity types whose ids the API hands out (opaque) and their id kinds.
entity_kinds = {
    "loan": "Loan", "borrower": "Borrower", "journal_entry": "JournalEntry", "journal_entry_request": "JournalEntryRequest",
    "close_of_business_run": "CloseOfBusinessRun", "suspense_receipt": "UnidentifiedReceipt", "api_token": "ApiToken",
}


@strawberry.type(description="One audit event: who did what to which entity, when, and why. Sealed into a hash chain after commit.")
class AuditEvent:
    row: strawberry.Private[sa.Row]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return encode_id("AuditEvent", self.row.id)

    @strawberry.field
    def occurred_at(self) -> dt.datetime:
        return utc(self.row.occurred_at)

    @strawberry.field(description="The actor name of the token (or process) that acted.")
    def actor(self) -> str:
        return self.row.actor

    @strawberry.field(description="e.g. loan.submitted, loan.repayment, borrower.pii_revealed, journal_entry.posted.")
    def action(self) -> str:
        return self.row.action

    @strawberry.field(description="e.g. loan, borrower, loan_product, journal_entry, account, api_token.")
    def entity_type(self) -> str:
        return self.row.entity_type

    @strawberry.field(description="The entity's key as the log recorded it (a UUID, an account code, CODE@version).")
    def entity_key(self) -> str:
        return self.row.entity_id

    @strawberry.field(description="The entity's opaque API id, for loans, borrowers, journal entries and their requests.")
    def entity_id(self) -> strawberry.ID | None:
        kind = entity_kinds.get(self.row.entity_type)
        if kind is None:
            return None
        try:
            return encode_id(kind, uuid.UUID(self.row.entity_id))
        except ValueError:
            return None

    @strawberry.field
    def before(self) -> JSON | None:
        return None if self.row.before is None else json.loads(self.row.before)

    @strawberry.field
    def after(self) -> JSON | None:
        return None if self.row.after is None else json.loads(self.row.after)

    @strawberry.field
    def reason(self) -> str | None:
        return self.row.reason

    @strawberry.field(description="The X-Request-ID of the API request that caused it.")
    def request_id(self) -> str | None:
        return self.row.request_id

    @strawberry.field(description="Position in the tenant's hash chain; null until sealed (moments after commit).")
    def chain_seq(self) -> int | None:
        return self.row.chain_seq

    @strawberry.field
    def chain_hash(self) -> str | None:
        return self.row.chain_hash


def entity_filter(entity_id: str) -> tuple[str, str]:
    """(entity_type, entity key) for an opaque loan, borrower, journal entry or journal entry request id."""
    for entity_type, kind in entity_kinds.items():
        try:
            return entity_type, str(decode_id(kind, entity_id))
        except BadUserInput:
            continue
    raise BadUserInput(f"entityId must be the opaque id of a loan, borrower, journal entry, request, close of business run, receipt or API token, got {entity_id[:60]!r}")


@strawberry.enum(description="Which check found it: the ledger (hash chain, entries, balance counters) or the loan sub-ledger (= GL control accounts).")
class DiscrepancySource(enum.Enum):
    LEDGER = "LEDGER"
    SUBLEDGER = "SUBLEDGER"
    DIGEST = "DIGEST"


@strawberry.type
class Discrepancy:
    source: DiscrepancySource
    message: str


@strawberry.type(description="The books recomputed from stored rows: the audit hash chain, every entry, every balance, and sub-ledger = GL.")
class AuditVerification:
    ok: bool = strawberry.field(description="True when nothing disagrees.")
    discrepancies: list[Discrepancy] = strawberry.field(description=f"Every disagreement found, at most {discrepancies_shown_max}.")
    entries: int
    postings: int
    audit_events: int
    chained_events: int
    balance_rows: int
    pending_events: int = strawberry.field(
        default=0, description="Audit events committed but not yet chained by the sealer: the sealer chains them, so they are no discrepancy."
    )


@strawberry.type(description="The head of your audit hash chain: hand `digest` to an auditor; verifyAudit(digest:) proves the history up to it.")
class AuditDigest:
    seq: int = strawberry.field(description="The number of sealed events (the head's position).")
    hash: str
    digest: str = strawberry.field(description="SEQ:HASH, as `loanbook audit digest` prints it.")
    sealed_at: dt.datetime | None


@strawberry.type
class AuditQuery:
    @strawberry.field(description="The audit chain head as SEQ:HASH, pending events sealed first. Roles: ADMIN, AUDITOR.")
    async def audit_digest(self, info: Info) -> AuditDigest:
        ctx = info.context
        session = await ctx.authorize("auditDigest")
        tenant_id = session.principal.tenant_id

        def head(conn: sa.Connection) -> AuditDigest:
            found = audit_digest(conn, tenant_id)
            return AuditDigest(seq=found.seq, hash=found.hash, digest=found.text,
                               sealed_at=None if found.sealed_at is None else utc(found.sealed_at))

        await asyncio.to_thread(seal_pending, ctx.engine, tenant_id)
        return await read(ctx.engine, head)

    @strawberry.field(description="The audit log, newest first, filtered by entity, action, actor and date (UTC). Roles: ADMIN, AUDITOR.")
    async def audit_events(
        self,
        info: Info,
        first: int = audit_page_size_default,
        after: str | None = None,
        entity_id: Annotated[strawberry.ID | None, strawberry.argument(description="A loan, borrower, journal entry or journal entry request id.")] = None,
        entity_type: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        occurred_from: Annotated[dt.datetime | None, strawberry.argument(description="At or after this moment.")] = None,
        occurred_before: Annotated[dt.datetime | None, strawberry.argument(description="Before this moment.")] = None,
    ) -> Connection[AuditEvent]:
        ctx = info.context
        session = await ctx.authorize("auditEvents")
        check_page_size(first)
        for name, value in (("entityType", entity_type), ("action", action), ("actor", actor)):
            if value is not None and not 0 < len(value) <= filter_text_length_max:
                raise BadUserInput(f"{name} must be 1 to {filter_text_length_max} characters")
        key = None
        if entity_id is not None:
            implied_type, key = entity_filter(entity_id)
            if entity_type is not None and entity_type != implied_type:
                raise BadUserInput(f"entityId is a {implied_type} id but entityType is {entity_type!r}")
            entity_type = implied_type
        for name, moment in (("occurredFrom", occurred_from), ("occurredBefore", occurred_before)):
            if moment is not None and moment.tzinfo is None:
                raise BadUserInput(f"{name} needs a time zone (e.g. 2026-01-31T00:00:00Z)")
        where = AuditFilter(entity_type, key, action, actor, date_from, date_to, occurred_from, occurred_before)
        position = decode_time_cursor("AuditEvent", after)
        rows = await read(
            ctx.engine, lambda conn: audit_events_page(conn, session.principal.tenant_id, where, after=position, limit=first + 1)
        )
        items = [(encode_time_cursor("AuditEvent", row.occurred_at, row.id), AuditEvent(row=row)) for row in rows[:first]]
        return connection(items, has_next=len(rows) > first, has_previous=after is not None)

    @strawberry.field(
        description="Recompute your books from stored rows: audit hash chain, entries, balances, loan sub-ledger = GL. Roles: ADMIN, AUDITOR."
    )
    async def verify_audit(
        self, info: Info,
        digest: Annotated[str | None, strawberry.argument(
            description="SEQ:HASH from auditDigest: also prove the history up to it unchanged (source DIGEST names the first event that differs).")] = None,
    ) -> AuditVerification:
        ctx = info.context
        session = await ctx.authorize("verifyAudit")
        tenant_id = session.principal.tenant_id
        if digest is not None:
            try:
                seq, digest_hash = parse_digest(digest)
            except LedgerError as exc:
                raise BadUserInput(exc.message) from None

        def verify(conn: sa.Connection) -> AuditVerification:
            report = verify_books(conn, [tenant_id])
            found = []
            if digest is not None:
                found += [Discrepancy(source=DiscrepancySource.DIGEST, message=m) for m in verify_digest(conn, tenant_id, seq, digest_hash)]
            found += [Discrepancy(source=DiscrepancySource.LEDGER, message=m) for m in report.discrepancies]
            found += [Discrepancy(source=DiscrepancySource.SUBLEDGER, message=m) for m in verify_subledger(conn, tenant_id)]
            return AuditVerification(
                ok=not found, discrepancies=found[:discrepancies_shown_max], entries=report.entries, postings=report.postings,
                audit_events=report.audit_events, chained_events=report.chained_events, balance_rows=report.balance_rows,
                pending_events=report.pending_events,
            )

        return await read(ctx.engine, verify)
