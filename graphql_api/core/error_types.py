"""Typed error results: one GraphQL type per LedgerError code, all implementing `Error`.

Mutations return a union of their payload and the error types they can produce; clients switch on
`__typename` or read `... on Error { code message }`. A ledger error whose type is not in the
mutation's union comes back as `GenericError` with the same code, so no code is ever lost.
"""
from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Mapping
from typing import Annotated, Union

import strawberry

from graphql_api.core.scalars import encode_id
from graphql_api.core.types import Money, money
from ledger import errors as ledger_errors
from loans import errors as loan_errors
from loans.replay import ReplayConflict, ReplayMismatch
from loans.restructuring import RestructureNotAllowed
from manual_entries import errors as request_errors
from reconciliation import errors as rec_errors


@strawberry.interface(description="An expected failure: `code` is stable (switch on it), `message` is for a person.")
class Error:
    code: str
    message: str


@strawberry.type(description="A generic failure; `code` says which. Returned for codes the operation has no specific type for.")
class GenericError(Error):
    pass


@strawberry.type(description="An argument is malformed (code INVALID_INPUT); `field` names it.")
class InvalidInputError(Error):
    field: str | None = None


def _amount_error(name: str, description: str) -> type:
    @strawberry.type(name=name, description=description)
    class AmountError(Error):
        field: str | None = strawberry.field(default=None, description="The input field, e.g. postings[1].amount.")
        currency: str | None = None

    AmountError.__name__ = AmountError.__qualname__ = name
    return AmountError


InvalidAmountError = _amount_error("InvalidAmountError", "INVALID_AMOUNT: not a usable amount (zero, negative where positive is needed, not a number).")
FloatAmountRefusedError = _amount_error("FloatAmountRefusedError", "FLOAT_AMOUNT_REFUSED: a binary float where a decimal string is needed.")
AmountTooPreciseError = _amount_error("AmountTooPreciseError", "AMOUNT_TOO_PRECISE: more decimals than the currency has (CNY 2, JPY 0, KWD 3).")
AmountOutOfRangeError = _amount_error("AmountOutOfRangeError", "AMOUNT_OUT_OF_RANGE: too large to book.")
UnknownCurrencyError = _amount_error("UnknownCurrencyError", "UNKNOWN_CURRENCY: not an ISO 4217 code.")


@strawberry.type(description="UNBALANCED_ENTRY: debits and credits differ; `imbalances` is debits - credits per currency.")
class UnbalancedEntryError(Error):
    imbalances: list[Money] = strawberry.field(default_factory=list)


def _account_error(name: str, description: str) -> type:
    @strawberry.type(name=name, description=description)
    class AccountError(Error):
        account_code: str | None = None

    AccountError.__name__ = AccountError.__qualname__ = name
    return AccountError


def _entry_error(name: str, description: str) -> type:
    @strawberry.type(name=name, description=description)
    class EntryError(Error):
        entry_id: strawberry.ID | None = None

    EntryError.__name__ = EntryError.__qualname__ = name
    return EntryError


def _plain_error(name: str, description: str) -> type:
    @strawberry.type(name=name, description=description)
    class PlainError(Error):
        pass

    PlainError.__name__ = PlainError.__qualname__ = name
    return PlainError


TooFewPostingsError = _plain_error("TooFewPostingsError", "TOO_FEW_POSTINGS: an entry needs at least two postings.")
TooManyPostingsError = _plain_error("TooManyPostingsError", "TOO_MANY_POSTINGS: over the per-entry limit.")
InvalidEntryError = _plain_error("InvalidEntryError", "INVALID_ENTRY: description, metadata or idempotency key not acceptable.")
UnknownAccountError = _account_error("UnknownAccountError", "UNKNOWN_ACCOUNT: no account with this code in your chart.")
AccountClosedError = _account_error("AccountClosedError", "ACCOUNT_CLOSED: the account is closed to postings.")
AccountExistsError = _account_error("AccountExistsError", "ACCOUNT_EXISTS: an account with this code exists.")
InvalidAccountError = _account_error("InvalidAccountError", "INVALID_ACCOUNT: the account definition is not acceptable.")
AccountNotEmptyError = _account_error("AccountNotEmptyError", "ACCOUNT_BALANCE_NOT_ZERO: the account still has a balance.")
CurrencyNotAllowedError = _account_error("CurrencyNotAllowedError", "CURRENCY_NOT_ALLOWED: the account does not accept this currency.")


