"""Annuities against numpy-financial (float): ours must agree within one minor unit."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

import numpy as np
import numpy_financial as npf
import pytest

from schedules import Method, ScheduleTerms, build_schedule, irr, schedule_periodic_rate

LOANS = [
    ("10000", "0.12", 12),
    ("12000", "0.24", 4),
    ("80000", "0.06", 60),
    ("5000", "0.2399", 36),
    ("123456.78", "0.0888", 120),
    ("250000", "0.0365", 240),
    ("1000000", "0.049", 360),
    ("3500000", "0.0441", 300),
]
CENT = 0.01 + 1e-9  # one minor unit, plus float noise


def annuity(principal: str, rate: str, periods: int) -> ScheduleTerms:
    return ScheduleTerms(principal=D(principal), currency="CNY", annual_rate=D(rate),
                         term_periods=periods, method=Method.EQUAL_INSTALLMENT,
                         disbursement_date=date(2024, 3, 10))


@pytest.mark.parametrize(("principal", "rate", "periods"), LOANS)
def test_installment_is_numpy_pmt_rounded_half_up(principal, rate, periods):
    schedule = build_schedule(annuity(principal, rate, periods))
    pmt = -npf.pmt(float(rate) / 12, periods, float(principal))
    assert schedule.installments[0].total == D(str(float(pmt))).quantize(D("0.01"), ROUND_HALF_UP)


@pytest.mark.parametrize(("principal", "rate", "periods"), [x for x in LOANS if x[2] <= 120])
def test_interest_and_principal_match_ipmt_and_ppmt(principal, rate, periods):
    schedule = build_schedule(annuity(principal, rate, periods))
    r, per = float(rate) / 12, np.arange(1, periods + 1)
    ipmt = -npf.ipmt(r, per, periods, float(principal))
    ppmt = -npf.ppmt(r, per, periods, float(principal))
    # The last installment absorbs the rounding drift, so it is compared on the totals instead.
    for installment, i, p in zip(schedule.installments[:-1], ipmt, ppmt):
        assert abs(float(installment.interest) - i) <= CENT
        assert abs(float(installment.principal) - p) <= CENT
    assert abs(float(schedule.total_principal) - ppmt.sum()) <= 1e-6


@pytest.mark.parametrize(("principal", "rate", "periods"), LOANS)
def test_interest_matches_numpy_balance_under_our_rounded_installment(principal, rate, periods):
    # Over 30 years a rounded installment shifts the balance by a few yuan versus the unrounded
    # annuity; against numpy's balance for the *same* installment every period stays within 1 fen.
    schedule = build_schedule(annuity(principal, rate, periods))
    r = float(rate) / 12
    level = float(schedule.installments[0].total)
    for k, installment in enumerate(schedule.installments[:-1]):
        balance_before = npf.fv(r, k, level, -float(principal))
        assert abs(float(installment.interest) - r * balance_before) <= CENT


@pytest.mark.parametrize(("principal", "rate", "periods"), LOANS)
def test_schedule_irr_matches_numpy_irr(principal, rate, periods):
    schedule = build_schedule(annuity(principal, rate, periods))
    flows = [float(principal)] + [-float(i.total) for i in schedule.installments]
    assert abs(float(schedule_periodic_rate(schedule)) - npf.irr(flows)) < 1e-10


@pytest.mark.parametrize(("principal", "rate", "periods"), LOANS)
def test_level_installment_rate_matches_numpy_rate(principal, rate, periods):
    schedule = build_schedule(annuity(principal, rate, periods))
    level = schedule.installments[0].total
    ours = irr([D(principal)] + [-level] * periods)
    # numpy's Newton stops at a 1e-6 step, so its last digits are looser than ours.
    assert abs(float(ours) - npf.rate(periods, -float(level), float(principal), 0)) < 1e-9
