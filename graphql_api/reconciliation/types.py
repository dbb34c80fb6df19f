"""The reconciliation's GraphQL types: statements, their lines, the report and the typed errors."""
from __future__ import annotations

import datetime as dt
import enum
import uuid

import sqlalchemy as sa
import strawberry

from graphql_api.core import error_types as e
from graphql_api.core.scalars import encode_id, utc
from graphql_api.core.types import Money, money
from ledger import errors as ledger_errors
from reconciliation.queries import proposal_of


@strawberry.enum(description="UNMATCHED: nothing in the books explains it yet; PROPOSED: a rule suggests a match for a person "
                             "to confirm; MATCHED: matched to postings (by a rule or a person).")
class StatementLineStatus(enum.Enum):
    UNMATCHED = "UNMATCHED"
    PROPOSED = "PROPOSED"
    MATCHED = "MATCHED"


@strawberry.enum(description="The statement's format: ISO 20022 camt.053 (camt.052/054 too), SWIFT MT940, or a bank's CSV or "
                             ".xlsx export read through a saved column mapping.")
class StatementFormat(enum.Enum):
    CAMT053 = "camt053"
    MT940 = "mt940"
    CSV = "csv"
    XLSX = "xlsx"
    OFX = strawberry.enum_value("ofx", description="OFX 2 (XML) bank or credit card statements; OFX 1 (SGML) is refused.")


@strawberry.enum(description="What bookStatementLine books: a bank fee or interest (to the account you name), another item, or "
                             "money in to suspense (as receiveUnidentifiedReceipt does).")
class StatementLineBooking(enum.Enum):
    BANK_FEE = "BANK_FEE"
    BANK_INTEREST = "BANK_INTEREST"
    OTHER = "OTHER"
    SUSPENSE = "SUSPENSE"


@strawberry.type(description="A statement the bank sent, as imported.")
class BankStatement:
    row: strawberry.Private[sa.Row]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return encode_id("BankStatement", self.row.id)

    @strawberry.field
    def bank_account_code(self) -> str:
        return self.row.bank_account_code

    @strawberry.field
    def format(self) -> str:
        return self.row.format

    @strawberry.field
    def filename(self) -> str | None:
        return self.row.filename

    @strawberry.field(description="The bank's statement id, if it gives one.")
    def statement_ref(self) -> str | None:
        return self.row.statement_ref

    @strawberry.field
    def opening_balance(self) -> Money | None:
        return None if self.row.opening_minor is None else money(self.row.opening_minor, self.row.currency)

    @strawberry.field
    def closing_balance(self) -> Money | None:
        return None if self.row.closing_minor is None else money(self.row.closing_minor, self.row.currency)

    @strawberry.field
    def opening_date(self) -> dt.date | None:
        return self.row.opening_date

    @strawberry.field
    def closing_date(self) -> dt.date | None:
        return self.row.closing_date

    @strawberry.field
    def line_count(self) -> int:
        return self.row.line_count

    @strawberry.field
    def imported_at(self) -> dt.datetime:
        return utc(self.row.imported_at)

    @strawberry.field
    def imported_by(self) -> str:
        return self.row.imported_by


@strawberry.type(description="A match a rule proposes for a person to confirm (matchStatementLines).")
class MatchProposal:
    rule: str
    score: str
    line_ids: list[strawberry.ID]
    posting_refs: list[str] = strawberry.field(description="Postings as JOURNAL_ENTRY_ID:LINE_NO (journal entry ids as in journalEntry).")


@strawberry.type(name="BankStatementLine", description="One line of a bank statement; amount > 0 is money in.")
class StatementLine:
    row: strawberry.Private[sa.Row]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return encode_id("StatementLine", self.row.id)

    @strawberry.field
    def statement_id(self) -> strawberry.ID:
        return encode_id("BankStatement", self.row.statement_id)

    @strawberry.field
    def booking_date(self) -> dt.date:
        return self.row.booking_date

    @strawberry.field
    def value_date(self) -> dt.date | None:
        return self.row.value_date

    @strawberry.field(description="Signed: money in > 0, money out < 0.")
    def amount(self) -> Money:
        return money(self.row.amount_minor, self.row.currency)

    @strawberry.field
    def bank_reference(self) -> str | None:
        return self.row.bank_reference

    @strawberry.field
    def end_to_end_id(self) -> str | None:
        return self.row.end_to_end_id

    @strawberry.field
    def counterparty_name(self) -> str | None:
        return self.row.counterparty_name

    @strawberry.field
    def counterparty_account(self) -> str | None:
        return self.row.counterparty_account

    @strawberry.field
    def remittance(self) -> str | None:
        return self.row.remittance

    @strawberry.field
    def status(self) -> StatementLineStatus:
        return StatementLineStatus(self.row.status)

    @strawberry.field(description="The rule that matched it (reference, amount_date, loan_repayment, manual...); null unless MATCHED.")
    def matched_by_rule(self) -> str | None:
        return getattr(self.row, "match_rule", None)

    @strawberry.field(description="What a rule proposes; null unless PROPOSED.")
    def proposal(self) -> MatchProposal | None:
        found = proposal_of(self.row)
        if found is None:
            return None
        return MatchProposal(
            rule=found["rule"], score=found["score"],
            line_ids=[encode_id("StatementLine", uuid.UUID(i)) for i in found["lines"]],
            posting_refs=[f"{encode_id('JournalEntry', uuid.UUID(entry))}:{line}" for entry, line in found["postings"]],
        )


StatementRejectedError = e.StatementRejectedError
ReconciliationMatchError = e.ReconciliationMatchError
common_errors = (e.InvalidInputError, e.IdempotencyConflictError, e.TransactionRetriesExhaustedError, e.GenericError)


def error_of(exc: ledger_errors.LedgerError, allowed: tuple[type, ...]) -> e.Error:
    return e.error_result(exc, allowed)
