"""Validation of ScheduleTerms: every problem at once, as data, each naming its field."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, localcontext
from enum import StrEnum

from .duedates import add_periods, anchor_day, first_due_date
from .errors import ErrorCode, InputProblem, ScheduleInputError
from .rounding import DECIMAL_CONTEXT, currency_exponent, is_multiple_of
from .terms import (
    BusinessDayConvention,
    DayCount,
    FeeTreatment,
    Frequency,
    Method,
    RoundingMode,
    ScheduleTerms,
    annual_rate_max,
    annual_rate_places_max,
    first_period_periods_max,
    holidays_count_max,
    principal_minor_max,
    step_days,
    term_periods_max,
)

E = ErrorCode
_ENUM_FIELDS: tuple[tuple[str, type[StrEnum], ErrorCode], ...] = (
    ("method", Method, E.UNKNOWN_METHOD),
    ("frequency", Frequency, E.UNKNOWN_FREQUENCY),
    ("day_count", DayCount, E.UNKNOWN_DAY_COUNT),
    ("rounding_mode", RoundingMode, E.UNKNOWN_ROUNDING_MODE),
    ("upfront_fee_treatment", FeeTreatment, E.UNKNOWN_FEE_TREATMENT),
    ("business_day_convention", BusinessDayConvention, E.UNKNOWN_BUSINESS_DAY_CONVENTION),
)
_LEVEL_METHODS = (Method.EQUAL_INSTALLMENT, Method.EQUAL_PRINCIPAL)


def decimal_problem(field: str, value: object) -> InputProblem | None:
    """Refuse anything that is not an exact, finite Decimal; floats are refused, never rounded."""
    if isinstance(value, float):
        return InputProblem(field, E.FLOAT_REFUSED,
                            "float refused: pass a Decimal or a decimal string such as '0.049'")
    if not isinstance(value, Decimal):
        return InputProblem(field, E.NOT_A_DECIMAL,
                            f"expected a Decimal, got {type(value).__name__}")
    if not value.is_finite():
        return InputProblem(field, E.NOT_FINITE, f"{value} is not a finite number")
    return None


def integer_problem(field: str, value: object) -> InputProblem | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return InputProblem(field, E.NOT_AN_INTEGER,
                            f"expected an integer, got {type(value).__name__}")
    return None


def date_problem(field: str, value: object) -> InputProblem | None:
    # datetime is a date subclass; a time of day would silently shift day counts, so refuse it.
    if not isinstance(value, date) or isinstance(value, datetime):
        return InputProblem(field, E.NOT_A_DATE, f"expected a date, got {type(value).__name__}")
    return None


def _money_problem(field: str, value: Decimal, quantum: Decimal | None,
                   amount_max: Decimal) -> InputProblem | None:
    if value > amount_max:
        return InputProblem(field, E.AMOUNT_TOO_LARGE if field != "principal" else
                            E.PRINCIPAL_TOO_LARGE, f"{value} exceeds the limit {amount_max}")
    if quantum is not None and not is_multiple_of(value, quantum):
        return InputProblem(field, E.AMOUNT_TOO_PRECISE,
                            f"{value} is finer than the currency's minor unit {quantum}")
    return None


def _check_currency_and_enums(terms: ScheduleTerms) -> list[InputProblem]:
    problems = []
    if not isinstance(terms.currency, str) or currency_exponent(terms.currency) is None:
        problems.append(InputProblem("currency", E.UNKNOWN_CURRENCY,
                                     f"{terms.currency!r} is not an ISO 4217 currency code"))
    for field, enum, code in _ENUM_FIELDS:
        value = getattr(terms, field)
        if not isinstance(value, str) or value not in enum.__members__:
            names = ", ".join(enum.__members__)
            problems.append(InputProblem(field, code, f"{value!r} is not one of {names}"))
    return problems


def _check_amounts(terms: ScheduleTerms, quantum: Decimal | None) -> list[InputProblem]:
    problems: list[InputProblem] = []
    amount_max = Decimal(principal_minor_max) * (quantum or Decimal(1))
    fields = ("principal", "upfront_fee", "periodic_fee", "installment_multiple",
              "fixed_level_amount")
    for field in fields:
        value = getattr(terms, field)
        if value is None and field in ("installment_multiple", "fixed_level_amount"):
            continue
        problem = decimal_problem(field, value)
        if problem is None:
            if field == "principal" and value <= 0:
                problem = InputProblem(field, E.PRINCIPAL_NOT_POSITIVE, f"{value} is not positive")
            elif field.endswith("fee") and value < 0:
                problem = InputProblem(field, E.FEE_NEGATIVE, f"{value} is negative")
            elif field not in ("principal", "upfront_fee", "periodic_fee") and value <= 0:
                problem = InputProblem(field, E.AMOUNT_NOT_POSITIVE, f"{value} is not positive")
            else:
                problem = _money_problem(field, value, quantum, amount_max)
        if problem is not None:
            problems.append(problem)
    if not problems:
        problems.extend(_check_fee_against_principal(terms, amount_max))
    return problems


def _check_fee_against_principal(terms: ScheduleTerms, amount_max: Decimal) -> list[InputProblem]:
    fee, principal = terms.upfront_fee, terms.principal
    if terms.upfront_fee_treatment == FeeTreatment.DEDUCTED and fee >= principal:
        return [InputProblem("upfront_fee", E.FEE_NOT_LESS_THAN_PRINCIPAL,
                             f"a deducted fee {fee} must be less than the principal {principal}")]
    if terms.upfront_fee_treatment == FeeTreatment.FINANCED and principal + fee > amount_max:
        return [InputProblem("upfront_fee", E.PRINCIPAL_TOO_LARGE,
                             f"principal plus financed fee exceeds the limit {amount_max}")]
    return []


def _check_rate_and_term(terms: ScheduleTerms) -> list[InputProblem]:
    problems = []
    rate = terms.annual_rate
    problem = decimal_problem("annual_rate", rate)
    if problem is None and rate < 0:
        problem = InputProblem("annual_rate", E.RATE_NEGATIVE, f"{rate} is negative")
    elif problem is None and rate > annual_rate_max:
        problem = InputProblem("annual_rate", E.RATE_TOO_HIGH,
                               f"{rate} exceeds {annual_rate_max} "
                               f"({annual_rate_max * 100} % a year)")
    elif problem is None and not is_multiple_of(rate, Decimal(1).scaleb(-annual_rate_places_max)):
        problem = InputProblem("annual_rate", E.RATE_TOO_PRECISE,
                               f"{rate} has more than {annual_rate_places_max} decimal places")
    problems.append(problem)
    term = terms.term_periods
    problem = integer_problem("term_periods", term)
    if problem is None and not 1 <= term <= term_periods_max:
        problem = InputProblem("term_periods", E.TERM_OUT_OF_RANGE,
                               f"{term} is outside 1..{term_periods_max}")
    problems.append(problem)
    grace = terms.grace_on_principal_periods
    grace_problem = integer_problem("grace_on_principal_periods", grace)
    if grace_problem is None and problem is None and not 0 <= grace < term:
        grace_problem = InputProblem("grace_on_principal_periods", E.GRACE_OUT_OF_RANGE,
                                     f"{grace} must be at least 0 and less than the term {term}")
    problems.append(grace_problem)
    return [p for p in problems if p is not None]


def _check_dates(terms: ScheduleTerms) -> list[InputProblem]:
    problems = [date_problem("disbursement_date", terms.disbursement_date)]
    if terms.first_due_date is not None:
        problems.append(date_problem("first_due_date", terms.first_due_date))
    due_day = terms.due_day_of_month
    if due_day is not None:
        problem = integer_problem("due_day_of_month", due_day)
        if problem is None and not 1 <= due_day <= 31:
            problem = InputProblem("due_day_of_month", E.DUE_DAY_OUT_OF_RANGE,
                                   f"{due_day} is not 1..31")
        if problem is None and terms.frequency in step_days:
            problem = InputProblem("due_day_of_month", E.DUE_DAY_NOT_APPLICABLE,
                                   "weekly and bi-weekly schedules have no day of month")
        problems.append(problem)
    holidays = terms.holidays
    if not isinstance(holidays, frozenset) or any(date_problem("holidays", d) for d in holidays):
        problems.append(InputProblem("holidays", E.NOT_A_DATE, "expected a frozenset of dates"))
    elif len(holidays) > holidays_count_max:
        problems.append(InputProblem("holidays", E.TOO_MANY_HOLIDAYS,
                                     f"{len(holidays)} holidays exceed {holidays_count_max}"))
    return [p for p in problems if p is not None]


def _check_first_due_and_maturity(terms: ScheduleTerms) -> list[InputProblem]:
    disbursed, first = terms.disbursement_date, terms.first_due_date
    anchor = anchor_day(terms)
    try:
        if first is not None and first <= disbursed:
            return [InputProblem("first_due_date", E.FIRST_DUE_BEFORE_DISBURSEMENT,
                                 f"{first.isoformat()} is not after disbursement "
                                 f"{disbursed.isoformat()}")]
        latest = add_periods(disbursed, first_period_periods_max, terms.frequency, anchor)
        if first is not None and first > latest:
            return [InputProblem("first_due_date", E.FIRST_PERIOD_TOO_LONG,
                                 f"{first.isoformat()} is more than {first_period_periods_max} "
                                 f"periods after disbursement")]
        add_periods(first_due_date(terms), terms.term_periods, terms.frequency, anchor)
    except (OverflowError, ValueError):
        return [InputProblem("disbursement_date", E.DATE_OUT_OF_RANGE,
                             "the schedule would run past the last representable date")]
    return []


def _check_options(terms: ScheduleTerms) -> list[InputProblem]:
    problems = []
    if terms.installment_multiple is not None and (
            terms.method not in (Method.EQUAL_INSTALLMENT, Method.FLAT) or terms.fixed_level_amount is not None):
        problems.append(InputProblem(
            "installment_multiple", E.MULTIPLE_NOT_APPLICABLE,
            "only a level installment (EQUAL_INSTALLMENT solved, or FLAT) rounds to a multiple; "
            f"a {terms.method} installment is not level"))
    if terms.fixed_level_amount is not None and terms.method not in _LEVEL_METHODS:
        problems.append(InputProblem(
            "fixed_level_amount", E.LEVEL_AMOUNT_NOT_APPLICABLE,
            "only EQUAL_INSTALLMENT and EQUAL_PRINCIPAL have a level amount"))
    return problems


def check_terms(terms: ScheduleTerms) -> tuple[InputProblem, ...]:
    """Every problem with the terms; empty when they are usable."""
    with localcontext(DECIMAL_CONTEXT):
        problems = _check_currency_and_enums(terms)
        exponent = currency_exponent(terms.currency) if isinstance(terms.currency, str) else None
        quantum = None if exponent is None else Decimal(1).scaleb(-exponent)
        problems += _check_amounts(terms, quantum)
        rate_term = _check_rate_and_term(terms)
        problems += rate_term
        date_problems = _check_dates(terms)
        problems += date_problems
        if not rate_term and not date_problems and terms.frequency in Frequency.__members__:
            problems += _check_first_due_and_maturity(terms)
        problems += _check_options(terms)
    return tuple(problems)


def require_valid_terms(terms: ScheduleTerms) -> None:
    """Raise ScheduleInputError carrying every problem, or return quietly."""
    problems = check_terms(terms)
    if problems:
        raise ScheduleInputError.from_problems(problems)
