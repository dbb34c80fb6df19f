"""New schedules from the outstanding principal: after a partial prepayment, a payment holiday,
or a restructure.

The caller (loan servicing) owns the loan's state: it passes the date the new principal starts
accruing and the principal outstanding on that date. Interest accrued before `as_of` on the old
balance is the caller's to settle; these functions only shape what is owed from `as_of` on.
To continue exactly on the original grid pass an installment's `accrual_end` as `as_of`; a date
inside a period gives the new schedule an irregular first period up to the next original date.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import ROUND_CEILING, Decimal, localcontext
from enum import StrEnum
from typing import NamedTuple

from .amortization import build_schedule, rate_factors
from .duedates import anchor_day, period_grid
from .errors import ErrorCode, InputProblem, ScheduleInputError
from .rounding import DECIMAL_CONTEXT, decimal_rounding, is_multiple_of, minor_unit
from .schedule import Schedule
from .terms import FeeTreatment, Method, ScheduleTerms, step_months
from .validation import date_problem, decimal_problem, require_valid_terms

holiday_periods_max = 24
E = ErrorCode
ZERO = Decimal(0)


class PrepaymentMode(StrEnum):
    REDUCE_INSTALLMENT = "REDUCE_INSTALLMENT"  # keep the maturity, lower the installment
    REDUCE_TERM = "REDUCE_TERM"  # keep the installment, finish earlier


class PaymentHoliday(NamedTuple):
    skipped_due_dates: tuple[date, ...]
    capitalised_interest: Decimal  # interest of the skipped periods, added to the principal
    schedule: Schedule  # resumes after the holiday; maturity moves out by the holiday length


def _require(problem: InputProblem | None) -> None:
    if problem is not None:
        raise ScheduleInputError(*problem)


def _require_amount(terms: ScheduleTerms, field: str, amount: object) -> None:
    _require(decimal_problem(field, amount))
    assert isinstance(amount, Decimal)
    if amount <= 0:
        raise ScheduleInputError(field, E.AMOUNT_NOT_POSITIVE, f"{amount} is not positive")
    if not is_multiple_of(amount, minor_unit(terms.currency)):
        raise ScheduleInputError(field, E.AMOUNT_TOO_PRECISE,
                                 f"{amount} is finer than the currency's minor unit")


def _remaining_periods(terms: ScheduleTerms, as_of: object) -> tuple[int, int]:
    """(periods elapsed, periods remaining) of the original grid at `as_of`."""
    _require(date_problem("as_of", as_of))
    ends = period_grid(terms).accrual_ends
    assert isinstance(as_of, date)
    if not terms.disbursement_date <= as_of < ends[-1]:
        raise ScheduleInputError("as_of", E.AS_OF_OUT_OF_RANGE,
                                 f"{as_of.isoformat()} is not between disbursement and maturity "
                                 f"{ends[-1].isoformat()}")
    remaining = sum(1 for end in ends if end > as_of)
    return len(ends) - remaining, remaining


def continuation_terms(terms: ScheduleTerms, as_of: date, principal: Decimal,
                       periods: int) -> ScheduleTerms:
    """Terms for `principal` from `as_of`, on the original due-date grid, for `periods` periods."""
    elapsed, remaining = _remaining_periods(terms, as_of)
    next_due = period_grid(terms).accrual_ends[elapsed]
    monthly = terms.frequency in step_months
    return replace(
        terms, principal=principal, disbursement_date=as_of, first_due_date=next_due,
        term_periods=periods, due_day_of_month=anchor_day(terms) if monthly else None,
        grace_on_principal_periods=max(0, terms.grace_on_principal_periods - elapsed),
        upfront_fee=ZERO, upfront_fee_treatment=FeeTreatment.DEDUCTED)


def _level_amount(terms: ScheduleTerms) -> Decimal:
    """The installment (EQUAL_INSTALLMENT) or principal part (EQUAL_PRINCIPAL) the loan pays."""
    if terms.fixed_level_amount is not None:
        return terms.fixed_level_amount
    installments = build_schedule(terms).installments
    if terms.method == Method.EQUAL_PRINCIPAL:
        return installments[terms.grace_on_principal_periods].principal
    # The second-to-last installment is level: only the first (irregular period) and the last
    # (remainder) may differ.
    level = installments[-2] if len(installments) - terms.grace_on_principal_periods >= 2 \
        else installments[-1]
    return level.principal + level.interest


def _periods_to_repay(terms: ScheduleTerms, level: Decimal) -> int:
    """Fewest periods in which `level` a period repays terms.principal (at most the term)."""
    grace = terms.grace_on_principal_periods
    balance = terms.principal
    if terms.method == Method.EQUAL_PRINCIPAL:
        periods = int((balance / level).to_integral_value(rounding=ROUND_CEILING))
        return min(terms.term_periods, grace + periods)
    quantum = minor_unit(terms.currency)
    rounding = decimal_rounding[terms.rounding_mode]
    factors = rate_factors(terms.annual_rate, period_grid(terms))
    for period, (numerator, denominator) in enumerate(factors, 1):
        interest = (balance * numerator / denominator).quantize(quantum, rounding=rounding)
        if period <= grace:
            continue
        if balance + interest <= level:
            return period
        balance -= max(level - interest, ZERO)
    return terms.term_periods


def regenerate_after_prepayment(terms: ScheduleTerms, *, as_of: date,
                                outstanding_principal: Decimal, prepayment: Decimal,
                                mode: PrepaymentMode) -> Schedule:
    """The schedule after a partial prepayment on `as_of`.

    REDUCE_INSTALLMENT keeps the remaining number of periods and re-solves the installment;
    REDUCE_TERM keeps the installment (EQUAL_PRINCIPAL: the principal part) and drops periods.
    """
    with localcontext(DECIMAL_CONTEXT):
        require_valid_terms(terms)
        _require_amount(terms, "outstanding_principal", outstanding_principal)
        _require_amount(terms, "prepayment", prepayment)
        if prepayment >= outstanding_principal:
            raise ScheduleInputError("prepayment", E.PREPAYMENT_NOT_PARTIAL,
                                     "a prepayment of the whole outstanding principal closes the "
                                     "loan; there is nothing left to schedule")
        if not isinstance(mode, str) or mode not in PrepaymentMode.__members__:
            raise ScheduleInputError("mode", E.UNKNOWN_PREPAYMENT_MODE,
                                     f"{mode!r} is not one of {', '.join(PrepaymentMode)}")
        _, remaining = _remaining_periods(terms, as_of)
        base = continuation_terms(terms, as_of, outstanding_principal - prepayment, remaining)
        if mode == PrepaymentMode.REDUCE_INSTALLMENT:
            return build_schedule(replace(base, fixed_level_amount=None))
        if terms.method not in (Method.EQUAL_INSTALLMENT, Method.EQUAL_PRINCIPAL):
            raise ScheduleInputError("mode", E.MODE_NOT_APPLICABLE,
                                     f"{terms.method} has no level amount to keep")
        level = _level_amount(terms)
        reduced = replace(base, fixed_level_amount=level, installment_multiple=None)
        return build_schedule(replace(reduced, term_periods=_periods_to_repay(reduced, level)))


def apply_payment_holiday(terms: ScheduleTerms, *, as_of: date, outstanding_principal: Decimal,
                          holiday_periods: int) -> PaymentHoliday:
    """Skip the next `holiday_periods` installments after `as_of`.

    Nothing is paid during the holiday; each skipped period's interest is added to the principal
    at its due date (capitalised per period), and the remaining installments follow the holiday,
    so maturity moves out by `holiday_periods`. A holiday on principal only (interest still paid)
    is `restructure(..., grace_on_principal_periods=k)`.
    """
    with localcontext(DECIMAL_CONTEXT):
        require_valid_terms(terms)
        _require_amount(terms, "outstanding_principal", outstanding_principal)
        if isinstance(holiday_periods, bool) or not isinstance(holiday_periods, int) or \
                not 1 <= holiday_periods <= holiday_periods_max:
            raise ScheduleInputError("holiday_periods", E.HOLIDAY_OUT_OF_RANGE,
                                     f"{holiday_periods!r} is not 1..{holiday_periods_max}")
        _, remaining = _remaining_periods(terms, as_of)
        extended = replace(continuation_terms(terms, as_of, outstanding_principal,
                                              remaining + holiday_periods),
                           fixed_level_amount=None)
        require_valid_terms(extended)
        grid = period_grid(extended)
        quantum = minor_unit(terms.currency)
        rounding = decimal_rounding[terms.rounding_mode]
        balance = outstanding_principal
        for numerator, denominator in rate_factors(terms.annual_rate, grid)[:holiday_periods]:
            balance += (balance * numerator / denominator).quantize(quantum, rounding=rounding)
        resumed = replace(
            extended, principal=balance, term_periods=remaining,
            disbursement_date=grid.accrual_ends[holiday_periods - 1],
            first_due_date=grid.accrual_ends[holiday_periods],
            grace_on_principal_periods=max(0, extended.grace_on_principal_periods
                                           - holiday_periods))
        return PaymentHoliday(grid.due_dates[:holiday_periods], balance - outstanding_principal,
                              build_schedule(resumed))


def restructure(terms: ScheduleTerms, *, as_of: date, outstanding_principal: Decimal,
                annual_rate: Decimal | None = None, term_periods: int | None = None,
                method: Method | None = None, grace_on_principal_periods: int = 0,
                first_due_date: date | None = None) -> Schedule:
    """A fresh schedule for the outstanding principal from `as_of` with new rate, term or method.

    Dates restart from `as_of` (or `first_due_date`); term defaults to the periods left on the
    original grid. Overdue interest or fees to capitalise are the caller's to add to the principal.
    """
    with localcontext(DECIMAL_CONTEXT):
        require_valid_terms(terms)
        _require_amount(terms, "outstanding_principal", outstanding_principal)
        _require(date_problem("as_of", as_of))
        if as_of < terms.disbursement_date:
            raise ScheduleInputError("as_of", E.AS_OF_OUT_OF_RANGE,
                                     f"{as_of.isoformat()} is before disbursement")
        if term_periods is None:
            term_periods = _remaining_periods(terms, as_of)[1]
        new_method = terms.method if method is None else method
        multiple = terms.installment_multiple if new_method in (Method.EQUAL_INSTALLMENT, Method.FLAT) else None
        return build_schedule(replace(
            terms, principal=outstanding_principal, disbursement_date=as_of,
            first_due_date=first_due_date, due_day_of_month=None, term_periods=term_periods,
            annual_rate=terms.annual_rate if annual_rate is None else annual_rate,
            method=new_method, grace_on_principal_periods=grace_on_principal_periods,
            upfront_fee=ZERO, upfront_fee_treatment=FeeTreatment.DEDUCTED,
            installment_multiple=multiple, fixed_level_amount=None))
