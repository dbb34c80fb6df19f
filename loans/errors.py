"""Typed loan errors; they share the ledger's interface (a stable `code` and a message)."""
from __future__ import annotations

from ledger.errors import AlreadyReversed, LedgerError


class LoanError(LedgerError):
    code = "LOAN_ERROR"


class InvalidProduct(LoanError):
    code = "INVALID_PRODUCT"


class UnknownProduct(LoanError):
    code = "UNKNOWN_PRODUCT"


class InvalidBorrower(LoanError):
    code = "INVALID_BORROWER"


class UnknownBorrower(LoanError):
    code = "UNKNOWN_BORROWER"


class UnknownLoan(LoanError):
    code = "UNKNOWN_LOAN"


class OutsideProductRange(LoanError):
    code = "OUTSIDE_PRODUCT_RANGE"


class IllegalTransition(LoanError):
    code = "ILLEGAL_TRANSITION"


class MakerChecker(LoanError):
    code = "MAKER_CHECKER_VIOLATION"


class LoanClosed(LoanError):
    code = "LOAN_CLOSED"


class WrongCurrency(LoanError):
    code = "WRONG_CURRENCY"


class AmountNotPositive(LoanError):
    code = "AMOUNT_NOT_POSITIVE"


class DateBeforeDisbursement(LoanError):
    code = "DATE_BEFORE_DISBURSEMENT"


class DateAfterBusinessDate(LoanError):
    code = "DATE_AFTER_BUSINESS_DATE"


class UnknownTransaction(LoanError):
    code = "UNKNOWN_TRANSACTION"


class InvalidClassificationPolicy(LoanError):
    code = "INVALID_CLASSIFICATION_POLICY"


class InvalidReceipt(LoanError):
    code = "INVALID_RECEIPT"


class UnknownReceipt(UnknownTransaction):
    code = "UNKNOWN_RECEIPT"


class ReceiptAlreadyApplied(AlreadyReversed):
    """Kept a kind of AlreadyReversed (what apply_receipt raised before it had its own code)."""

    code = "RECEIPT_ALREADY_APPLIED"


class RecoveryExceedsWrittenOff(LoanError):
    """A recovery larger than what was written off and not yet recovered: refused, nothing booked."""

    code = "RECOVERY_EXCEEDS_WRITTEN_OFF"


class NothingToWaive(LoanError):
    code = "NOTHING_TO_WAIVE"


class CobOutOfOrder(LoanError):
    code = "COB_OUT_OF_ORDER"


class InvalidSchedule(LoanError):
    code = "INVALID_SCHEDULE_TERMS"


class CobAlreadyRunning(LoanError):
    """A close of business run of the tenant is queued or running; `run` names it."""

    code = "COB_ALREADY_RUNNING"