@strawberry.type(description="HEADER_ACCOUNT: the account is a header (it groups child accounts) and takes no postings; "
                             "post to one of `childCodes` instead.")
class HeaderAccountError(Error):
    account_code: str | None = None
    child_codes: list[str] = strawberry.field(default_factory=list, description="The header's open child accounts.")


UnknownEntryError = _entry_error("UnknownEntryError", "UNKNOWN_ENTRY: no journal entry with this id in your books.")
AlreadyReversedError = _entry_error("AlreadyReversedError", "ALREADY_REVERSED: an entry can be reversed once.")
CrossTenantReferenceError = _entry_error("CrossTenantReferenceError", "CROSS_TENANT_REFERENCE: refers to another tenant's data (the API reports such ids as unknown).")


@strawberry.type(
    description="ENTRY_OWNED_BY_WORKFLOW: a domain workflow (loans, close of business, reconciliation) posted this entry and "
    "only it can correct it: a journal reversal would move the GL and leave the workflow's own records as they were. "
    "`operation` names the operation that corrects it, when there is one."
)
class EntryOwnedByWorkflowError(Error):
    entry_id: strawberry.ID | None = None
    workflow: str | None = None
    operation: str | None = None


IdempotencyConflictError = _plain_error("IdempotencyConflictError", "IDEMPOTENCY_CONFLICT: the key was already used for a different request.")
UnknownTenantError = _plain_error("UnknownTenantError", "UNKNOWN_TENANT: no such tenant.")
TenantExistsError = _plain_error("TenantExistsError", "TENANT_EXISTS: a tenant with this slug exists.")
BatchTooLargeError = _plain_error("BatchTooLargeError", "BATCH_TOO_LARGE: too many entries in one batch.")
TransactionRetriesExhaustedError = _plain_error(
    "TransactionRetriesExhaustedError", "TRANSACTION_RETRIES_EXHAUSTED: the database stayed busy; nothing was written, try again."
)


def _field_error(name: str, description: str) -> type:
    @strawberry.type(name=name, description=description)
    class FieldError(Error):
        field: str | None = strawberry.field(default=None, description="The input field it is about, e.g. effectiveDate.")

    FieldError.__name__ = FieldError.__qualname__ = name
    return FieldError


def _status_error(name: str, description: str) -> type:
    @strawberry.type(name=name, description=description)
    class StatusError(Error):
        status: str | None = strawberry.field(default=None, description="The loan's status (or transaction type) that refused it.")

    StatusError.__name__ = StatusError.__qualname__ = name
    return StatusError


@strawberry.type(description="UNKNOWN_LOAN: no loan with this id in your books.")
class UnknownLoanError(Error):
    loan_id: strawberry.ID | None = None


@strawberry.type(description="UNKNOWN_BORROWER: no borrower with this id in your books.")
class UnknownBorrowerError(Error):
    borrower_id: strawberry.ID | None = None


@strawberry.type(description="UNKNOWN_RECEIPT: no unidentified receipt with this id in your books.")
class UnknownReceiptError(Error):
    receipt_id: strawberry.ID | None = None


@strawberry.type(description="RECEIPT_ALREADY_APPLIED: a repayment out of suspense applies this receipt; reverse it to apply the receipt again.")
class ReceiptAlreadyAppliedError(Error):
    receipt_id: strawberry.ID | None = None


@strawberry.type(description="UNKNOWN_TRANSACTION: the loan has no transaction with this id.")
class UnknownTransactionError(Error):
    transaction_id: strawberry.ID | None = None


