"""Annualised rates: fees raise the IRR above the nominal rate, XIRR, the rate-cap check."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import ROUND_CEILING
from decimal import Decimal as D

import numpy_financial as npf
import pytest

from schedules import (
    FeeTreatment,
    Method,
    RateNotFound,
    ScheduleInputError,
    ScheduleTerms,
    build_schedule,
    exceeds_rate_cap,
    irr,
    lpr_rate_cap,
    schedule_periodic_rate,
    xirr,
)

LOAN = ScheduleTerms(principal=D("10000"), currency="CNY", annual_rate=D("0.12"), term_periods=12,
                     method=Method.EQUAL_INSTALLMENT, disbursement_date=date(2024, 1, 15))


def ceiling_6(value: float) -> D:
    return D(repr(value)).quantize(D("0.000001"), rounding=ROUND_CEILING)


def test_fee_free_annuity_discloses_its_nominal_and_effective_rate():
    schedule = build_schedule(LOAN)
    periodic = npf.irr([10000.0] + [-float(i.total) for i in schedule.installments])
    # 888.49 is rounded up from 888.4879, so the true cost sits a hair above 12 %; disclosed
    # rates are rounded up to 6 places so they never understate it.
    assert schedule.annualized_rate == ceiling_6(periodic * 12) == D("0.120002")
    assert schedule.effective_annual_rate == ceiling_6((1 + periodic) ** 12 - 1) == D("0.126827")


def test_deducted_fee_raises_the_annualised_rate_to_the_irr_of_the_cash_received():
    # 200 deducted: the borrower gets 9,800 and repays 888.49 x 11 + 888.47.
    schedule = build_schedule(replace(LOAN, upfront_fee=D("200")))
    flows = [9800.0] + [-float(i.total) for i in schedule.installments]
    assert abs(schedule_periodic_rate(schedule) * 12 - D(repr(npf.irr(flows) * 12))) < D("1e-9")
    assert schedule.annualized_rate == ceiling_6(npf.irr(flows) * 12) == D("0.158547")


def test_financed_fee_also_raises_the_rate_but_less_than_deducting_it():
    deducted = build_schedule(replace(LOAN, upfront_fee=D("200")))
    financed = build_schedule(replace(LOAN, upfront_fee=D("200"),
                                      upfront_fee_treatment=FeeTreatment.FINANCED))
    assert D("0.12") < financed.annualized_rate < deducted.annualized_rate


def test_periodic_fee_counts_in_the_annualised_rate():
    schedule = build_schedule(replace(LOAN, periodic_fee=D("10")))
    assert schedule.annualized_rate > D("0.14")


def test_24_percent_cap():
    assert not exceeds_rate_cap(build_schedule(LOAN), D("0.24")).exceeds
    check = exceeds_rate_cap(build_schedule(replace(LOAN, annual_rate=D("0.36"))), D("0.24"))
    assert check.exceeds and check.rate == D("0.360000") and check.cap == D("0.24")


def test_four_times_lpr_cap_catches_a_low_rate_with_a_heavy_fee():
    cap = lpr_rate_cap(D("0.0345"))
    assert cap == D("0.1380")
    assert not exceeds_rate_cap(build_schedule(LOAN), cap).exceeds
    with_fee = build_schedule(replace(LOAN, upfront_fee=D("300")))
    assert exceeds_rate_cap(with_fee, cap).exceeds


def test_cap_compares_the_unrounded_rate_and_shows_it_rounded_up():
    assert exceeds_rate_cap(D("0.24"), D("0.24")) == (D("0.240000"), D("0.24"), False)
    assert exceeds_rate_cap(D("0.2400000001"), D("0.24")) == (D("0.240001"), D("0.24"), True)
    with pytest.raises(ScheduleInputError) as caught:
        exceeds_rate_cap(D("0.2"), 0.24)
    assert (caught.value.field, caught.value.code) == ("cap", "FLOAT_REFUSED")


def test_xirr_matches_the_published_spreadsheet_example():
    # The XIRR example in Microsoft's Excel documentation: 0.373362535 (37.34 %). Excel stops
    # at a 1e-8 tolerance; the exact root is 0.37336253351883...
    flows = [(date(2008, 1, 1), D("-10000")), (date(2008, 3, 1), D("2750")),
             (date(2008, 10, 30), D("4250")), (date(2009, 2, 15), D("3250")),
             (date(2009, 4, 1), D("2750"))]
    rate = xirr(flows)
    assert abs(rate - D("0.373362535")) < D("1e-8")
    assert round(rate, 14) == D("0.37336253351883")


def test_irr_of_simple_flows():
    assert irr([D(-100), D(110)]) == D("0.1")
    flows = [D(-5000), D(1200), D(1300), D(1400), D(1500), D(200)]
    assert abs(float(irr(flows)) - npf.irr([float(f) for f in flows])) < 1e-12


def test_bisection_takes_over_when_newton_leaves_the_domain():
    # From a guess of 500 %, Newton's first step jumps below -100 %; bisection still finds 50 %.
    assert irr([D(-1000), D(1500)], guess=D(5)) == D("0.5")


@pytest.mark.parametrize("flows", [
    [D(100), D(50)],  # nothing paid back: no rate exists
    [D(1), D(-1), D(1)],  # NPV = 1 - v + v**2 > 0 for every rate
])
def test_a_rate_that_does_not_exist_is_reported_not_invented(flows):
    with pytest.raises(RateNotFound) as caught:
        irr(flows)
    assert caught.value.code == "RATE_NOT_FOUND"


def test_cash_flows_refuse_floats():
    with pytest.raises(ScheduleInputError) as caught:
        irr([D(-100), 110.0])
    assert (caught.value.field, caught.value.code) == ("values[1]", "FLOAT_REFUSED")


def test_xirr_without_flows_says_so():
    with pytest.raises(RateNotFound):
        xirr([])
