"""Due dates, month-end rule, irregular first periods, day counts and business-day adjustment."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP
from decimal import Decimal as D
from fractions import Fraction

import pytest

from schedules import (
    BusinessDayConvention,
    DayCount,
    Frequency,
    Method,
    ScheduleTerms,
    add_months,
    adjust_to_business_day,
    build_schedule,
    year_fraction,
)
from schedules.daycount import days_30_360


def loan(disbursed: date, periods: int = 12, **more) -> ScheduleTerms:
    base = dict(principal=D("12000"), currency="CNY", annual_rate=D("0.12"), term_periods=periods,
                method=Method.EQUAL_INSTALLMENT, disbursement_date=disbursed)
    return ScheduleTerms(**{**base, **more})


def due_dates(terms: ScheduleTerms) -> list[date]:
    return [i.due_date for i in build_schedule(terms).installments]


def test_disbursed_on_31_january_falls_due_on_each_month_end():
    assert due_dates(loan(date(2024, 1, 31), 5)) == [
        date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30), date(2024, 5, 31),
        date(2024, 6, 30)]
    assert due_dates(loan(date(2023, 1, 31), 2)) == [date(2023, 2, 28), date(2023, 3, 31)]


def test_month_end_periods_are_regular_under_30_360():
    # Jan 31 -> Feb 29 -> Mar 31: each a whole month, so each accrues exactly 1 % at 12 %.
    schedule = build_schedule(loan(date(2024, 1, 31), 3))
    assert schedule.installments[0].interest == D("120.00")
    assert schedule.first_period_length == 1


def test_dates_anchor_on_the_first_due_day_not_on_the_previous_date():
    terms = loan(date(2024, 1, 10), 3, first_due_date=date(2024, 2, 29))
    assert due_dates(terms) == [date(2024, 2, 29), date(2024, 3, 29), date(2024, 4, 29)]
    anchored = replace(terms, due_day_of_month=31)
    assert due_dates(anchored) == [date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]


def test_weekly_biweekly_and_quarterly_steps():
    start = date(2024, 1, 1)
    assert due_dates(loan(start, 3, frequency=Frequency.WEEKLY)) == [
        date(2024, 1, 8), date(2024, 1, 15), date(2024, 1, 22)]
    assert due_dates(loan(start, 2, frequency=Frequency.BIWEEKLY)) == [
        date(2024, 1, 15), date(2024, 1, 29)]
    assert due_dates(loan(date(2023, 11, 30), 3, frequency=Frequency.QUARTERLY)) == [
        date(2024, 2, 29), date(2024, 5, 30), date(2024, 8, 30)]


def test_long_first_period_accrues_by_30_360_days_and_keeps_the_level_installment():
    # Disbursed 15 Jan, first due 1 Mar: 46 days in 30/360, so interest 12000 x 12 % x 46/360.
    terms = loan(date(2024, 1, 15), 12, first_due_date=date(2024, 3, 1))
    schedule = build_schedule(terms)
    first, second = schedule.installments[:2]
    assert first.interest == D("184.00")
    assert first.total == second.total  # the principal part absorbs the longer period
    assert first.principal < second.principal
    # The level installment was solved for the long first period, so the last one differs only
    # by accumulated rounding (under a fen per period), not by the extra fortnight's interest.
    assert abs(schedule.installments[-1].total - first.total) <= D("0.01") * 12
    # For the IRR the first installment sits 46 days / 29 days (Feb 1 -> Mar 1) periods out.
    assert round(schedule.first_period_length, 9) == D("1.586206897")


def test_short_first_period_under_actual_365():
    terms = loan(date(2024, 1, 20), 6, first_due_date=date(2024, 2, 1),
                 day_count=DayCount.ACT_365_FIXED)
    first = build_schedule(terms).installments[0]
    assert first.interest == (D(12000) * D("0.12") * 12 / 365).quantize(D("0.01"), ROUND_HALF_UP)


def test_actual_day_counts_follow_the_calendar():
    terms = loan(date(2024, 1, 31), 3, day_count=DayCount.ACT_360)
    february, march = build_schedule(terms).installments[:2]
    assert february.interest == D("116.00")  # 29 days / 360 on 12,000
    assert march.interest == (february.balance_after * D("0.12") * 31 / 360).quantize(
        D("0.01"), ROUND_HALF_UP)


@pytest.mark.parametrize(("start", "end", "days"), [
    (date(2024, 1, 31), date(2024, 2, 29), 29),
    (date(2024, 1, 30), date(2024, 3, 31), 60),  # D1 = 30 turns a D2 of 31 into 30
    (date(2024, 2, 29), date(2024, 3, 31), 32),  # bond basis: February ends are not special
    (date(2024, 1, 15), date(2024, 3, 1), 46),
])
def test_30_360_bond_basis(start, end, days):
    assert days_30_360(start, end) == days


def test_act_act_isda_splits_at_the_new_year():
    assert year_fraction(date(2023, 12, 15), date(2024, 1, 15), DayCount.ACT_ACT_ISDA) == \
        Fraction(17, 365) + Fraction(14, 366)
    assert year_fraction(date(2023, 1, 1), date(2025, 1, 1), DayCount.ACT_ACT_ISDA) == 2


def test_add_months_clips_to_month_length():
    assert add_months(date(2024, 1, 31), 1, 31) == date(2024, 2, 29)
    assert add_months(date(2024, 2, 29), 12, 31) == date(2025, 2, 28)
    assert add_months(date(2024, 11, 30), 3, 30) == date(2025, 2, 28)


HOLIDAYS = frozenset({date(2024, 10, d) for d in range(1, 8)})  # National Day week


def test_following_moves_a_due_date_off_weekends_and_holidays():
    assert adjust_to_business_day(date(2024, 6, 15), BusinessDayConvention.FOLLOWING,
                                  frozenset()) == date(2024, 6, 17)  # Saturday -> Monday
    assert adjust_to_business_day(date(2024, 10, 1), BusinessDayConvention.FOLLOWING,
                                  HOLIDAYS) == date(2024, 10, 8)


def test_modified_following_rolls_back_rather_than_into_next_month():
    # 31 Aug 2024 is a Saturday: following would be 2 Sep, so it rolls back to Friday 30 Aug.
    assert adjust_to_business_day(date(2024, 8, 31), BusinessDayConvention.MODIFIED_FOLLOWING,
                                  frozenset()) == date(2024, 8, 30)


def test_business_day_adjustment_moves_dates_but_not_amounts():
    unadjusted = loan(date(2024, 7, 1), 6)
    adjusted = replace(unadjusted, holidays=HOLIDAYS,
                       business_day_convention=BusinessDayConvention.FOLLOWING)
    plain, moved = build_schedule(unadjusted), build_schedule(adjusted)
    assert [i.due_date for i in moved.installments] == [
        date(2024, 8, 1), date(2024, 9, 2), date(2024, 10, 8), date(2024, 11, 1),
        date(2024, 12, 2), date(2025, 1, 1)]
    assert [i.accrual_end for i in moved.installments] == [i.due_date for i in plain.installments]
    assert [i[2:7] for i in moved.installments] == [i[2:7] for i in plain.installments]


def test_first_period_whose_interest_reaches_the_installment_pays_only_that_interest():
    # 164 days to the first quarterly date: 19.14 of interest against a ~15 installment. The
    # first installment pays the interest alone and the level is solved over the rest.
    terms = ScheduleTerms(principal=D("1000.00"), currency="CNY", annual_rate=D("0.0426"),
                          term_periods=118, method=Method.EQUAL_INSTALLMENT,
                          disbursement_date=date(2000, 1, 1), frequency=Frequency.QUARTERLY,
                          first_due_date=date(2000, 6, 13), day_count=DayCount.ACT_365_FIXED)
    installments = build_schedule(terms).installments
    assert (installments[0].principal, installments[0].interest) == (D("0.00"), D("19.14"))
    assert {i.total for i in installments[1:-1]} == {D("14.99")}
    assert installments[-1].balance_after == 0 < installments[-1].principal
