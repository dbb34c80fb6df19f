"""Re-generation from the outstanding principal: prepayment, payment holiday, restructure.

Scenario throughout: 1,000,000 CNY, 30 years at 4.9 %, disbursed 31 Jan 2024 (so due on month
ends), 12 installments paid, then the borrower does something.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

import pytest

from schedules import (
    Method,
    PrepaymentMode,
    ScheduleInputError,
    ScheduleTerms,
    apply_payment_holiday,
    build_schedule,
    regenerate_after_prepayment,
    restructure,
)

MORTGAGE = ScheduleTerms(principal=D("1000000"), currency="CNY", annual_rate=D("0.049"),
                         term_periods=360, method=Method.EQUAL_INSTALLMENT,
                         disbursement_date=date(2024, 1, 31))
ORIGINAL = build_schedule(MORTGAGE)
TWELFTH = ORIGINAL.installments[11]  # paid on 31 Jan 2025
AS_OF, OUTSTANDING = TWELFTH.accrual_end, TWELFTH.balance_after


def prepay(terms: ScheduleTerms, amount: str, mode: PrepaymentMode, as_of: date = AS_OF,
           outstanding: D = OUTSTANDING):
    return regenerate_after_prepayment(terms, as_of=as_of, outstanding_principal=outstanding,
                                       prepayment=D(amount), mode=mode)


def test_scenario_is_what_we_think():
    assert (AS_OF, OUTSTANDING) == (date(2025, 1, 31), D("984978.39"))


def test_reduce_installment_keeps_the_maturity_and_lowers_the_installment():
    schedule = prepay(MORTGAGE, "100000", PrepaymentMode.REDUCE_INSTALLMENT)
    assert len(schedule.installments) == 348
    assert schedule.installments[-1].due_date == ORIGINAL.installments[-1].due_date
    assert schedule.installments[0].due_date == date(2025, 2, 28)
    assert schedule.installments[1].due_date == date(2025, 3, 31)  # month-end rule survives
    assert schedule.installments[0].total == D("4768.45")
    assert schedule.total_principal == D("884978.39")


def test_reduce_term_keeps_the_installment_and_finishes_earlier():
    schedule = prepay(MORTGAGE, "100000", PrepaymentMode.REDUCE_TERM)
    totals = [i.total for i in schedule.installments]
    assert set(totals[:-1]) == {D("5307.27")}
    assert totals[-1] <= D("5307.27")
    assert len(schedule.installments) == 281
    assert schedule.total_principal == D("884978.39")


def test_reduce_term_twice_keeps_the_same_installment():
    first = prepay(MORTGAGE, "100000", PrepaymentMode.REDUCE_TERM)
    sixth = first.installments[5]
    second = prepay(first.terms, "50000", PrepaymentMode.REDUCE_TERM, sixth.accrual_end,
                    sixth.balance_after)
    assert {i.total for i in second.installments[:-1]} == {D("5307.27")}
    assert len(second.installments) < len(first.installments) - 6


def test_equal_principal_reduce_term_keeps_the_monthly_principal():
    terms = replace(MORTGAGE, method=Method.EQUAL_PRINCIPAL)
    twelfth = build_schedule(terms).installments[11]
    schedule = prepay(terms, "100000", PrepaymentMode.REDUCE_TERM, twelfth.accrual_end,
                      twelfth.balance_after)
    assert {i.principal for i in schedule.installments[:-1]} == {D("2777.78")}
    assert len(schedule.installments) == 312  # ceil(866,666.64 / 2,777.78)


def test_prepayment_inside_a_period_accrues_from_that_date():
    mid = date(2025, 2, 14)
    schedule = prepay(MORTGAGE, "100000", PrepaymentMode.REDUCE_INSTALLMENT, as_of=mid)
    first = schedule.installments[0]
    assert (first.accrual_start, first.due_date) == (mid, date(2025, 2, 28))
    # 30/360 from 14 Feb to 28 Feb is 14 days on the reduced balance.
    assert first.interest == (D("884978.39") * D("0.049") * 14 / 360).quantize(
        D("0.01"), rounding=ROUND_HALF_UP)
    assert len(schedule.installments) == 348


def test_payment_holiday_capitalises_interest_and_extends_maturity():
    holiday = apply_payment_holiday(MORTGAGE, as_of=AS_OF, outstanding_principal=OUTSTANDING,
                                    holiday_periods=3)
    assert holiday.skipped_due_dates == (date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30))
    balance = OUTSTANDING
    for _ in range(3):  # each month's interest joins the principal at its due date
        balance += (balance * D("0.049") / 12).quantize(D("0.01"), rounding=ROUND_HALF_UP)
    assert holiday.capitalised_interest == balance - OUTSTANDING == D("12115.33")
    schedule = holiday.schedule
    assert schedule.total_principal == balance
    assert schedule.installments[0].due_date == date(2025, 5, 31)
    assert schedule.installments[-1].due_date == date(2054, 4, 30)
    assert len(schedule.installments) == 348


def test_restructure_with_a_new_rate_and_term():
    schedule = restructure(MORTGAGE, as_of=AS_OF, outstanding_principal=OUTSTANDING,
                           annual_rate=D("0.0345"), term_periods=120)
    assert len(schedule.installments) == 120
    assert schedule.installments[0].due_date == date(2025, 2, 28)
    assert schedule.total_principal == OUTSTANDING
    assert schedule.annualized_rate == D("0.034501")


@pytest.mark.parametrize(("kwargs", "field", "code"), [
    ({"prepayment": D("984978.39")}, "prepayment", "PREPAYMENT_NOT_PARTIAL"),
    ({"prepayment": D("0")}, "prepayment", "AMOUNT_NOT_POSITIVE"),
    ({"prepayment": 100.0}, "prepayment", "FLOAT_REFUSED"),
    ({"prepayment": D("0.001")}, "prepayment", "AMOUNT_TOO_PRECISE"),
    ({"as_of": date(2023, 12, 31)}, "as_of", "AS_OF_OUT_OF_RANGE"),
    ({"as_of": date(2054, 1, 31)}, "as_of", "AS_OF_OUT_OF_RANGE"),
    ({"mode": "REDUCE_BOTH"}, "mode", "UNKNOWN_PREPAYMENT_MODE"),
])
def test_bad_prepayments_are_refused(kwargs, field, code):
    arguments = dict(as_of=AS_OF, outstanding_principal=OUTSTANDING, prepayment=D("1000"),
                     mode=PrepaymentMode.REDUCE_TERM)
    with pytest.raises(ScheduleInputError) as caught:
        regenerate_after_prepayment(MORTGAGE, **{**arguments, **kwargs})
    assert (caught.value.field, caught.value.code) == (field, code)


def test_reduce_term_needs_a_level_amount():
    bullet = ScheduleTerms(principal=D("10000"), currency="CNY", annual_rate=D("0.06"),
                           term_periods=12, method=Method.BULLET,
                           disbursement_date=date(2024, 1, 15))
    with pytest.raises(ScheduleInputError) as caught:
        regenerate_after_prepayment(bullet, as_of=date(2024, 3, 15),
                                    outstanding_principal=D("10000"), prepayment=D("1000"),
                                    mode=PrepaymentMode.REDUCE_TERM)
    assert caught.value.code == "MODE_NOT_APPLICABLE"


def test_payment_holiday_length_is_limited():
    with pytest.raises(ScheduleInputError) as caught:
        apply_payment_holiday(MORTGAGE, as_of=AS_OF, outstanding_principal=OUTSTANDING,
                              holiday_periods=0)
    assert (caught.value.field, caught.value.code) == ("holiday_periods", "HOLIDAY_OUT_OF_RANGE")
