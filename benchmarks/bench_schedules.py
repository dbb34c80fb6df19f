"""Throughput of exact Decimal amortization against numpy-financial's vectorised floats.

Builds `--loans` EQUAL_INSTALLMENT schedules of `--periods` monthly periods with varying
principal, rate and disbursement date through the full public path (`build_schedule`:
validation, due dates, amortization, totals and the annualised-rate IRR), then computes the same
loans with numpy_financial.ipmt/ppmt over one loans x periods float array, and prints both
rates and their ratio. Schedules are dropped as they are built: the figure is throughput, not
how many schedules fit in memory.

    .venv/bin/python benchmarks/bench_schedules.py [--loans 10000] [--periods 360]
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import numpy_financial as npf

from schedules import Method, ScheduleTerms, build_schedule

agreement_sample_size = 200


def portfolio(loans: int, periods: int) -> list[ScheduleTerms]:
    """Deterministic spread: 10,000.00 .. ~2,000,000 yuan, 3.00 % .. 17.99 %, a year of dates."""
    start = date(2024, 1, 1)
    return [
        ScheduleTerms(
            principal=Decimal(10_000_00 + (n * 7_919_03) % 199_000_000).scaleb(-2),
            currency="CNY",
            annual_rate=Decimal(300 + (n * 37) % 1500).scaleb(-4),
            term_periods=periods,
            method=Method.EQUAL_INSTALLMENT,
            disbursement_date=start + timedelta(days=n % 365),
        )
        for n in range(loans)
    ]


def time_decimal(terms: list[ScheduleTerms]) -> tuple[float, int, list[Decimal]]:
    installments = 0
    levels = []
    began = time.perf_counter()
    for loan in terms:
        schedule = build_schedule(loan)
        installments += len(schedule.installments)
        if len(levels) < agreement_sample_size:
            levels.append(schedule.installments[0].total)
    return time.perf_counter() - began, installments, levels


def time_numpy(terms: list[ScheduleTerms], periods: int) -> tuple[float, np.ndarray]:
    # Inputs become floats before the clock starts: only the vectorised maths is timed.
    principal = np.array([float(t.principal) for t in terms])[:, None]
    rate = np.array([float(t.annual_rate) for t in terms])[:, None] / 12
    period = np.arange(1, periods + 1)[None, :]
    began = time.perf_counter()
    interest = -npf.ipmt(rate, period, periods, principal)
    principal_part = -npf.ppmt(rate, period, periods, principal)
    elapsed = time.perf_counter() - began
    assert interest.shape == principal_part.shape == (len(terms), periods)
    return elapsed, -npf.pmt(rate[:, 0], periods, principal[:, 0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loans", type=int, default=10_000)
    parser.add_argument("--periods", type=int, default=360)
    args = parser.parse_args()
    terms = portfolio(args.loans, args.periods)

    decimal_seconds, installments, levels = time_decimal(terms)
    numpy_seconds, pmt = time_numpy(terms, args.periods)
    ours = installments / decimal_seconds
    theirs = args.loans * args.periods / numpy_seconds
    agree = sum(level == Decimal(repr(float(p))).quantize(Decimal("0.01"), ROUND_HALF_UP)
                for level, p in zip(levels, pmt))

    print(f"loans x periods:                  {args.loans:,} x {args.periods}")
    print(f"schedules (exact Decimal):        {installments:,} installments in "
          f"{decimal_seconds:.2f} s = {ours:,.0f} installments/s")
    print(f"numpy-financial ipmt+ppmt (float): {args.loans * args.periods:,} installments in "
          f"{numpy_seconds:.3f} s = {theirs:,.0f} installments/s")
    print(f"ratio numpy / schedules:          {theirs / ours:.1f}x")
    print(f"installment == round(numpy pmt):  {agree}/{len(levels)} sampled loans")


if __name__ == "__main__":
    main()
