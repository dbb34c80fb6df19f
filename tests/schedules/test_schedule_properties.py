"""Invariants every schedule must keep, whatever the terms (hypothesis).

Expected interest is recomputed here with `fractions.Fraction` and an independent rounding
implementation, so the check does not reuse the package's own arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal as D
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import (
    DayCount,
    FeeTreatment,
    Frequency,
    Method,
    RoundingMode,
    ScheduleTerms,
    build_schedule,
    parse_terms,
    schedule_periodic_rate,
)

EXPONENTS = {"CNY": 2, "JPY": 0, "KWD": 3}
PER_YEAR = {Frequency.WEEKLY: 52, Frequency.BIWEEKLY: 26, Frequency.MONTHLY: 12,
            Frequency.QUARTERLY: 4}
# Longest irregular first period the strategy draws, in days: always within two periods.
FIRST_OFFSET_DAYS_MAX = {Frequency.WEEKLY: 14, Frequency.BIWEEKLY: 28, Frequency.MONTHLY: 59,
                         Frequency.QUARTERLY: 180}
PERIODIC_METHODS = (Method.EQUAL_INSTALLMENT, Method.EQUAL_PRINCIPAL, Method.INTEREST_ONLY)
FAST = settings(max_examples=100, deadline=None)


@st.composite
def loan_terms(draw, methods=tuple(Method), day_counts=tuple(DayCount), irregular_first=True,
               currencies=tuple(EXPONENTS), principal_minor=(10**3, 10**11), rate_max=3600,
               fees=True, grace=True) -> ScheduleTerms:
    currency = draw(st.sampled_from(currencies))
    exponent = EXPONENTS[currency]
    principal = D(draw(st.integers(*principal_minor))).scaleb(-exponent)
    frequency = draw(st.sampled_from(tuple(Frequency)))
    periods = draw(st.integers(1, 120))
    disbursed = draw(st.dates(date(2000, 1, 1), date(2040, 12, 31)))
    first_due = None
    if irregular_first and draw(st.booleans()):
        offset = draw(st.integers(1, FIRST_OFFSET_DAYS_MAX[frequency]))
        first_due = disbursed + timedelta(days=offset)
    upfront_fee = periodic_fee = D(0)
    treatment = FeeTreatment.DEDUCTED
    if fees and draw(st.booleans()):
        upfront_fee = (principal * D(draw(st.integers(0, 50))) / 1000).quantize(
            D(1).scaleb(-exponent))
        periodic_fee = D(draw(st.integers(0, 500))).scaleb(-exponent)
        treatment = draw(st.sampled_from(tuple(FeeTreatment)))
    return ScheduleTerms(
        principal=principal, currency=currency,
        annual_rate=D(draw(st.integers(0, rate_max))).scaleb(-4),
        term_periods=periods, method=draw(st.sampled_from(methods)),
        disbursement_date=disbursed, frequency=frequency, first_due_date=first_due,
        day_count=draw(st.sampled_from(day_counts)),
        grace_on_principal_periods=draw(st.integers(0, min(3, periods - 1))) if grace else 0,
        upfront_fee=upfront_fee, upfront_fee_treatment=treatment, periodic_fee=periodic_fee,
        rounding_mode=draw(st.sampled_from(tuple(RoundingMode))))


def round_fraction(value: Fraction, quantum: Fraction, mode: RoundingMode) -> Fraction:
    """Independent rounding of a non-negative exact value to a quantum."""
    units = value / quantum
    low = math.floor(units)
    rest = units - low
    if mode == RoundingMode.HALF_EVEN:
        chosen = round(units)  # Fraction.__round__ breaks ties to even
    elif mode == RoundingMode.HALF_UP:
        chosen = low + (rest >= Fraction(1, 2))
    elif mode == RoundingMode.HALF_DOWN:
        chosen = low + (rest > Fraction(1, 2))
    elif mode in (RoundingMode.UP, RoundingMode.CEILING):
        chosen = math.ceil(units)
    else:
        chosen = low
    return chosen * quantum


def days_30_360_bond_basis(start: date, end: date) -> int:
    d1 = 30 if start.day == 31 else start.day
    d2 = 30 if end.day == 31 and d1 >= 30 else end.day
    return (end.year - start.year) * 360 + (end.month - start.month) * 30 + d2 - d1


def act_act_isda(start: date, end: date) -> Fraction:
    total, day = Fraction(0), start
    while day < end:  # one day at a time: slow, obviously right
        total += Fraction(1, 366 if day.year % 4 == 0 and (day.year % 100 or day.year % 400 == 0)
                          else 365)
        day += timedelta(days=1)
    return total


def first_period_is_regular(terms: ScheduleTerms) -> bool:
    """The documented rule: period 1 is regular when it runs from one grid date to the next."""
    if terms.first_due_date is None:
        return True
    start, end = terms.disbursement_date, terms.first_due_date
    if terms.frequency in (Frequency.WEEKLY, Frequency.BIWEEKLY):
        return (end - start).days == (7 if terms.frequency == Frequency.WEEKLY else 14)
    months = 1 if terms.frequency == Frequency.MONTHLY else 3
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    last_day = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    start_last = (date(start.year + start.month // 12, start.month % 12 + 1, 1)
                  - timedelta(days=1)).day
    anchor = end.day
    return start.day == min(anchor, start_last) and end == date(year, month, min(anchor, last_day))


def year_fraction(terms: ScheduleTerms, number: int, start: date, end: date) -> Fraction:
    if terms.day_count == DayCount.THIRTY_360:
        if number == 1 and not first_period_is_regular(terms):
            return Fraction(days_30_360_bond_basis(start, end), 360)
        return Fraction(1, PER_YEAR[terms.frequency])
    if terms.day_count == DayCount.ACT_365_FIXED:
        return Fraction((end - start).days, 365)
    if terms.day_count == DayCount.ACT_360:
        return Fraction((end - start).days, 360)
    return act_act_isda(start, end)


@FAST
@given(loan_terms())
def test_principal_sums_exactly_and_balances_run_down_to_zero(terms):
    schedule = build_schedule(terms)
    financed = terms.principal + (terms.upfront_fee
                                 if terms.upfront_fee_treatment == FeeTreatment.FINANCED else 0)
    assert sum(i.principal for i in schedule.installments) == financed
    balance = financed
    for number, installment in enumerate(schedule.installments, 1):
        assert installment.number == number
        for amount in installment[2:7]:  # principal, interest, fee, total, balance_after
            assert amount >= 0 and amount.as_tuple().exponent == -EXPONENTS[terms.currency]
        assert installment.total == installment.principal + installment.interest + installment.fee
        balance -= installment.principal
        assert installment.balance_after == balance >= 0
        assert installment.accrual_start < installment.accrual_end <= installment.due_date \
            or terms.business_day_convention != "NONE"
    assert balance == 0
    assert schedule.total_payment == sum(i.total for i in schedule.installments)


@FAST
@given(loan_terms(methods=PERIODIC_METHODS))
def test_each_interest_is_the_rounded_balance_times_the_period_rate(terms):
    schedule = build_schedule(terms)
    quantum = Fraction(1, 10 ** EXPONENTS[terms.currency])
    balance = Fraction(schedule.financed_principal)
    for installment in schedule.installments:
        fraction = year_fraction(terms, installment.number, installment.accrual_start,
                                 installment.accrual_end)
        exact = balance * Fraction(terms.annual_rate) * fraction
        assert Fraction(installment.interest) == round_fraction(exact, quantum,
                                                                terms.rounding_mode)
        balance -= Fraction(installment.principal)


@FAST
@given(loan_terms(methods=(Method.EQUAL_INSTALLMENT,), irregular_first=False, fees=False,
                  grace=False, day_counts=(DayCount.THIRTY_360,), principal_minor=(10**5, 10**11)))
def test_equal_installments_differ_only_in_the_last(terms):
    # From 1,000 yuan up: below that a rounded-up installment over 100+ periods can repay the
    # loan early, and the clamp (never overpay the balance) then ends the run before the last.
    amounts = [i.principal + i.interest for i in build_schedule(terms).installments]
    assert len(set(amounts[:-1])) <= 1


@FAST
@given(loan_terms(methods=(Method.EQUAL_INSTALLMENT,), fees=False, rate_max=1200,
                  principal_minor=(10**5, 10**11),
                  day_counts=(DayCount.ACT_365_FIXED, DayCount.ACT_360, DayCount.ACT_ACT_ISDA)))
def test_actual_day_periods_keep_the_level_installment(terms):
    # Unequal periods change the interest/principal split, never the installment; the one
    # exception is a first period so long that its interest alone exceeds the installment: then
    # it pays just that interest (principal 0) rather than capitalising the excess.
    schedule = build_schedule(terms)
    grace = terms.grace_on_principal_periods
    first, *rest = schedule.installments[grace:-1] or [None]
    amounts = {i.principal + i.interest for i in rest}
    assert len(amounts) <= 1
    if first is not None and amounts and first.principal + first.interest not in amounts:
        assert first.principal == 0 and first.interest > amounts.pop()


@FAST
@given(loan_terms(methods=(Method.EQUAL_PRINCIPAL, Method.FLAT), principal_minor=(10**5, 10**11)))
def test_equal_principal_parts_differ_only_in_the_last(terms):
    schedule = build_schedule(terms)
    parts = [i.principal for i in schedule.installments[terms.grace_on_principal_periods:-1]]
    assert len(set(parts)) <= 1


@FAST
@given(loan_terms(methods=(Method.EQUAL_INSTALLMENT,), irregular_first=False, fees=False,
                  currencies=("CNY",), principal_minor=(10**8, 10**11),
                  day_counts=(DayCount.THIRTY_360,)))
def test_fee_free_annuity_apr_equals_the_nominal_rate(terms):
    schedule = build_schedule(terms)
    per_year = PER_YEAR[terms.frequency]
    # Only per-period interest rounding (half a fen on a balance of a million or more) moves it.
    assert abs(schedule_periodic_rate(schedule) * per_year - terms.annual_rate) <= D("1e-6")
    assert abs(schedule.annualized_rate - terms.annual_rate) <= D("2e-6")


@FAST
@given(loan_terms(fees=True))
def test_fees_never_lower_the_annualised_rate_below_the_fee_free_one(terms):
    plain = replace(terms, upfront_fee=D(0), periodic_fee=D(0))
    assert build_schedule(terms).annualized_rate >= build_schedule(plain).annualized_rate


@FAST
@given(loan_terms())
def test_parse_terms_round_trips_decimal_strings(terms):
    parsed = parse_terms(
        principal=str(terms.principal), currency=terms.currency,
        annual_rate=str(terms.annual_rate), term_periods=str(terms.term_periods),
        method=terms.method.name, disbursement_date=terms.disbursement_date.isoformat(),
        frequency=terms.frequency.name,
        first_due_date=terms.first_due_date.isoformat() if terms.first_due_date else None,
        day_count=terms.day_count.name,
        grace_on_principal_periods=terms.grace_on_principal_periods,
        upfront_fee=str(terms.upfront_fee), upfront_fee_treatment=terms.upfront_fee_treatment.name,
        periodic_fee=str(terms.periodic_fee), rounding_mode=terms.rounding_mode.name)
    assert parsed == terms
