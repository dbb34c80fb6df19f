"""Annualised rates: IRR of a schedule's cash flows, XIRR over dated flows, and the rate-cap check.

All in Decimal. The root finder is Newton from a close guess, falling back to bisection over a
bracket with a sign change; the answer is verified (NPV ~ 0) before it is returned, and a failure
raises RateNotFound instead of returning a rate that does not fit the flows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal, localcontext
from itertools import groupby
from typing import NamedTuple

from .errors import ErrorCode, RateNotFound, ScheduleInputError
from .rounding import DECIMAL_CONTEXT, decimal_precision
from .schedule import Schedule
from .validation import date_problem, decimal_problem

rate_places = 6
RATE_QUANTUM = Decimal(1).scaleb(-rate_places)
cash_flows_max = 100_000
newton_iterations_max = 60
bisection_iterations_max = 500
rate_tolerance = Decimal("1e-26")
rate_solution_places = 28
# NPV left over at the root, relative to the flows' gross size; far above 40-digit noise, far
# below anything that would move the sixth decimal of a rate.
npv_residual_max = Decimal("1e-18")
# Periodic rates tried when looking for a sign change; r must stay above -1.
_BRACKET_GRID = tuple(Decimal(x) for x in (
    "-0.999999", "-0.99", "-0.9", "-0.5", "-0.2", "0", "0.01", "0.05", "0.2", "0.5", "1", "3",
    "10", "100", "1000"))
# Below this |1 - v| the closed-form geometric sums cancel too many digits; sum term by term.
_CLOSED_FORM_MIN = Decimal("1e-6")
ZERO, ONE = Decimal(0), Decimal(1)


class CashFlowRun(NamedTuple):
    """`count` equal flows of `amount` at times start, start + 1, ... (in periods)."""

    amount: Decimal
    start: Decimal
    count: int


class RateCapCheck(NamedTuple):
    rate: Decimal  # the annualised rate, 6 places, rounded up (never understated)
    cap: Decimal
    exceeds: bool  # decided on the unrounded rate


def compress_flows(amounts: Sequence[Decimal], times: Sequence[Decimal]) -> list[CashFlowRun]:
    """Merge equal amounts one period apart into runs: a level annuity becomes two or three runs,
    so each Newton step costs a few powers instead of one per installment."""
    runs: list[CashFlowRun] = []
    amount, start, count, last = None, ZERO, 0, ZERO
    for value, time in zip(amounts, times):
        if count and value == amount and time - last == ONE:
            count += 1
        else:
            if count:
                runs.append(CashFlowRun(amount, start, count))
            amount, start, count = value, time, 1
        last = time
    if count:
        runs.append(CashFlowRun(amount, start, count))
    return runs


def _geometric_sums(v: Decimal, count: int) -> tuple[Decimal, Decimal]:
    """S = sum v**j and T = sum j * v**j for j in 0..count-1."""
    one_minus_v = ONE - v
    if count == 1:
        return ONE, ZERO
    if abs(one_minus_v) < _CLOSED_FORM_MIN:
        s = t = ZERO
        power = ONE
        for j in range(count):
            s += power
            t += j * power
            power *= v
        return s, t
    v_count = v ** count
    s = (ONE - v_count) / one_minus_v
    t = v * (ONE - count * v_count / v + (count - 1) * v_count) / (one_minus_v * one_minus_v)
    return s, t


def npv_and_slope(runs: Sequence[CashFlowRun], rate: Decimal) -> tuple[Decimal, Decimal]:
    """NPV at periodic `rate` and its derivative d NPV / d rate."""
    v = ONE / (ONE + rate)
    npv = weighted = ZERO
    for amount, start, count in runs:
        v_start = v ** start if start else ONE
        s, t = _geometric_sums(v, count)
        npv += amount * v_start * s
        weighted += amount * v_start * (start * s + t)
    return npv, -v * weighted


def _verified(runs: Sequence[CashFlowRun], rate: Decimal) -> bool:
    gross = sum((abs(run.amount) * run.count for run in runs), ZERO)
    return abs(npv_and_slope(runs, rate)[0]) <= gross * npv_residual_max


def _newton(runs: Sequence[CashFlowRun], guess: Decimal) -> Decimal | None:
    rate = guess
    for _ in range(newton_iterations_max):
        npv, slope = npv_and_slope(runs, rate)
        if npv == 0:
            return rate
        if slope == 0:
            return None
        step = npv / slope
        rate -= step
        if rate <= -ONE:
            return None
        if abs(step) <= rate_tolerance * max(ONE, abs(rate)):
            return rate
    return None


def _bisection(runs: Sequence[CashFlowRun], _guess: Decimal) -> Decimal | None:
    values = [(r, npv_and_slope(runs, r)[0]) for r in _BRACKET_GRID]
    for (lo, f_lo), (hi, f_hi) in zip(values, values[1:]):
        if f_lo == 0:
            return lo
        if (f_lo < 0) != (f_hi < 0):
            break
    else:
        return values[-1][0] if values[-1][1] == 0 else None
    for _ in range(bisection_iterations_max):
        mid = (lo + hi) / 2
        f_mid = npv_and_slope(runs, mid)[0]
        if f_mid == 0 or hi - lo <= rate_tolerance * max(ONE, abs(mid)):
            return mid
        if (f_mid < 0) == (f_lo < 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return None


def _trimmed(rate: Decimal) -> Decimal:
    """Drop digits below the solver's tolerance: noise, and without it 10 % is not == 0.1.
    An absurd rate (a fee on a one-day loan) keeps fewer places so its digits fit the context."""
    places = min(rate_solution_places, decimal_precision - 2 - max(rate.adjusted(), 0))
    return rate.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def solve_rate(runs: Sequence[CashFlowRun], guess: Decimal = Decimal("0.01")) -> Decimal:
    """The periodic rate at which the runs' NPV is zero."""
    if not any(run.amount > 0 for run in runs) or not any(run.amount < 0 for run in runs):
        raise RateNotFound("cash flows need at least one inflow and one outflow")
    for finder in (_newton, _bisection):
        candidate = finder(runs, guess)
        if candidate is not None and _verified(runs, candidate):
            return _trimmed(candidate)
    raise RateNotFound(
        "no rate in (-100 %, 100000 %) per period sets these cash flows' NPV to zero")