InvalidProductError = _field_error("InvalidProductError", "INVALID_PRODUCT: the product definition is not acceptable; `field` names the input field.")
UnknownProductError = _plain_error("UnknownProductError", "UNKNOWN_PRODUCT: no loan product with this code (and version).")
InvalidClassificationPolicyError = _plain_error(
    "InvalidClassificationPolicyError",
    "INVALID_CLASSIFICATION_POLICY: boundaries must increase (special mention < substandard < doubtful < loss, from 1 day) "
    "and rates lie between 0 and 1.",
)
InvalidReceiptError = _field_error("InvalidReceiptError", "INVALID_RECEIPT: a receipt field is not acceptable (e.g. the reference).")
InvalidBorrowerError = _field_error("InvalidBorrowerError", "INVALID_BORROWER: a borrower field is not acceptable.")
OutsideProductRangeError = _field_error(
    "OutsideProductRangeError", "OUTSIDE_PRODUCT_RANGE: principal, term or rate outside what the product allows."
)
InvalidScheduleTermsError = _plain_error("InvalidScheduleTermsError", "INVALID_SCHEDULE_TERMS: no schedule can be built from these terms.")
IllegalTransitionError = _status_error(
    "IllegalTransitionError", "ILLEGAL_TRANSITION: the status of the loan (or journal entry request) does not allow this."
)
MakerCheckerViolationError = _plain_error(
    "MakerCheckerViolationError",
    "MAKER_CHECKER_VIOLATION: nobody approves an application they submitted or a manual journal entry they created "
    "(nor rejects their own request: the maker cancels it, and only the maker).",
)


@strawberry.type(description="UNKNOWN_JOURNAL_ENTRY_REQUEST: no manual journal entry request with this id in your books.")
class UnknownJournalEntryRequestError(Error):
    request_id: strawberry.ID | None = None

LoanClosedError = _status_error("LoanClosedError", "LOAN_CLOSED: the loan is no longer active (paid off, written off...).")
WrongCurrencyError = _field_error("WrongCurrencyError", "WRONG_CURRENCY: the amount is not in the loan's currency.")
AmountNotPositiveError = _field_error(
    "AmountNotPositiveError", "AMOUNT_NOT_POSITIVE: the amount must be positive (and, for a payoff, cover the payoff quote)."
)
DateBeforeDisbursementError = _field_error("DateBeforeDisbursementError", "DATE_BEFORE_DISBURSEMENT: the date is before the loan was disbursed.")
DateAfterBusinessDateError = _field_error(
    "DateAfterBusinessDateError", "DATE_AFTER_BUSINESS_DATE: the date is after the loan's open business date; run close of business first."
)
RecoveryExceedsWrittenOffError = _field_error(
    "RecoveryExceedsWrittenOffError",
    "RECOVERY_EXCEEDS_WRITTEN_OFF: a recovery may not exceed what was written off and is not yet recovered; nothing was booked.",
)
NothingToWaiveError = _plain_error("NothingToWaiveError", "NOTHING_TO_WAIVE: less is outstanding than the waiver asks for.")
CobOutOfOrderError = _plain_error("CobOutOfOrderError", "COB_OUT_OF_ORDER: business dates close in order, one day after the last.")


@strawberry.type(description="COB_ALREADY_RUNNING: a close of business run of your books is queued or running; `runId` is that run.")
class CobAlreadyRunningError(Error):
    run_id: strawberry.ID | None = None

ReplayConflictError = _plain_error(
    "ReplayConflictError", "REPLAY_CONFLICT: the loan cannot be replayed for this change (e.g. backdating across a new schedule)."
)
RestructureNotAllowedError = _plain_error("RestructureNotAllowedError", "RESTRUCTURE_NOT_ALLOWED: the loan cannot be restructured or re-scheduled so.")

@strawberry.type(description="A bank statement was refused (STATEMENT_MALFORMED, STATEMENT_REFUSED, STATEMENT_TOO_LARGE, "
                             "STATEMENT_UNBALANCED, STATEMENT_CURRENCY_MISMATCH, STATEMENT_DISCONTINUOUS or UNKNOWN_MAPPING); "
                             "nothing was stored. `line` names the row, entry or line of the file where known.")
class StatementRejectedError(Error):
    line: int | None = None


@strawberry.type(description="A reconciliation match was refused: ALREADY_MATCHED, MATCH_UNBALANCED, UNKNOWN_STATEMENT_LINE or "
                             "STATEMENT_LINE_NOT_BOOKED.")
class ReconciliationMatchError(Error):
    pass


@strawberry.type(description="INVALID_RECONCILIATION_RULES: the matching rules are not usable; `rule` (1-based) and `field` say where.")
class InvalidReconciliationRulesError(Error):
    rule: int | None = None
    field: str | None = None


@strawberry.type(description="PERIOD_CLOSED: the entry's date is on or before the date the books are closed through; post in the open period.")
class PeriodClosedError(Error):
    closed_through: str | None = strawberry.field(default=None, description="The date (YYYY-MM-DD) the books are closed through.")


@strawberry.type(description="INVALID_PERIOD_CLOSE: the close, reopen or year-end close cannot be done so; the message says why.")
class InvalidPeriodCloseError(Error):
    field: str | None = None


