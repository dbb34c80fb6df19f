"""Due dates: the period grid, the month-end rule and business-day adjustment.

Month-end rule: monthly and quarterly dates anchor on one day of the month and are clipped to
short months, so a loan disbursed on 31 January falls due 28/29 Feb, 31 Mar, 30 Apr, 31 May: each
date is computed from the first due date, never from the previous (clipped) one.

Business-day adjustment moves the date the borrower pays, not the accrual grid: interest accrues
to the unadjusted date (ISDA "unadjusted" practice), so a holiday never changes an amount.
"""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

from .daycount import days_30_360, is_leap_year, year_fraction
from .errors import ErrorCode, ScheduleInputError
from .terms import (
    BusinessDayConvention,
    DayCount,
    Frequency,
    ScheduleTerms,
    periods_per_year,
    step_days,
    step_months,
)

# Weekends are Saturday and Sunday; a holiday calendar adds dates on top.
weekend_days = frozenset({5, 6})
business_day_search_days_max = 366
period_grid_cache_size = 512

_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_ONE_DAY = timedelta(days=1)


def days_in_month(year: int, month: int) -> int:
    if month == 2 and is_leap_year(year):
        return 29
    return _MONTH_DAYS[month - 1]


def add_months(start: date, months: int, anchor_day: int) -> date:
    """The date `months` after `start`, on `anchor_day` clipped to the month's length."""
    years, month_index = divmod(start.month - 1 + months, 12)
    year, month = start.year + years, month_index + 1
    return date(year, month, min(anchor_day, days_in_month(year, month)))


def add_periods(start: date, periods: int, frequency: Frequency, anchor_day: int) -> date:
    if frequency in step_months:
        return add_months(start, periods * step_months[frequency], anchor_day)
    return start + timedelta(days=periods * step_days[frequency])


def anchor_day(terms: ScheduleTerms) -> int:
    """Day of month monthly/quarterly dates anchor on (31 = month-end); ignored for weekly steps."""
    if terms.due_day_of_month is not None:
        return terms.due_day_of_month
    if terms.first_due_date is not None:
        return terms.first_due_date.day
    return terms.disbursement_date.day


def first_due_date(terms: ScheduleTerms) -> date:
    if terms.first_due_date is not None:
        return terms.first_due_date
    return add_periods(terms.disbursement_date, 1, terms.frequency, anchor_day(terms))


def is_business_day(day: date, holidays: frozenset[date]) -> bool:
    return day.weekday() not in weekend_days and day not in holidays


def _roll(day: date, step: timedelta, holidays: frozenset[date]) -> date:
    for _ in range(business_day_search_days_max):
        if is_business_day(day, holidays):
            return day
        day += step
    raise ScheduleInputError(
        "holidays", ErrorCode.NO_BUSINESS_DAY,
        f"no business day within {business_day_search_days_max} days of {day.isoformat()}")


def adjust_to_business_day(day: date, convention: BusinessDayConvention,
                           holidays: frozenset[date]) -> date:
    """FOLLOWING rolls forward; MODIFIED_FOLLOWING rolls back if forward leaves the month."""
    if convention == BusinessDayConvention.NONE:
        return day
    following = _roll(day, _ONE_DAY, holidays)
    if convention == BusinessDayConvention.MODIFIED_FOLLOWING and following.month != day.month:
        return _roll(day, -_ONE_DAY, holidays)
    return following


class PeriodGrid(NamedTuple):
    """The accrual periods of a schedule. Period k runs from accrual_ends[k-1] (or disbursement)."""

    accrual_ends: tuple[date, ...]  # unadjusted due dates: interest accrues up to these
    due_dates: tuple[date, ...]  # business-day adjusted: the borrower pays on these
    year_fractions: tuple[Fraction, ...]  # per period, under the day count
    uniform_fraction: Fraction | None  # set when every period has the same fraction
    first_period_length: Fraction  # in regular periods (1 = regular), for IRR timing


def period_grid(terms: ScheduleTerms) -> PeriodGrid:
    return _period_grid(
        terms.disbursement_date, first_due_date(terms), terms.term_periods, terms.frequency,
        anchor_day(terms), terms.day_count, terms.holidays, terms.business_day_convention)


def _first_period(disbursed: date, first_due: date, frequency: Frequency,
                  anchor: int) -> tuple[bool, Fraction]:
    """Whether period 1 is a regular period, and its length measured in regular periods."""
    if frequency in step_months:
        months = step_months[frequency]
        on_grid = disbursed.day == min(anchor, days_in_month(disbursed.year, disbursed.month))
        regular = on_grid and first_due == add_months(disbursed, months, anchor)
        regular_start = add_months(first_due, -months, anchor)
    else:
        regular = (first_due - disbursed).days == step_days[frequency]
        regular_start = first_due - timedelta(days=step_days[frequency])
    if regular:
        return True, Fraction(1)
    return False, Fraction((first_due - disbursed).days, (first_due - regular_start).days)


@lru_cache(maxsize=period_grid_cache_size)
def _period_grid(disbursed: date, first_due: date, periods: int, frequency: Frequency,
                 anchor: int, day_count: DayCount, holidays: frozenset[date],
                 convention: BusinessDayConvention) -> PeriodGrid:
    # Cached because servicing and benchmarks build many loans on the same few dates; the grid
    # depends only on dates and conventions, never on amounts.
    ends = tuple(add_periods(first_due, k, frequency, anchor) for k in range(periods))
    regular_first, first_length = _first_period(disbursed, first_due, frequency, anchor)
    if day_count == DayCount.THIRTY_360:
        # Equal periods under 30/360: a month is exactly 1/12 of a year whatever its dates
        # (Feb 28 -> Mar 31 included); only an irregular first period is counted in 30/360 days.
        regular = Fraction(1, periods_per_year[frequency])
        first = regular if regular_first else Fraction(days_30_360(disbursed, first_due), 360)
        fractions = (first,) + (regular,) * (periods - 1)
    else:
        starts = (disbursed,) + ends[:-1]
        fractions = tuple(year_fraction(s, e, day_count) for s, e in zip(starts, ends))
    uniform = fractions[0] if fractions.count(fractions[0]) == len(fractions) else None
    if convention == BusinessDayConvention.NONE:
        due = ends
    else:
        due = tuple(adjust_to_business_day(d, convention, holidays) for d in ends)
    return PeriodGrid(ends, due, fractions, uniform, first_length)
