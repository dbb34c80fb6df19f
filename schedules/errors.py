"""Typed errors: every problem a caller can cause has a stable code and names its field.

Assertions in this package guard programmer errors (an invariant we broke); anything a user can send
us ends up here instead, so an API layer can map it to a typed result without parsing messages.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class ErrorCode(StrEnum):
    """Stable codes; values equal names so they compare equal to plain strings in any client."""

    PRINCIPAL_NOT_POSITIVE = "PRINCIPAL_NOT_POSITIVE"
    PRINCIPAL_TOO_LARGE = "PRINCIPAL_TOO_LARGE"
    RATE_NEGATIVE = "RATE_NEGATIVE"
    RATE_TOO_HIGH = "RATE_TOO_HIGH"
    RATE_TOO_PRECISE = "RATE_TOO_PRECISE"
    TERM_OUT_OF_RANGE = "TERM_OUT_OF_RANGE"
    GRACE_OUT_OF_RANGE = "GRACE_OUT_OF_RANGE"
    FIRST_DUE_BEFORE_DISBURSEMENT = "FIRST_DUE_BEFORE_DISBURSEMENT"
    FIRST_PERIOD_TOO_LONG = "FIRST_PERIOD_TOO_LONG"
    DATE_OUT_OF_RANGE = "DATE_OUT_OF_RANGE"
    DUE_DAY_OUT_OF_RANGE = "DUE_DAY_OUT_OF_RANGE"
    DUE_DAY_NOT_APPLICABLE = "DUE_DAY_NOT_APPLICABLE"
    NO_BUSINESS_DAY = "NO_BUSINESS_DAY"
    TOO_MANY_HOLIDAYS = "TOO_MANY_HOLIDAYS"
    UNKNOWN_METHOD = "UNKNOWN_METHOD"
    UNKNOWN_FREQUENCY = "UNKNOWN_FREQUENCY"
    UNKNOWN_DAY_COUNT = "UNKNOWN_DAY_COUNT"
    UNKNOWN_ROUNDING_MODE = "UNKNOWN_ROUNDING_MODE"
    UNKNOWN_FEE_TREATMENT = "UNKNOWN_FEE_TREATMENT"
    UNKNOWN_BUSINESS_DAY_CONVENTION = "UNKNOWN_BUSINESS_DAY_CONVENTION"
    UNKNOWN_PREPAYMENT_MODE = "UNKNOWN_PREPAYMENT_MODE"
    UNKNOWN_CURRENCY = "UNKNOWN_CURRENCY"
    AMOUNT_TOO_PRECISE = "AMOUNT_TOO_PRECISE"
    AMOUNT_NOT_POSITIVE = "AMOUNT_NOT_POSITIVE"
    AMOUNT_TOO_LARGE = "AMOUNT_TOO_LARGE"
    FEE_NEGATIVE = "FEE_NEGATIVE"
    FEE_NOT_LESS_THAN_PRINCIPAL = "FEE_NOT_LESS_THAN_PRINCIPAL"
    MULTIPLE_NOT_APPLICABLE = "MULTIPLE_NOT_APPLICABLE"
    LEVEL_AMOUNT_NOT_APPLICABLE = "LEVEL_AMOUNT_NOT_APPLICABLE"
    FLOAT_REFUSED = "FLOAT_REFUSED"
    NOT_FINITE = "NOT_FINITE"
    NOT_A_DECIMAL = "NOT_A_DECIMAL"
    NOT_AN_INTEGER = "NOT_AN_INTEGER"
    NOT_A_DATE = "NOT_A_DATE"
    REQUIRED = "REQUIRED"
    AS_OF_OUT_OF_RANGE = "AS_OF_OUT_OF_RANGE"
    PREPAYMENT_NOT_PARTIAL = "PREPAYMENT_NOT_PARTIAL"
    MODE_NOT_APPLICABLE = "MODE_NOT_APPLICABLE"
    HOLIDAY_OUT_OF_RANGE = "HOLIDAY_OUT_OF_RANGE"
    TOO_MANY_CASH_FLOWS = "TOO_MANY_CASH_FLOWS"
    RATE_NOT_FOUND = "RATE_NOT_FOUND"


class InputProblem(NamedTuple):
    """One thing wrong with the input, as data: a caller can show every problem at once."""

    field: str
    code: ErrorCode
    message: str


class ScheduleError(Exception):
    """Root of every error this package raises on purpose."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ScheduleInputError(ScheduleError):
    """Input refused. `field`/`code` describe the first problem; `problems` holds all of them."""

    def __init__(self, field: str, code: ErrorCode, message: str,
                 problems: tuple[InputProblem, ...] = ()) -> None:
        super().__init__(code, f"{field}: {message}")
        self.field = field
        self.problems = problems or (InputProblem(field, code, message),)

    @classmethod
    def from_problems(cls, problems: tuple[InputProblem, ...]) -> ScheduleInputError:
        assert problems, "an input error needs at least one problem"
        first = problems[0]
        return cls(first.field, first.code, first.message, problems)


class RateNotFound(ScheduleError):
    """The root finder could not pin down a rate; we say so rather than return a wrong one."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.RATE_NOT_FOUND, message)
