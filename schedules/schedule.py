"""The schedule as data: one NamedTuple per installment and a frozen summary around them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from .terms import ScheduleTerms


class Installment(NamedTuple):
    number: int  # 1-based
    due_date: date  # business-day adjusted: when the borrower pays
    principal: Decimal
    interest: Decimal
    fee: Decimal  # periodic fee for the periods this installment covers
    total: Decimal  # principal + interest + fee
    balance_after: Decimal  # principal still owed once this installment is paid
    accrual_start: date  # interest runs from accrual_start to accrual_end (unadjusted dates)
    accrual_end: date


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """A repayment schedule and its totals.

    annualized_rate is the nominal annual IRR of the borrower's cash flows (periodic IRR x periods
    per year) and effective_annual_rate is (1 + periodic IRR) ** periods per year - 1; both are
    rounded to 6 places with ROUND_CEILING so a disclosed rate never understates the cost.
    """

    terms: ScheduleTerms
    installments: tuple[Installment, ...]
    financed_principal: Decimal  # what the schedule amortises (principal + a financed fee)
    disbursed_amount: Decimal  # cash the borrower receives (principal - a deducted fee)
    upfront_fee: Decimal
    total_principal: Decimal
    total_interest: Decimal
    total_fees: Decimal  # periodic fees only; the upfront fee is reported separately
    total_payment: Decimal  # sum of installment totals
    annualized_rate: Decimal
    effective_annual_rate: Decimal
    periods_per_year: int
    first_period_length: Decimal  # in regular periods; 1 unless the first period is irregular
    # The period each installment closes (1-based); a BULLET installment closes the last one.
    installment_periods: tuple[int, ...]
