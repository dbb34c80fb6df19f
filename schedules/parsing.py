"""Terms from an API's raw values: decimal strings, enum names, ISO dates.

An API layer passes what the client sent straight through; every problem comes back at once as a
ScheduleInputError naming its field. None means "not given" and takes the default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .errors import ErrorCode, InputProblem, ScheduleInputError
from .terms import (
    BusinessDayConvention,
    DayCount,
    FeeTreatment,
    Frequency,
    Method,
    RoundingMode,
    ScheduleTerms,
)
from .validation import check_terms, date_problem, decimal_problem, integer_problem

decimal_string_length_max = 40
# Plain decimal notation only: no exponents, underscores, spaces, NaN or Infinity.
_DECIMAL_STRING = re.compile(r"-?\d+(\.\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INTEGER_STRING = re.compile(r"-?\d{1,9}")
E = ErrorCode


class _Collector:
    """Converts raw values and records what is wrong instead of stopping at the first problem."""

    def __init__(self) -> None:
        self.problems: list[InputProblem] = []

    def decimal(self, field: str, raw: object) -> Any:
        if isinstance(raw, str):
            if len(raw) > decimal_string_length_max or not _DECIMAL_STRING.fullmatch(raw):
                return self._fail(field, E.NOT_A_DECIMAL,
                                  f"{raw[:decimal_string_length_max]!r} is not a decimal string")
            return Decimal(raw)
        if isinstance(raw, int) and not isinstance(raw, bool):
            return Decimal(raw)
        problem = decimal_problem(field, raw)
        return raw if problem is None else self._fail(*problem)

    def integer(self, field: str, raw: object) -> Any:
        if isinstance(raw, str):
            if not _INTEGER_STRING.fullmatch(raw):
                return self._fail(field, E.NOT_AN_INTEGER, f"{raw[:20]!r} is not an integer")
            return int(raw)
        problem = integer_problem(field, raw)
        return raw if problem is None else self._fail(*problem)

    def date(self, field: str, raw: object) -> Any:
        if isinstance(raw, str):
            try:
                if _ISO_DATE.fullmatch(raw):
                    return date.fromisoformat(raw)
            except ValueError:
                pass
            return self._fail(field, E.NOT_A_DATE, f"{raw[:20]!r} is not an ISO date YYYY-MM-DD")
        problem = date_problem(field, raw)
        return raw if problem is None else self._fail(*problem)

    def member(self, field: str, raw: object, enum: type[StrEnum], code: ErrorCode) -> Any:
        if isinstance(raw, str) and raw in enum.__members__:
            return enum[raw]
        names = ", ".join(enum.__members__)
        return self._fail(field, code, f"{str(raw)[:40]!r} is not one of {names}")

    def _fail(self, field: str, code: ErrorCode, message: str) -> None:
        # The value becomes None; parse_terms raises before any None reaches ScheduleTerms.
        self.problems.append(InputProblem(field, code, message))


def _optional(convert, field: str, raw: object, default: object) -> object:
    return default if raw is None else convert(field, raw)


def parse_terms(*, principal: object, currency: object, annual_rate: object,
                term_periods: object, method: object, disbursement_date: object,
                frequency: object = None, first_due_date: object = None,
                day_count: object = None, grace_on_principal_periods: object = None,
                upfront_fee: object = None, upfront_fee_treatment: object = None,
                periodic_fee: object = None, rounding_mode: object = None,
                installment_multiple: object = None, holidays: Iterable[object] | None = None,
                business_day_convention: object = None,
                due_day_of_month: object = None) -> ScheduleTerms:
    """Validated ScheduleTerms from strings (or already-typed values); raises ScheduleInputError."""
    c = _Collector()
    required = {"principal": principal, "currency": currency, "annual_rate": annual_rate,
                "term_periods": term_periods, "method": method,
                "disbursement_date": disbursement_date}
    for field, raw in required.items():
        if raw is None:
            c.problems.append(InputProblem(field, E.REQUIRED, "is required"))
    holiday_dates = frozenset(c.date("holidays", d) for d in (holidays or ()))
    values = dict(
        principal=_optional(c.decimal, "principal", principal, None),
        currency=currency if isinstance(currency, str) or currency is None else str(currency),
        annual_rate=_optional(c.decimal, "annual_rate", annual_rate, None),
        term_periods=_optional(c.integer, "term_periods", term_periods, None),
        method=_optional(lambda f, r: c.member(f, r, Method, E.UNKNOWN_METHOD), "method", method,
                         None),
        disbursement_date=_optional(c.date, "disbursement_date", disbursement_date, None),
        frequency=_optional(lambda f, r: c.member(f, r, Frequency, E.UNKNOWN_FREQUENCY),
                            "frequency", frequency, Frequency.MONTHLY),
        first_due_date=_optional(c.date, "first_due_date", first_due_date, None),
        day_count=_optional(lambda f, r: c.member(f, r, DayCount, E.UNKNOWN_DAY_COUNT),
                            "day_count", day_count, DayCount.THIRTY_360),
        grace_on_principal_periods=_optional(c.integer, "grace_on_principal_periods",
                                             grace_on_principal_periods, 0),
        upfront_fee=_optional(c.decimal, "upfront_fee", upfront_fee, Decimal(0)),
        upfront_fee_treatment=_optional(
            lambda f, r: c.member(f, r, FeeTreatment, E.UNKNOWN_FEE_TREATMENT),
            "upfront_fee_treatment", upfront_fee_treatment, FeeTreatment.DEDUCTED),
        periodic_fee=_optional(c.decimal, "periodic_fee", periodic_fee, Decimal(0)),
        rounding_mode=_optional(lambda f, r: c.member(f, r, RoundingMode, E.UNKNOWN_ROUNDING_MODE),
                                "rounding_mode", rounding_mode, RoundingMode.HALF_UP),
        installment_multiple=_optional(c.decimal, "installment_multiple", installment_multiple,
                                       None),
        holidays=holiday_dates,
        business_day_convention=_optional(
            lambda f, r: c.member(f, r, BusinessDayConvention,
                                  E.UNKNOWN_BUSINESS_DAY_CONVENTION),
            "business_day_convention", business_day_convention, BusinessDayConvention.NONE),
        due_day_of_month=_optional(c.integer, "due_day_of_month", due_day_of_month, None),
    )
    if c.problems:
        raise ScheduleInputError.from_problems(tuple(c.problems))
    terms = ScheduleTerms(**values)
    problems = check_terms(terms)
    if problems:
        raise ScheduleInputError.from_problems(problems)
    return terms
