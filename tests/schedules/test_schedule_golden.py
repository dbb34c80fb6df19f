"""Golden schedules from published figures; each test states the loan and the exact amounts."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from schedules import FeeTreatment, Method, ScheduleInputError, ScheduleTerms, build_schedule, parse_terms


def loan(principal: str, rate: str, periods: int, method: Method = Method.EQUAL_INSTALLMENT,
         currency: str = "CNY", disbursed: date = date(2024, 1, 15), **more) -> ScheduleTerms:
    return ScheduleTerms(principal=D(principal), currency=currency, annual_rate=D(rate),
                         term_periods=periods, method=method, disbursement_date=disbursed, **more)


def test_10000_at_12_percent_for_12_months_pays_888_49_a_month():
    schedule = build_schedule(loan("10000", "0.12", 12))
    totals = [i.total for i in schedule.installments]
    assert totals[:11] == [D("888.49")] * 11
    assert totals[11] == D("888.47")  # the last installment absorbs the rounding
    first = schedule.installments[0]
    assert (first.interest, first.principal, first.balance_after) == (
        D("100.00"), D("788.49"), D("9211.51"))
    assert schedule.total_interest == D("661.86")
    assert schedule.total_payment == D("10661.86")


def test_fineract_12000_at_2_percent_a_month_for_4_months():
    # apache/fineract ClientLoanIntegrationTest.verifyLoanRepaymentSchedule: 12,000.00, 4 monthly
    # repayments, 2 % per period, declining balance, equal installments, disbursed 20 Sep 2011.
    schedule = build_schedule(loan("12000.00", "0.24", 4, disbursed=date(2011, 9, 20)))
    rows = [(i.due_date, i.principal, i.interest) for i in schedule.installments]
    assert rows == [
        (date(2011, 10, 20), D("2911.49"), D("240.00")),
        (date(2011, 11, 20), D("2969.72"), D("181.77")),
        (date(2011, 12, 20), D("3029.11"), D("122.38")),
        (date(2012, 1, 20), D("3089.68"), D("61.79")),
    ]


def test_one_million_yuan_30_year_mortgage_at_4_9_percent():
    schedule = build_schedule(loan("1000000", "0.049", 360))
    totals = {i.total for i in schedule.installments[:-1]}
    assert totals == {D("5307.27")}
    assert schedule.installments[0].interest == D("4083.33")
    assert schedule.installments[0].principal == D("1223.94")
    assert schedule.total_principal == D("1000000.00")


def test_one_million_yuan_equal_principal_first_month_6861_11_then_11_34_less():
    schedule = build_schedule(loan("1000000", "0.049", 360, Method.EQUAL_PRINCIPAL))
    first, second = schedule.installments[:2]
    assert (first.principal, first.interest, first.total) == (
        D("2777.78"), D("4083.33"), D("6861.11"))
    assert first.total - second.total == D("11.34")  # the published monthly decrease
    # Published total interest 737,041.67 = P r (n + 1) / 2; per-period rounding keeps us within
    # half a fen per period of it.
    assert abs(schedule.total_interest - D("737041.67")) <= D("0.005") * 360


def test_yen_loan_has_no_minor_unit():
    # 3,000,000 JPY at 1.5 % for 10 years: annuity 26,937 yen (26,936.6 before rounding).
    schedule = build_schedule(loan("3000000", "0.015", 120, currency="JPY"))
    assert schedule.installments[0].total == D("26937")
    assert schedule.installments[0].interest == D("3750")
    for installment in schedule.installments:
        for amount in (installment.principal, installment.interest, installment.balance_after):
            assert amount == amount.to_integral_value() and amount.as_tuple().exponent == 0


def test_kuwaiti_dinar_loan_rounds_to_three_decimals():
    # 5,000 KWD at 5 % for 24 months: annuity 219.357 (219.35695... before rounding).
    schedule = build_schedule(loan("5000", "0.05", 24, currency="KWD"))
    assert schedule.installments[0].total == D("219.357")
    assert schedule.installments[0].interest == D("20.833")
    assert all(i.interest.as_tuple().exponent == -3 for i in schedule.installments)


def test_flat_rate_10000_at_12_percent_for_12_months():
    schedule = build_schedule(loan("10000", "0.12", 12, Method.FLAT))
    assert schedule.total_interest == D("1200.00")
    assert {i.interest for i in schedule.installments} == {D("100.00")}
    assert [i.principal for i in schedule.installments] == [D("833.33")] * 11 + [D("833.37")]
    assert schedule.annualized_rate > D("0.21")  # flat 12 % costs about 21.5 % a year


def test_interest_only_pays_principal_with_the_last_installment():
    schedule = build_schedule(loan("100000", "0.06", 6, Method.INTEREST_ONLY))
    assert [i.total for i in schedule.installments] == [D("500.00")] * 5 + [D("100500.00")]


def test_bullet_pays_principal_and_simple_interest_once_at_maturity():
    schedule = build_schedule(loan("100000", "0.06", 12, Method.BULLET))
    (only,) = schedule.installments
    assert (only.due_date, only.principal, only.interest) == (
        date(2025, 1, 15), D("100000.00"), D("6000.00"))
    assert (only.accrual_start, only.accrual_end) == (date(2024, 1, 15), date(2025, 1, 15))
    assert schedule.annualized_rate == D("0.058411")  # 6 % simple over a year, compounded monthly


def test_installments_in_whole_yuan_and_tens_of_yuan():
    whole = build_schedule(loan("1000000", "0.049", 360, installment_multiple=D("1")))
    assert {i.total for i in whole.installments[:-1]} == {D("5307")}
    tens = build_schedule(loan("1000000", "0.049", 360, installment_multiple=D("10")))
    assert {i.total for i in tens.installments[:-1]} == {D("5310")}
    assert whole.total_principal == tens.total_principal == D("1000000.00")


def test_flat_5000_at_12_percent_for_18_months_in_whole_yuan_pays_328_then_324():
    # Apache Fineract's flat loans round the level installment to the multiple: 5,000.00 at 12 %
    # flat over 18 months is 900.00 of interest, 50.00 a month; (5,000 + 900) / 18 = 327.78 -> 328,
    # so 278.00 of principal a month and 274.00 left for the last installment (324).
    schedule = build_schedule(loan("5000", "0.12", 18, Method.FLAT, installment_multiple=D("1")))
    rows = [(i.principal, i.interest, i.total) for i in schedule.installments]
    assert rows == [(D("278.00"), D("50.00"), D("328.00"))] * 17 + [(D("274.00"), D("50.00"), D("324.00"))]
    assert (schedule.total_principal, schedule.total_interest) == (D("5000.00"), D("900.00"))
    assert schedule.installments[-1].balance_after == D("0.00")
    # Tens of yuan: 330 a month (280.00 of principal), 290 last (the 240.00 left + 50.00).
    tens = build_schedule(loan("5000", "0.12", 18, Method.FLAT, installment_multiple=D("10")))
    assert [i.total for i in tens.installments] == [D("330.00")] * 17 + [D("290.00")]


def test_an_equal_principal_schedule_refuses_an_installment_multiple():
    with pytest.raises(ScheduleInputError) as refused:
        parse_terms(principal="5000", currency="CNY", annual_rate="0.12", term_periods=18, method="EQUAL_PRINCIPAL",
                    disbursement_date="2024-01-15", installment_multiple="1")
    [problem] = refused.value.problems
    assert (problem.field, problem.code.value) == ("installment_multiple", "MULTIPLE_NOT_APPLICABLE")
    assert "EQUAL_PRINCIPAL installment is not level" in problem.message


def test_grace_pays_interest_only_then_the_annuity_runs_over_the_rest():
    schedule = build_schedule(loan("10000", "0.12", 15, grace_on_principal_periods=3))
    assert [i.total for i in schedule.installments[:3]] == [D("100.00")] * 3
    assert {i.total for i in schedule.installments[3:-1]} == {D("888.49")}


def test_periodic_fee_is_added_to_every_installment():
    schedule = build_schedule(loan("10000", "0.12", 12, periodic_fee=D("5")))
    assert {i.fee for i in schedule.installments} == {D("5.00")}
    assert schedule.installments[0].total == D("893.49")
    assert schedule.total_fees == D("60.00")


def test_financed_fee_is_amortised_and_deducted_fee_is_not():
    deducted = build_schedule(loan("10000", "0.12", 12, upfront_fee=D("200")))
    assert (deducted.disbursed_amount, deducted.financed_principal) == (
        D("9800.00"), D("10000.00"))
    financed = build_schedule(replace(deducted.terms, upfront_fee_treatment=FeeTreatment.FINANCED))
    assert (financed.disbursed_amount, financed.financed_principal) == (D("10000"), D("10200.00"))
    assert financed.installments[0].total == D("906.26")