# Every LedgerError code and the type it maps to; a test checks this covers every subclass.
error_type_by_code: dict[str, type] = {
    ledger_errors.LedgerError.code: GenericError,
    ledger_errors.InvalidInput.code: InvalidInputError,
    ledger_errors.InvalidAmount.code: InvalidAmountError,
    ledger_errors.FloatAmountRefused.code: FloatAmountRefusedError,
    ledger_errors.AmountTooPrecise.code: AmountTooPreciseError,
    ledger_errors.AmountOutOfRange.code: AmountOutOfRangeError,
    ledger_errors.UnknownCurrency.code: UnknownCurrencyError,
    ledger_errors.UnbalancedEntry.code: UnbalancedEntryError,
    ledger_errors.TooFewPostings.code: TooFewPostingsError,
    ledger_errors.TooManyPostings.code: TooManyPostingsError,
    ledger_errors.InvalidEntry.code: InvalidEntryError,
    ledger_errors.UnknownAccount.code: UnknownAccountError,
    ledger_errors.AccountClosed.code: AccountClosedError,
    ledger_errors.AccountExists.code: AccountExistsError,
    ledger_errors.InvalidAccount.code: InvalidAccountError,
    ledger_errors.AccountNotEmpty.code: AccountNotEmptyError,
    ledger_errors.CurrencyNotAllowed.code: CurrencyNotAllowedError,
    ledger_errors.HeaderAccount.code: HeaderAccountError,
    ledger_errors.UnknownEntry.code: UnknownEntryError,
    ledger_errors.AlreadyReversed.code: AlreadyReversedError,
    ledger_errors.IdempotencyConflict.code: IdempotencyConflictError,
    ledger_errors.EntryOwnedByWorkflow.code: EntryOwnedByWorkflowError,
    ledger_errors.UnknownTenant.code: UnknownTenantError,
    ledger_errors.TenantExists.code: TenantExistsError,
    ledger_errors.CrossTenantReference.code: CrossTenantReferenceError,
    ledger_errors.BatchTooLarge.code: BatchTooLargeError,
    ledger_errors.TransactionRetriesExhausted.code: TransactionRetriesExhaustedError,
    ledger_errors.PeriodClosed.code: PeriodClosedError,
    ledger_errors.InvalidPeriodClose.code: InvalidPeriodCloseError,
    loan_errors.LoanError.code: GenericError,
    loan_errors.InvalidProduct.code: InvalidProductError,
    loan_errors.UnknownProduct.code: UnknownProductError,
    loan_errors.InvalidBorrower.code: InvalidBorrowerError,
    loan_errors.UnknownBorrower.code: UnknownBorrowerError,
    loan_errors.UnknownLoan.code: UnknownLoanError,
    loan_errors.OutsideProductRange.code: OutsideProductRangeError,
    loan_errors.IllegalTransition.code: IllegalTransitionError,
    loan_errors.MakerChecker.code: MakerCheckerViolationError,
    loan_errors.LoanClosed.code: LoanClosedError,
    loan_errors.WrongCurrency.code: WrongCurrencyError,
    loan_errors.AmountNotPositive.code: AmountNotPositiveError,
    loan_errors.DateBeforeDisbursement.code: DateBeforeDisbursementError,
    loan_errors.DateAfterBusinessDate.code: DateAfterBusinessDateError,
    loan_errors.UnknownTransaction.code: UnknownTransactionError,
    loan_errors.UnknownReceipt.code: UnknownReceiptError,
    loan_errors.ReceiptAlreadyApplied.code: ReceiptAlreadyAppliedError,
    loan_errors.InvalidReceipt.code: InvalidReceiptError,
    loan_errors.InvalidClassificationPolicy.code: InvalidClassificationPolicyError,
    loan_errors.NothingToWaive.code: NothingToWaiveError,
    loan_errors.RecoveryExceedsWrittenOff.code: RecoveryExceedsWrittenOffError,
    loan_errors.CobOutOfOrder.code: CobOutOfOrderError,
    loan_errors.CobAlreadyRunning.code: CobAlreadyRunningError,
    loan_errors.InvalidSchedule.code: InvalidScheduleTermsError,
    ReplayConflict.code: ReplayConflictError,
    ReplayMismatch.code: ReplayConflictError,  # carries its own code
    RestructureNotAllowed.code: RestructureNotAllowedError,
    request_errors.UnknownEntryRequest.code: UnknownJournalEntryRequestError,
    request_errors.IllegalTransition.code: IllegalTransitionError,
    request_errors.MakerChecker.code: MakerCheckerViolationError,
    **{cls.code: StatementRejectedError for cls in (
        rec_errors.StatementMalformed, rec_errors.StatementRefused, rec_errors.StatementTooLarge, rec_errors.StatementUnbalanced,
        rec_errors.StatementCurrencyMismatch, rec_errors.StatementDiscontinuous, rec_errors.UnknownMapping)},
    **{cls.code: ReconciliationMatchError for cls in (
        rec_errors.AlreadyMatched, rec_errors.MatchUnbalanced, rec_errors.UnknownStatementLine, rec_errors.NotBooked)},
    rec_errors.InvalidRules.code: InvalidReconciliationRulesError,
}
all_error_types: tuple[type, ...] = tuple(dict.fromkeys([*error_type_by_code.values(), InvalidInputError]))

