"""Loan servicing scenarios on the pure servicing model: each states the loan, the events and the exact lines."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from loans import servicing, write_offs
from loans.booking import Application, installments_from, schedule_for
from loans.errors import AmountNotPositive, LoanClosed, NothingToWaive, OutsideProductRange
from loans.products import AccountingBasis, AllocationOrder, parse_product
from loans.servicing import Allocation
from loans.state import LoanStatus

D = dt.date


def product(**overrides):
    values = {"code": "CASH12", "name": "Cash loan", "currency": "CNY", "penalty_daily_rate": "0.0005",
              "late_fee": "50", "late_fee_grace_days": 3, **overrides}
    return parse_product(values)


def booked(p, principal="10000", rate="0.12", term=12, start=D(2026, 1, 15)):
    schedule = schedule_for(p, Application(Decimal(principal), Decimal(rate), term, start))
    state = servicing.book(installments_from(schedule), p.currency)
    return schedule, state._replace(last_cob_date=start)


def run_cob(state, p, until):
    moves = []
    day = state.last_cob_date + dt.timedelta(days=1)
    while day <= until and state.status is LoanStatus.ACTIVE:
        state, day_moves, _ = servicing.close_day(state, p, day)
        moves += day_moves
        day += dt.timedelta(days=1)
    return state, moves


def total(moves, debit, credit):
    return sum(a for d, c, a in moves if (d, c) == (debit, credit))


def test_disbursement_with_a_deducted_origination_fee():
    p = product(origination_fee_rate="0.02")
    schedule, state = booked(p)
    assert schedule.disbursed_amount == Decimal("9800.00") and schedule.financed_principal == Decimal("10000")
    assert servicing.disbursement_movements(1000000, 980000, 20000) == [
        ("loans_receivable", "bank", 980000), ("loans_receivable", "fee_income", 20000),
    ]
    assert state.principal == 1000000 and sum(i.principal for i in state.installments) == 1000000


def test_annuity_on_time_payment_accrues_daily_and_clears_exactly():
    p = product()
    _, state = booked(p)
    assert [i.principal + i.interest for i in state.installments[:11]] == [88849] * 11
    state, moves = run_cob(state, p, D(2026, 2, 15))
    # Interest of the first month (100.00) is accrued day by day and sums exactly to the installment's.
    assert total(moves, "interest_receivable", "interest_income") == 10000
    assert state.interest == 10000 and state.dpd == 0
    state, moves, allocation = servicing.apply_payment(state, p, 88849, D(2026, 2, 15))
    assert moves == [("bank", "interest_receivable", 10000), ("bank", "loans_receivable", 78849)]
    assert allocation == servicing.Allocation(0, 0, 10000, 78849, 0)
    assert state.principal == 1000000 - 78849 and state.interest == 0


def test_late_payment_charges_late_fee_and_penalty_then_waterfall_pays_them_first():
    p = product()
    _, state = booked(p)
    state, moves = run_cob(state, p, D(2026, 2, 20))  # 5 days late; late fee after 3 grace days
    assert state.dpd == 5
    assert total(moves, "fee_receivable", "fee_income") == 5000
    # Penalty 0.05 % a day on overdue principal 788.49: 0.39 a day for 5 days.
    assert total(moves, "penalty_receivable", "penalty_income") == 5 * 39
    state, moves, allocation = servicing.apply_payment(state, p, 100000, D(2026, 2, 21))
    assert allocation == servicing.Allocation(penalty=195, fee=5000, interest=10000, principal=78849, overpayment=100000 - 195 - 5000 - 88849)
    assert ("bank", "penalty_receivable", 195) in moves and ("bank", "fee_receivable", 5000) in moves
    assert ("bank", "overpayments", allocation.overpayment) in moves
    assert state.dpd == 5  # aging is recomputed at the next close of business
    state, _ = run_cob(state, p, D(2026, 2, 22))
    assert state.dpd == 0 and state.overpayment == allocation.overpayment


def test_partial_payment_leaves_the_installment_overdue():
    p = product(late_fee="0")
    _, state = booked(p)
    state, _ = run_cob(state, p, D(2026, 2, 15))
    state, moves, allocation = servicing.apply_payment(state, p, 30000, D(2026, 2, 15))
    assert allocation.interest == 10000 and allocation.principal == 20000
    state, _ = run_cob(state, p, D(2026, 3, 1))
    assert state.dpd == 14 and state.installments[0].principal_due == 58849


def test_installment_by_installment_order_settles_the_oldest_first():
    p = product(allocation_order="INSTALLMENT_BY_INSTALLMENT", late_fee="0", penalty_daily_rate="0")
    _, state = booked(p)
    state, _ = run_cob(state, p, D(2026, 3, 16))  # two installments overdue
    horizontal = product(late_fee="0", penalty_daily_rate="0")
    vertical_state, _, vertical = servicing.apply_payment(state, p, 30000, D(2026, 3, 16))
    assert vertical == servicing.Allocation(interest=10000, principal=20000)
    assert vertical_state.installments[1].interest_paid == 0
    horizontal_state, _, _ = servicing.apply_payment(state, horizontal, 30000, D(2026, 3, 16))
    assert horizontal_state.installments[1].interest_paid == state.installments[1].interest  # interest of both first


def test_overpayment_credit_is_applied_when_the_next_installment_falls_due():
    p = product()
    _, state = booked(p)
    state, moves, allocation = servicing.apply_payment(state, p, 50000, D(2026, 1, 20))
    assert allocation.overpayment == 50000 and moves == [("bank", "overpayments", 50000)]
    state, moves = run_cob(state, p, D(2026, 2, 15))
    assert total(moves, "overpayments", "interest_receivable") == 10000
    assert total(moves, "overpayments", "loans_receivable") == 40000
    assert state.overpayment == 0 and state.installments[0].principal_due == 78849 - 40000


def test_non_accrual_suspends_income_and_cure_recognises_it():
    p = product(non_accrual_dpd=30, late_fee="0")
    _, state = booked(p)
    state, _ = run_cob(state, p, D(2026, 3, 18))  # 31 days past due
    assert state.non_accrual and state.dpd == 31
    state, moves = run_cob(state, p, D(2026, 3, 25))
    assert total(moves, "interest_receivable", "interest_income") == 0
    assert total(moves, "penalty_receivable", "penalty_income") == 0
    assert state.interest_suspended > 0 and state.penalty_suspended > 0
    suspended_penalty = state.penalty_suspended
    owed = servicing.payoff_quote(state, p, D(2026, 3, 25))
    # Paying both overdue installments cures the loan; the suspended interest becomes income.
    state, moves, _ = servicing.apply_payment(state, p, owed.penalty + owed.fee + 2 * 88849, D(2026, 3, 25))
    # Cash for what was accrued off the books is income on receipt, not a receivable cleared.
    assert total(moves, "bank", "penalty_income") == suspended_penalty
    state, cure = run_cob(state, p, D(2026, 3, 26))
    assert not state.non_accrual and state.dpd == 0
    assert state.interest_suspended == 0 and state.penalty_suspended == 0
    assert total(cure, "interest_receivable", "interest_income") > 0  # the current period's suspended accrual
    assert state.interest == sum(i.interest_accrued - i.interest_paid for i in state.installments)


def test_provisions_follow_the_five_tier_class():
    p = product(late_fee="0", penalty_daily_rate="0")
    _, state = booked(p)
    state, moves = run_cob(state, p, D(2026, 1, 16))
    assert state.allowance == 10000  # normal: 1 % of 10,000.00
    state, moves = run_cob(state, p, D(2026, 2, 16))  # 1 day past due: special mention, 2 %
    assert state.allowance == 20000 and total(moves, "write_off_expense", "allowance") == 10000
    state, _ = run_cob(state, p, D(2026, 5, 17))  # 91 days: substandard, 25 %
    assert state.dpd == 91 and state.allowance == 250000


def test_write_off_uses_the_allowance_then_recovery_is_income():
    p = product(late_fee="0", penalty_daily_rate="0")
    _, state = booked(p)
    state, _ = run_cob(state, p, D(2026, 5, 17))
    interest = state.interest
    state, moves, written = write_offs.write_off(state)
    assert written.allocation == Allocation(interest=interest, principal=1000000) and written.from_allowance == 250000
    assert moves == [
        ("allowance", "loans_receivable", 250000),
        ("write_off_expense", "loans_receivable", 750000),
        ("write_off_expense", "interest_receivable", interest),
    ]
    assert state.status is LoanStatus.WRITTEN_OFF and state.principal == 0 and state.written_off == 1000000
    with pytest.raises(LoanClosed):
        servicing.apply_payment(state, p, 100, D(2026, 5, 18))
    state, moves, allocation = write_offs.recovery(state, 100000)
    assert moves == [("bank", "recoveries", 100000)] and state.recovered == 100000 and allocation == Allocation(principal=100000)


def test_payoff_stops_interest_at_today_and_closes_the_loan():
    p = product()
    _, state = booked(p)
    state, _ = run_cob(state, p, D(2026, 2, 15))
    state, _, _ = servicing.apply_payment(state, p, 88849, D(2026, 2, 15))
    state, _ = run_cob(state, p, D(2026, 3, 1))
    quote = servicing.payoff_quote(state, p, D(2026, 3, 1))
    # 14 of the 28 days of March's period: half of 92.12 interest.
    assert quote == servicing.Allocation(principal=921151, interest=4606)
    state, moves, allocation = servicing.pay_off(state, p, quote.total, D(2026, 3, 1))
    assert state.status is LoanStatus.PAID_OFF and state.principal == 0 and state.interest == 0
    assert ("bank", "loans_receivable", 921151) in moves
    assert ("allowance", "write_off_expense", 9212) in moves  # the provision is released
    with pytest.raises(AmountNotPositive):
        servicing.pay_off(servicing.book(state.installments, "CNY"), p, 1, D(2026, 3, 1))


def test_equal_principal_and_interest_only_products_service_the_same_way():
    for method in ("EQUAL_PRINCIPAL", "INTEREST_ONLY", "BULLET", "FLAT"):
        p = product(method=method, late_fee="0", penalty_daily_rate="0")
        _, state = booked(p)
        assert sum(i.principal for i in state.installments) == 1000000
        due_date = state.installments[0].due_date
        state, _ = run_cob(state, p, due_date)
        first = state.installments[0]
        if first.principal + first.interest:
            state, _, allocation = servicing.apply_payment(state, p, first.principal + first.interest, due_date)
            assert allocation.overpayment == 0 and state.installments[0].settled


def test_fee_charge_and_waiver_reverse_income():
    p = product()
    _, state = booked(p)
    state, moves = servicing.charge_fee(state, 3000)
    assert moves == [("fee_receivable", "fee_income", 3000)]
    state, moves = servicing.waive(state, "FEE", 1000)
    assert moves == [("fee_income", "fee_receivable", 1000)] and state.fee == 2000
    with pytest.raises(NothingToWaive):
        servicing.waive(state, "FEE", 5000)
    with pytest.raises(NothingToWaive):
        servicing.waive(state, "PENALTY", 1)


def test_cash_basis_recognises_interest_only_when_paid():
    p = product(accounting_basis="CASH", late_fee="0", penalty_daily_rate="0")
    assert p.accounting_basis is AccountingBasis.CASH
    _, state = booked(p)
    state, moves = run_cob(state, p, D(2026, 2, 15))
    assert total(moves, "interest_receivable", "interest_income") == 0
    state, moves, _ = servicing.apply_payment(state, p, 88849, D(2026, 2, 15))
    assert moves == [("bank", "interest_income", 10000), ("bank", "loans_receivable", 78849)]


def test_product_ranges_are_enforced():
    p = product(amount_max="5000")
    with pytest.raises(OutsideProductRange):
        schedule_for(p, Application(Decimal("10000"), Decimal("0.12"), 12, D(2026, 1, 1)))
    assert p.allocation_order is AllocationOrder.PENALTY_FEE_INTEREST_PRINCIPAL