def _check_flows(values: Sequence[object], field: str) -> None:
    if len(values) > cash_flows_max:
        raise ScheduleInputError(field, ErrorCode.TOO_MANY_CASH_FLOWS,
                                 f"{len(values)} cash flows exceed {cash_flows_max}")
    for index, value in enumerate(values):
        problem = decimal_problem(f"{field}[{index}]", value)
        if problem is not None:
            raise ScheduleInputError(*problem)


def irr(values: Sequence[Decimal], guess: Decimal = Decimal("0.01")) -> Decimal:
    """Periodic IRR of flows at t = 0, 1, 2, ... (same sign convention as numpy_financial.irr)."""
    _check_flows(values, "values")
    with localcontext(DECIMAL_CONTEXT):
        times = [Decimal(t) for t in range(len(values))]
        return solve_rate(compress_flows(values, times), guess)


def xirr(dated_flows: Sequence[tuple[date, Decimal]], guess: Decimal = Decimal("0.1")) -> Decimal:
    """Annual rate r with sum(amount / (1 + r) ** (days / 365)) == 0, days counted from the
    earliest date (ACT/365, as spreadsheet XIRR does)."""
    _check_flows([amount for _, amount in dated_flows], "dated_flows")
    for index, (day, _) in enumerate(dated_flows):
        problem = date_problem(f"dated_flows[{index}]", day)
        if problem is not None:
            raise ScheduleInputError(*problem)
    if not dated_flows:
        raise RateNotFound("no cash flows")
    with localcontext(DECIMAL_CONTEXT):
        first = min(day for day, _ in dated_flows)
        runs = [CashFlowRun(amount, Decimal((day - first).days) / 365, 1)
                for day, amount in dated_flows]
        return solve_rate(runs, guess)


def schedule_flow_runs(disbursed: Decimal, totals: Sequence[Decimal],
                       periods: Sequence[int] | None, first_period_length: Decimal,
                       ) -> list[CashFlowRun]:
    """Borrower's flows: +disbursed at 0, -total at the end of each installment's period.

    periods None means one installment per period, which lets equal totals group in C.
    """
    offset = first_period_length - 1
    runs = [CashFlowRun(disbursed, ZERO, 1)]
    if periods is None:
        start = first_period_length
        for total, group in groupby(totals):
            size = len(list(group))
            runs.append(CashFlowRun(-total, start, size))
            start += size
        return runs
    times = [offset + period for period in periods]
    return runs + [run._replace(amount=-run.amount) for run in compress_flows(totals, times)]


def schedule_periodic_rate(schedule: Schedule) -> Decimal:
    """Unrounded periodic IRR of a schedule (what the cap check compares)."""
    with localcontext(DECIMAL_CONTEXT):
        runs = schedule_flow_runs(
            schedule.disbursed_amount, [i.total for i in schedule.installments],
            schedule.installment_periods, schedule.first_period_length)
        guess = schedule.terms.annual_rate / schedule.periods_per_year
        return solve_rate(runs, guess)


def annualize(periodic_rate: Decimal, periods_per_year: int) -> tuple[Decimal, Decimal]:
    """(nominal, effective) annual rates, 6 places, rounded up so a disclosure never understates."""
    nominal = periodic_rate * periods_per_year
    effective = (ONE + periodic_rate) ** periods_per_year - ONE
    return round_rate(nominal), round_rate(effective)


def round_rate(rate: Decimal) -> Decimal:
    """6 places, ROUND_CEILING. A silly fee on a one-day loan can compound to an effective rate
    with more integer digits than the context holds, so widen the precision rather than fail."""
    with localcontext() as context:
        context.prec = max(context.prec, rate.adjusted() + rate_places + 2)
        return rate.quantize(RATE_QUANTUM, rounding=ROUND_CEILING)


def exceeds_rate_cap(schedule_or_rate: Schedule | Decimal, cap: Decimal) -> RateCapCheck:
    """Whether the all-in nominal annualised rate is above the cap (e.g. 0.24, or 4 x LPR)."""
    problem = decimal_problem("cap", cap)
    if problem is not None:
        raise ScheduleInputError(*problem)
    with localcontext(DECIMAL_CONTEXT):
        if isinstance(schedule_or_rate, Schedule):
            rate = schedule_periodic_rate(schedule_or_rate) * schedule_or_rate.periods_per_year
        else:
            problem = decimal_problem("rate", schedule_or_rate)
            if problem is not None:
                raise ScheduleInputError(*problem)
            rate = schedule_or_rate
        shown = round_rate(rate)
        return RateCapCheck(shown, cap, rate > cap)


def lpr_rate_cap(one_year_lpr: Decimal, multiple: int = 4) -> Decimal:
    """The court-protected ceiling for private lending: `multiple` x the one-year LPR."""
    problem = decimal_problem("one_year_lpr", one_year_lpr)
    if problem is not None:
        raise ScheduleInputError(*problem)
    with localcontext(DECIMAL_CONTEXT):
        return one_year_lpr * multiple
