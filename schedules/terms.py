"""Loan terms as dumb, immutable data, the enums they use, and the limits we accept.

Enum values equal their names so a GraphQL enum, a JSON string and the Python member are one thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

term_periods_max = 600
# 10**15 minor units is 10 trillion yuan: far beyond any single loan, and it keeps every
# balance x rate x day-fraction product exact within the package's decimal precision.
principal_minor_max = 10**15
# 1000 % a year; anything above is a typo, and the bound keeps the root finder's bracket finite.
annual_rate_max = Decimal(10)
annual_rate_places_max = 10
holidays_count_max = 20_000
# An irregular first period may be up to this many regular periods long.
first_period_periods_max = 2


class Method(StrEnum):
    EQUAL_INSTALLMENT = "EQUAL_INSTALLMENT"  # 等额本息
    EQUAL_PRINCIPAL = "EQUAL_PRINCIPAL"  # 等额本金
    INTEREST_ONLY = "INTEREST_ONLY"  # 先息后本
    BULLET = "BULLET"  # 一次性还本付息
    FLAT = "FLAT"


class Frequency(StrEnum):
    WEEKLY = "WEEKLY"
    BIWEEKLY = "BIWEEKLY"
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"


class DayCount(StrEnum):
    THIRTY_360 = "THIRTY_360"
    ACT_365_FIXED = "ACT_365_FIXED"
    ACT_360 = "ACT_360"
    ACT_ACT_ISDA = "ACT_ACT_ISDA"


class RoundingMode(StrEnum):
    HALF_UP = "HALF_UP"
    HALF_EVEN = "HALF_EVEN"
    HALF_DOWN = "HALF_DOWN"
    UP = "UP"
    DOWN = "DOWN"
    CEILING = "CEILING"
    FLOOR = "FLOOR"


class BusinessDayConvention(StrEnum):
    NONE = "NONE"
    FOLLOWING = "FOLLOWING"
    MODIFIED_FOLLOWING = "MODIFIED_FOLLOWING"


class FeeTreatment(StrEnum):
    DEDUCTED = "DEDUCTED"  # the borrower receives principal - fee
    FINANCED = "FINANCED"  # the borrower receives principal; the loan is principal + fee


periods_per_year = {
    Frequency.WEEKLY: 52,
    Frequency.BIWEEKLY: 26,
    Frequency.MONTHLY: 12,
    Frequency.QUARTERLY: 4,
}
# A step is either whole months (anchored on a day of month) or whole days.
step_months = {Frequency.MONTHLY: 1, Frequency.QUARTERLY: 3}
step_days = {Frequency.WEEKLY: 7, Frequency.BIWEEKLY: 14}

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleTerms:
    """What a borrower signed. Amounts in major units (Decimal); rates as fractions (0.049 = 4.9 %).

    first_due_date: default one period after disbursement.
    due_day_of_month: the day monthly/quarterly dates anchor on (default: the first due date's day
        if given, else the disbursement day); 31 means month-end.
    fixed_level_amount: fixes the level amount instead of solving for it: the installment for
        EQUAL_INSTALLMENT, the principal part for EQUAL_PRINCIPAL (used by reduce-term).
    """

    principal: Decimal
    currency: str
    annual_rate: Decimal
    term_periods: int
    method: Method
    disbursement_date: date
    frequency: Frequency = Frequency.MONTHLY
    first_due_date: date | None = None
    day_count: DayCount = DayCount.THIRTY_360
    grace_on_principal_periods: int = 0
    upfront_fee: Decimal = ZERO
    upfront_fee_treatment: FeeTreatment = FeeTreatment.DEDUCTED
    periodic_fee: Decimal = ZERO
    rounding_mode: RoundingMode = RoundingMode.HALF_UP
    installment_multiple: Decimal | None = None
    holidays: frozenset[date] = frozenset()
    business_day_convention: BusinessDayConvention = BusinessDayConvention.NONE
    due_day_of_month: int | None = None
    fixed_level_amount: Decimal | None = None


def financed_principal(terms: ScheduleTerms) -> Decimal:
    """The amount the borrower owes and the schedule amortises."""
    if terms.upfront_fee_treatment == FeeTreatment.FINANCED:
        return terms.principal + terms.upfront_fee
    return terms.principal


def disbursed_amount(terms: ScheduleTerms) -> Decimal:
    """The cash the borrower actually receives at disbursement."""
    if terms.upfront_fee_treatment == FeeTreatment.DEDUCTED:
        return terms.principal - terms.upfront_fee
    return terms.principal
