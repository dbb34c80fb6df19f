"""Day-count conventions as exact year fractions.

Fractions are returned as `fractions.Fraction` so callers can multiply balance x rate x numerator
exactly and divide once; rounding then happens exactly once, at the minor unit.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from .terms import DayCount


def is_leap_year(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_year(year: int) -> int:
    return 366 if is_leap_year(year) else 365


def days_30_360(start: date, end: date) -> int:
    """30/360 Bond Basis (ISDA 2006 s4.16(f)), the variant most loan systems call plain 30/360."""
    d1 = min(start.day, 30)
    d2 = end.day
    if d2 == 31 and d1 == 30:
        d2 = 30
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)


def _act_act_isda(start: date, end: date) -> Fraction:
    # ISDA splits the period at each 1 January and divides each part by its own year's length.
    if start.year == end.year:
        return Fraction((end - start).days, days_in_year(start.year))
    head = Fraction((date(start.year + 1, 1, 1) - start).days, days_in_year(start.year))
    tail = Fraction((end - date(end.year, 1, 1)).days, days_in_year(end.year))
    return head + (end.year - start.year - 1) + tail


def year_fraction(start: date, end: date, day_count: DayCount) -> Fraction:
    """The fraction of a year between two dates under the convention (start <= end)."""
    assert start <= end, (start, end)
    if day_count == DayCount.THIRTY_360:
        return Fraction(days_30_360(start, end), 360)
    if day_count == DayCount.ACT_365_FIXED:
        return Fraction((end - start).days, 365)
    if day_count == DayCount.ACT_360:
        return Fraction((end - start).days, 360)
    if day_count == DayCount.ACT_ACT_ISDA:
        return _act_act_isda(start, end)
    raise AssertionError(f"unvalidated day count {day_count!r}")