_uuid_text = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def result_union(name: str, payload: type, errors: tuple[type, ...]) -> object:
    """The GraphQL union a mutation answers with: its payload, or one of the typed errors it may return."""
    return Annotated[Union[(payload, *errors)], strawberry.union(name)]  # noqa: UP007


def invalid_input(message: str, field: str | None = None) -> InvalidInputError:
    return InvalidInputError(code="INVALID_INPUT", message=message, field=field)


def error_result(
    exc: ledger_errors.LedgerError,
    allowed: tuple[type, ...],
    *,
    ids: Mapping[uuid.UUID, str] | None = None,
    id_kind: str = "JournalEntry",
    fields: Mapping[str, str] | None = None,
    **known: object,
) -> Error:
    """The typed result for a ledger (or loan) error: its own type if the operation's union has it, else GenericError.

    Messages name things by UUID; the API names them by opaque ids: `ids` gives the kind of each UUID
    the operation knows (a loan, a borrower), any other UUID is taken to be an `id_kind`. `fields`
    renames the domain's field names to the input's (date -> effectiveDate); `known` fills fields of
    the error type the exception does not carry (e.g. loan_id from the input).
    """
    if isinstance(exc, ledger_errors.CrossTenantReference):
        # Another tenant's id is reported exactly like an id that does not exist: no existence oracle.
        exc = ledger_errors.UnknownEntry(f"no journal entry with id {exc.details.get('entry')}", **exc.details)
    error_type = error_type_by_code.get(exc.code, GenericError)
    if error_type not in allowed:
        error_type = GenericError
    kinds = ids or {}
    message = _uuid_text.sub(lambda m: encode_id(kinds.get(uuid.UUID(m.group(0)), id_kind), uuid.UUID(m.group(0))), exc.message)
    extra = {f.name for f in dataclasses.fields(error_type)} - {"code", "message"}
    found = {**known, **_details(exc)}
    if isinstance(found.get("field"), str):
        found["field"] = (fields or {}).get(found["field"], camel_case(found["field"]))
    values = {name: value for name, value in found.items() if name in extra}
    return error_type(code=exc.code, message=message, **values)


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _details(exc: ledger_errors.LedgerError) -> dict[str, object]:
    details = exc.details
    values: dict[str, object] = {}
    if "field" in details:
        values["field"] = details["field"]
    if "currency" in details:
        values["currency"] = details["currency"]
    if "account" in details:
        values["account_code"] = details["account"]
    if isinstance(details.get("children"), list):
        values["child_codes"] = [str(code) for code in details["children"]]
    if "entry" in details:
        values["entry_id"] = encode_id("JournalEntry", uuid.UUID(str(details["entry"])))
    if "loan" in details:
        values["loan_id"] = encode_id("Loan", uuid.UUID(str(details["loan"])))
    if isinstance(details.get("line"), int):
        values["line"] = details["line"]
    if isinstance(details.get("rule"), int):
        values["rule"] = details["rule"]
    if "workflow" in details:
        values["workflow"] = str(details["workflow"])
    if "operation" in details:
        values["operation"] = str(details["operation"])
    if "status" in details:
        values["status"] = str(details["status"])
    if isinstance(details.get("imbalance"), dict):
        values["imbalances"] = [money(minor, currency) for currency, minor in sorted(details["imbalance"].items())]
    return values
