"""Amortization: the five repayment methods and `build_schedule`.

Rounding rules, the same for every method:
- interest of a period = round(balance x annual_rate x year fraction), computed exactly and rounded
  once to the currency's minor unit with the terms' rounding mode;
- principal parts are rounded the same way, never exceed the balance, and the last installment
  takes whatever principal is left, so principal sums exactly to the loan;
- EQUAL_INSTALLMENT solves the level installment once (optionally to a multiple); every installment
  equals it except the last. With an irregular first period the level installment is kept and
  the principal part of installment 1 absorbs the longer or shorter period's interest.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, localcontext
from fractions import Fraction
from itertools import accumulate, count, islice, repeat
from operator import add, sub

from .duedates import PeriodGrid, period_grid
from .rate import annualize, schedule_flow_runs, solve_rate
from .rounding import DECIMAL_CONTEXT, decimal_rounding, minor_unit, round_to_multiple
from .schedule import Installment, Schedule
from .terms import (
    Method,
    ScheduleTerms,
    disbursed_amount,
    financed_principal,
    periods_per_year,
)
from .validation import require_valid_terms

ZERO, ONE = Decimal(0), Decimal(1)
# Interest factor of a period: interest = balance * numerator / denominator, before rounding.
Factor = tuple[Decimal, Decimal]
# principal parts, interest parts, and the period (1-based) each installment closes.
Parts = tuple[list[Decimal], list[Decimal], list[int] | None]
_tuple_new = tuple.__new__


def rate_factors(annual_rate: Decimal, grid: PeriodGrid) -> tuple[Factor, ...]:
    if grid.uniform_fraction is not None:
        f = grid.uniform_fraction
        return ((annual_rate * f.numerator, Decimal(f.denominator)),) * len(grid.year_fractions)
    return tuple((annual_rate * f.numerator, Decimal(f.denominator)) for f in grid.year_fractions)


def level_installment(principal: Decimal, factors: tuple[Factor, ...]) -> Decimal:
    """The unrounded level payment that brings `principal` to zero over these periods.

    With equal periods this is the annuity formula P r / (1 - (1 + r) ** -n); with unequal ones
    (actual-day periods, an irregular first period) it is P / sum of the discount factors, so the
    last installment stays within rounding of the others instead of absorbing the drift.
    """
    periods = len(factors)
    numerator, denominator = factors[0]
    if factors.count(factors[0]) == periods:
        rate = numerator / denominator
        if rate == 0:
            return principal / periods
        return principal * rate / (ONE - (ONE + rate) ** -periods)
    discount = ONE
    annuity_factor = ZERO
    for numerator, denominator in factors:
        discount = discount * denominator / (denominator + numerator)
        annuity_factor += discount
    return principal / annuity_factor


def _interest_only(balance: Decimal, factors: tuple[Factor, ...], quantum: Decimal,
                   rounding: str) -> list[Decimal]:
    return [(balance * n / d).quantize(quantum, rounding=rounding) for n, d in factors]


def _rounded_level(terms: ScheduleTerms, balance: Decimal, factors: tuple[Factor, ...],
                   quantum: Decimal, rounding: str) -> Decimal:
    level = level_installment(balance, factors)
    multiple = terms.installment_multiple
    if multiple is None:
        return level.quantize(quantum, rounding=rounding)
    # A multiple larger than the installment must not round it away to nothing.
    return round_to_multiple(level, multiple, rounding) or multiple


def _equal_installment(terms: ScheduleTerms, balance: Decimal, factors: tuple[Factor, ...],
                       quantum: Decimal, rounding: str) -> Parts:
    grace = terms.grace_on_principal_periods
    level = terms.fixed_level_amount
    if level is None:
        level = _rounded_level(terms, balance, factors[grace:], quantum, rounding)
        numerator, denominator = factors[grace]
        first_interest = (balance * numerator / denominator).quantize(quantum, rounding=rounding)
        if first_interest >= level and grace < len(factors) - 1:
            # A first period so long that its interest alone reaches the installment: it pays
            # that interest only (capitalising the excess would grow the balance) and the level
            # installment is solved over the periods after it.
            grace += 1
            level = _rounded_level(terms, balance, factors[grace:], quantum, rounding)
    interests = _interest_only(balance, factors[:grace], quantum, rounding)
    principals = [quantum * 0] * grace  # a zero with the currency's exponent
    for numerator, denominator in factors[grace:-1]:
        interest = (balance * numerator / denominator).quantize(quantum, rounding=rounding)
        principal = level - interest
        # Clamps only bite in corner cases (a multiple rounded far up, a tiny loan whose
        # rounded-up installment repays it early, a fixed level below a period's interest):
        # never overpay the balance, never capitalise interest.
        if principal > balance:
            principal = balance
        elif principal < ZERO:
            principal = quantum * 0
        balance -= principal
        interests.append(interest)
        principals.append(principal)
    numerator, denominator = factors[-1]
    interests.append((balance * numerator / denominator).quantize(quantum, rounding=rounding))
    principals.append(balance)
    return principals, interests, None


def _level_principal_parts(terms: ScheduleTerms, balance: Decimal, periods: int,
                           quantum: Decimal, rounding: str) -> list[Decimal]:
    grace = terms.grace_on_principal_periods
    part = terms.fixed_level_amount
    if part is None:
        part = (balance / (periods - grace)).quantize(quantum, rounding=rounding)
    parts = [quantum * 0] * grace
    for _ in range(periods - grace - 1):
        principal = min(part, balance)
        balance -= principal
        parts.append(principal)
    parts.append(balance)
    return parts


def _equal_principal(terms: ScheduleTerms, balance: Decimal, factors: tuple[Factor, ...],
                     quantum: Decimal, rounding: str) -> Parts:
    principals = _level_principal_parts(terms, balance, len(factors), quantum, rounding)
    interests = []
    for principal, (numerator, denominator) in zip(principals, factors):
        interests.append((balance * numerator / denominator).quantize(quantum, rounding=rounding))
        balance -= principal
    return principals, interests, None


def _interest_only_method(terms: ScheduleTerms, balance: Decimal, factors: tuple[Factor, ...],
                          quantum: Decimal, rounding: str) -> Parts:
    principals = [quantum * 0] * (len(factors) - 1) + [balance]
    return principals, _interest_only(balance, factors, quantum, rounding), None


def _simple_interest(balance: Decimal, annual_rate: Decimal, fractions: tuple[Fraction, ...],
                     quantum: Decimal, rounding: str) -> Decimal:
    years = sum(fractions, Fraction(0))
    return (balance * annual_rate * years.numerator / years.denominator).quantize(
        quantum, rounding=rounding)


def _bullet(terms: ScheduleTerms, balance: Decimal, factors: tuple[Factor, ...],
            quantum: Decimal, rounding: str, grid: PeriodGrid) -> Parts:
    # Grace periods pay interest as they go; the rest accrues as simple interest to maturity.
    grace = terms.grace_on_principal_periods
    interests = _interest_only(balance, factors[:grace], quantum, rounding)
    fractions = grid.year_fractions[grace:]
    interests.append(_simple_interest(balance, terms.annual_rate, fractions, quantum, rounding))
    principals = [quantum * 0] * grace + [balance]
    periods = list(range(1, grace + 1)) + [len(factors)]
    return principals, interests, periods


def _flat(terms: ScheduleTerms, balance: Decimal, factors: tuple[Factor, ...],
          quantum: Decimal, rounding: str, grid: PeriodGrid) -> Parts:
    # Interest on the original principal for the whole term, spread evenly across installments.
    count = len(factors)
    total = _simple_interest(balance, terms.annual_rate, grid.year_fractions, quantum, rounding)
    share = (total / count).quantize(quantum, rounding=rounding)
    interests = []
    for _ in range(count - 1):
        interest = min(share, total)
        total -= interest
        interests.append(interest)
    interests.append(total)
    multiple = terms.installment_multiple
    if multiple is None:
        return _level_principal_parts(terms, balance, count, quantum, rounding), interests, None
    # A flat installment is level: round it to the multiple (as Apache Fineract does) and let the
    # principal part take the rounding; the last installment carries the remainder.
    level = round_to_multiple((balance + sum(interests, ZERO)) / count, multiple, rounding) or multiple
    principals = []
    for interest in interests[:-1]:
        principal = min(max(level - interest, quantum * 0), balance)
        balance -= principal
        principals.append(principal)
    principals.append(balance)
    return principals, interests, None


def _parts(terms: ScheduleTerms, balance: Decimal, factors: tuple[Factor, ...],
           quantum: Decimal, rounding: str, grid: PeriodGrid) -> Parts:
    method = terms.method
    if method == Method.EQUAL_INSTALLMENT:
        return _equal_installment(terms, balance, factors, quantum, rounding)
    if method == Method.EQUAL_PRINCIPAL:
        return _equal_principal(terms, balance, factors, quantum, rounding)
    if method == Method.INTEREST_ONLY:
        return _interest_only_method(terms, balance, factors, quantum, rounding)
    if method == Method.BULLET:
        return _bullet(terms, balance, factors, quantum, rounding, grid)
    if method == Method.FLAT:
        return _flat(terms, balance, factors, quantum, rounding, grid)
    raise AssertionError(f"unvalidated method {method!r}")


def _installments(terms: ScheduleTerms, financed: Decimal, parts: Parts, grid: PeriodGrid,
                  quantum: Decimal) -> tuple[tuple[Installment, ...], list[Decimal]]:
    """Attach dates, fees, totals and running balances; returns the installments and totals.

    Built with map/zip/accumulate so the per-installment work runs in C: this is the hot path.
    """
    principals, interests, periods = parts
    # Validation guarantees the fee fits the minor unit, so this only normalises '5' to '5.00'.
    fee_per_period = terms.periodic_fee.quantize(quantum, rounding=ROUND_DOWN)
    starts = (terms.disbursement_date,) + grid.accrual_ends[:-1]
    if periods is None:
        ends, due = grid.accrual_ends, grid.due_dates
        fees: list[Decimal] = [fee_per_period] * len(principals)
    else:
        previous = [0] + periods[:-1]
        ends = tuple(grid.accrual_ends[p - 1] for p in periods)
        due = tuple(grid.due_dates[p - 1] for p in periods)
        starts = tuple(starts[p] for p in previous)
        fees = [fee_per_period * (p - q) for p, q in zip(periods, previous)]
    totals = list(map(add, principals, interests))
    if fee_per_period:
        totals = list(map(add, totals, fees))
    balances = islice(accumulate(principals, sub, initial=financed), 1, None)
    rows = zip(count(1), due, principals, interests, fees, totals, balances, starts, ends)
    return tuple(map(_tuple_new, repeat(Installment), rows)), totals


def build_schedule(terms: ScheduleTerms) -> Schedule:
    """Validate the terms and return the full schedule with totals and annualised rates.

    Raises ScheduleInputError (every problem, each naming its field) for bad terms and
    RateNotFound if the annualised rate cannot be pinned down.
    """
    with localcontext(DECIMAL_CONTEXT):
        require_valid_terms(terms)
        grid = period_grid(terms)
        quantum = minor_unit(terms.currency)
        rounding = decimal_rounding[terms.rounding_mode]
        # Exact by validation; quantizing only gives every amount the currency's exponent.
        financed = financed_principal(terms).quantize(quantum, rounding=ROUND_DOWN)
        factors = rate_factors(terms.annual_rate, grid)
        parts = _parts(terms, financed, factors, quantum, rounding, grid)
        installments, totals = _installments(terms, financed, parts, grid, quantum)
        return _summarise(terms, installments, parts, totals, grid, quantum)


def _summarise(terms: ScheduleTerms, installments: tuple[Installment, ...], parts: Parts,
               totals: list[Decimal], grid: PeriodGrid, quantum: Decimal) -> Schedule:
    principals, interests, periods = parts
    # Validation guarantees these fit the minor unit; quantizing only fixes their exponent.
    financed = financed_principal(terms).quantize(quantum, rounding=ROUND_DOWN)
    disbursed = disbursed_amount(terms).quantize(quantum, rounding=ROUND_DOWN)
    upfront_fee = terms.upfront_fee.quantize(quantum, rounding=ROUND_DOWN)
    total_principal = sum(principals, ZERO)
    assert total_principal == financed, (total_principal, financed)
    assert installments[-1].balance_after == 0, installments[-1]
    per_year = periods_per_year[terms.frequency]
    length = grid.first_period_length
    first_length = Decimal(length.numerator) / length.denominator
    runs = schedule_flow_runs(disbursed, totals, periods, first_length)
    periodic = solve_rate(runs, terms.annual_rate / per_year)
    nominal, effective = annualize(periodic, per_year)
    total_interest = sum(interests, ZERO)
    # Every period's fee is charged exactly once, whichever installment carries it.
    total_fees = terms.periodic_fee.quantize(quantum, rounding=ROUND_DOWN) * terms.term_periods
    return Schedule(
        terms=terms, installments=installments, financed_principal=financed,
        disbursed_amount=disbursed, upfront_fee=upfront_fee,
        total_principal=total_principal, total_interest=total_interest, total_fees=total_fees,
        total_payment=total_principal + total_interest + total_fees,
        annualized_rate=nominal, effective_annual_rate=effective, periods_per_year=per_year,
        first_period_length=first_length,
        installment_periods=tuple(periods or range(1, len(installments) + 1)))
