"""Pure amortization schedules: repayment methods, day counts, rounding, annualised rates.

Imports nothing from loanbook; stdlib Decimal arithmetic plus py-moneyed for minor units.
"""

from .amortization import build_schedule, level_installment
from .daycount import year_fraction
from .duedates import add_months, adjust_to_business_day
from .errors import ErrorCode, InputProblem, RateNotFound, ScheduleError, ScheduleInputError
from .rate import RateCapCheck, exceeds_rate_cap, irr, lpr_rate_cap, schedule_periodic_rate, xirr
from .parsing import parse_terms
from .regenerate import (
    PaymentHoliday,
    PrepaymentMode,
    apply_payment_holiday,
    regenerate_after_prepayment,
    restructure,
)
from .rounding import currency_exponent, minor_unit
from .schedule import Installment, Schedule
from .terms import (
    BusinessDayConvention,
    DayCount,
    FeeTreatment,
    Frequency,
    Method,
    RoundingMode,
    ScheduleTerms,
    annual_rate_max,
    principal_minor_max,
    term_periods_max,
)
from .validation import check_terms

__all__ = [
    "BusinessDayConvention", "DayCount", "ErrorCode", "FeeTreatment", "Frequency", "InputProblem",
    "Installment", "Method", "RateCapCheck", "RateNotFound", "RoundingMode", "Schedule",
    "ScheduleError", "ScheduleInputError", "ScheduleTerms", "add_months",
    "adjust_to_business_day", "annual_rate_max", "build_schedule", "check_terms",
    "currency_exponent", "exceeds_rate_cap", "irr", "level_installment", "lpr_rate_cap",
    "minor_unit", "principal_minor_max", "schedule_periodic_rate", "term_periods_max",
    "xirr", "year_fraction", "parse_terms", "PaymentHoliday", "PrepaymentMode",
    "apply_payment_holiday", "regenerate_after_prepayment", "restructure",
]
