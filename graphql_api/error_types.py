"""Typed error results: one GraphQL type per LedgerError code, all implementing `Error`.

Mutations return a union of their payload and the error types they can produce; clients switch on
`__typename` or read `... on Error { code message }`. A ledger error whose type is not in the
mutation's union comes back as `GenericError` with the same code, so no code is ever lost.
"""
from __future__ import annotations

import dataclasses
import re
import uuid

import strawberry

from graphql_api.scalars import encode_id
from graphql_api.types import Money, money
from ledger import errors as ledger_errors


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
UnknownEntryError = _entry_error("UnknownEntryError", "UNKNOWN_ENTRY: no journal entry with this id in your books.")
AlreadyReversedError = _entry_error("AlreadyReversedError", "ALREADY_REVERSED: an entry can be reversed once.")
CrossTenantReferenceError = _entry_error("CrossTenantReferenceError", "CROSS_TENANT_REFERENCE: refers to another tenant's data (the API reports such ids as unknown).")
IdempotencyConflictError = _plain_error("IdempotencyConflictError", "IDEMPOTENCY_CONFLICT: the key was already used for a different request.")
UnknownTenantError = _plain_error("UnknownTenantError", "UNKNOWN_TENANT: no such tenant.")
TenantExistsError = _plain_error("TenantExistsError", "TENANT_EXISTS: a tenant with this slug exists.")
BatchTooLargeError = _plain_error("BatchTooLargeError", "BATCH_TOO_LARGE: too many entries in one batch.")
TransactionRetriesExhaustedError = _plain_error(
    "TransactionRetriesExhaustedError", "TRANSACTION_RETRIES_EXHAUSTED: the database stayed busy; nothing was written, try again."
)

# Every LedgerError code and the type it maps to; a test checks this covers every subclass.
error_type_by_code: dict[str, type] = {
    ledger_errors.LedgerError.code: GenericError,
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
    ledger_errors.UnknownEntry.code: UnknownEntryError,
    ledger_errors.AlreadyReversed.code: AlreadyReversedError,
    ledger_errors.IdempotencyConflict.code: IdempotencyConflictError,
    ledger_errors.UnknownTenant.code: UnknownTenantError,
    ledger_errors.TenantExists.code: TenantExistsError,
    ledger_errors.CrossTenantReference.code: CrossTenantReferenceError,
    ledger_errors.BatchTooLarge.code: BatchTooLargeError,
    ledger_errors.TransactionRetriesExhausted.code: TransactionRetriesExhaustedError,
}
all_error_types: tuple[type, ...] = tuple(dict.fromkeys([*error_type_by_code.values(), InvalidInputError]))

_uuid_text = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def invalid_input(message: str, field: str | None = None) -> InvalidInputError:
    return InvalidInputError(code="INVALID_INPUT", message=message, field=field)


def error_result(exc: ledger_errors.LedgerError, allowed: tuple[type, ...]) -> Error:
    """The typed result for a ledger error: its own type if the operation's union has it, else GenericError."""
    if isinstance(exc, ledger_errors.CrossTenantReference):
        # Another tenant's id is reported exactly like an id that does not exist: no existence oracle.
        exc = ledger_errors.UnknownEntry(f"no journal entry with id {exc.details.get('entry')}", **exc.details)
    error_type = error_type_by_code.get(exc.code, GenericError)
    if error_type not in allowed:
        error_type = GenericError
    # Ledger messages name entries by UUID; the API names them by their opaque ids.
    message = _uuid_text.sub(lambda m: encode_id("JournalEntry", uuid.UUID(m.group(0))), exc.message)
    extra = {f.name for f in dataclasses.fields(error_type)} - {"code", "message"}
    values = {name: value for name, value in _details(exc).items() if name in extra}
    return error_type(code=exc.code, message=message, **values)


def _details(exc: ledger_errors.LedgerError) -> dict[str, object]:
    details = exc.details
    values: dict[str, object] = {}
    if "field" in details:
        values["field"] = details["field"]
    if "currency" in details:
        values["currency"] = details["currency"]
    if "account" in details:
        values["account_code"] = details["account"]
    if "entry" in details:
        values["entry_id"] = encode_id("JournalEntry", uuid.UUID(str(details["entry"])))
    if isinstance(details.get("imbalance"), dict):
        values["imbalances"] = [money(minor, currency) for currency, minor in sorted(details["imbalance"].items())]
    return values
