"""Typed ledger errors with stable codes.

Anything a user can cause is one of these; programmer errors are assertions. The `code` is a
public contract (API clients and scripts switch on it); the message is for a person.
"""
from __future__ import annotations


class LedgerError(Exception):
    code = "LEDGER_ERROR"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidInput(LedgerError):
    """An argument is malformed; `field` in the details names it."""

    code = "INVALID_INPUT"


class InvalidAmount(LedgerError):
    code = "INVALID_AMOUNT"


class FloatAmountRefused(InvalidAmount):
    code = "FLOAT_AMOUNT_REFUSED"


class AmountTooPrecise(InvalidAmount):
    code = "AMOUNT_TOO_PRECISE"


class AmountOutOfRange(InvalidAmount):
    code = "AMOUNT_OUT_OF_RANGE"


class UnknownCurrency(LedgerError):
    code = "UNKNOWN_CURRENCY"


class UnbalancedEntry(LedgerError):
    code = "UNBALANCED_ENTRY"


class TooFewPostings(LedgerError):
    code = "TOO_FEW_POSTINGS"


class TooManyPostings(LedgerError):
    code = "TOO_MANY_POSTINGS"


class InvalidEntry(LedgerError):
    code = "INVALID_ENTRY"


class UnknownAccount(LedgerError):
    code = "UNKNOWN_ACCOUNT"


class AccountClosed(LedgerError):
    code = "ACCOUNT_CLOSED"


class AccountExists(LedgerError):
    code = "ACCOUNT_EXISTS"


class InvalidAccount(LedgerError):
    code = "INVALID_ACCOUNT"


class AccountNotEmpty(LedgerError):
    code = "ACCOUNT_BALANCE_NOT_ZERO"


class HeaderAccount(LedgerError):
    """The account is a header (it groups child accounts) and takes no postings; details: account, children."""

    code = "HEADER_ACCOUNT"


class CurrencyNotAllowed(LedgerError):
    code = "CURRENCY_NOT_ALLOWED"


class UnknownEntry(LedgerError):
    code = "UNKNOWN_ENTRY"


class AlreadyReversed(LedgerError):
    code = "ALREADY_REVERSED"


class EntryOwnedByWorkflow(LedgerError):
    """The entry belongs to a domain workflow (details: `workflow`, `entry`); only that workflow corrects it."""

    code = "ENTRY_OWNED_BY_WORKFLOW"


class IdempotencyConflict(LedgerError):
    code = "IDEMPOTENCY_CONFLICT"


class UnknownTenant(LedgerError):
    code = "UNKNOWN_TENANT"


class TenantExists(LedgerError):
    code = "TENANT_EXISTS"


class CrossTenantReference(LedgerError):
    code = "CROSS_TENANT_REFERENCE"


class BatchTooLarge(LedgerError):
    code = "BATCH_TOO_LARGE"


class TransactionRetriesExhausted(LedgerError):
    code = "TRANSACTION_RETRIES_EXHAUSTED"


class PeriodClosed(LedgerError):
    """An entry is dated on or before the date the books are closed through; details: closed_through."""

    code = "PERIOD_CLOSED"


class InvalidPeriodClose(LedgerError):
    """A close, reopen or year-end close that cannot be done as asked (the message says why)."""

    code = "INVALID_PERIOD_CLOSE"


class DatabaseUnavailable(Exception):
    """The database could not be reached, or the connection to it was lost (a restart, a shutdown, a
    refused connection), and reconnecting did not help within a moment.

    Not a LedgerError: it says nothing about the request, which may simply be sent again once the
    database is back. Work lost before COMMIT was rolled back by the server; work lost during COMMIT
    may have committed, which is why a resend carries the same idempotency key: a command that did
    commit is then answered as a replay, never applied twice.
    """

    code = "SERVICE_UNAVAILABLE"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
