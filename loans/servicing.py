"""The pure servicing model of a loan: state in, (new state, GL movements, facts) out.

A movement is (debit role, credit role, minor units); the use cases map roles to the product's GL
accounts and post them through the ledger. Nothing here touches a database or a clock: the
business date is an argument. Every function keeps the sub-ledger invariants:

  principal            = sum of installments' unpaid principal
  interest + suspended = sum of installments' (interest accrued - interest paid)
  fee - charges        = sum of fallen-due installments' unpaid fees
"""
from __future__ import annotations

import calendar
import datetime as dt
from typing import NamedTuple
from decimal import ROUND_HALF_UP, Decimal

from ledger.money import format_amount, to_minor
from loans.delinquency import ClassificationPolicy, class_for, default_policy, provision_for
from loans.errors import AmountNotPositive, LoanClosed, NothingToWaive
from loans.products import AccountingBasis, AllocationOrder, Product
from loans.state import InstallmentState, LoanState, LoanStatus

Movement = tuple[str, str, int]


class Allocation(NamedTuple):
    penalty: int = 0
    fee: int = 0
    interest: int = 0
    principal: int = 0
    overpayment: int = 0

    @property
    def total(self) -> int:
        return self.penalty + self.fee + self.interest + self.principal + self.overpayment


class DayFacts(NamedTuple):
    """What close of business did to one loan on one date, for the loan's transaction history."""

    accrued: int = 0
    suspended: int = 0
    penalty: int = 0
    late_fees: int = 0
    fees_recognised: int = 0
    credit_applied: int = 0
    provision_change: int = 0
    entered_non_accrual: bool = False
    cured: bool = False


def _round(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def book(installments: tuple[InstallmentState, ...], currency: str) -> LoanState:
    principal = sum(i.principal for i in installments)
    return LoanState(currency=currency, status=LoanStatus.ACTIVE, installments=installments, principal=principal)


def disbursement_movements(financed: int, disbursed: int, fee: int) -> list[Movement]:
    assert financed == disbursed + fee and disbursed > 0 and fee >= 0, (financed, disbursed, fee)
    moves = [("loans_receivable", "bank", disbursed)]
    if fee:
        moves.append(("loans_receivable", "fee_income", fee))
    return moves


# ---------------------------------------------------------------- accrual and falling due


def _accrual_target(inst: InstallmentState, day: dt.date) -> int:
    end = min(inst.accrual_end, inst.due_date)
    if day >= end:
        return inst.interest
    span = (inst.accrual_end - inst.accrual_start).days
    elapsed = (day - inst.accrual_start).days
    if span <= 0 or elapsed <= 0:
        return 0
    # Half-up on integers: the cumulative amount is rounded, so the daily amounts sum exactly.
    return (2 * inst.interest * elapsed + span) // (2 * span)


def _recognises_income(state: LoanState, product: Product) -> bool:
    return product.accounting_basis is AccountingBasis.ACCRUAL and not state.non_accrual


def accrue_to(state: LoanState, product: Product, day: dt.date) -> tuple[LoanState, list[Movement], int, int]:
    """Bring every installment's interest accrual up to `day`; returns (state, moves, recognised, suspended)."""
    return _accrue(state, product, day, due_only=False)


def accrue_to_due(state: LoanState, product: Product, day: dt.date) -> tuple[LoanState, list[Movement], int, int]:
    """Accrue in full the interest of installments already due (a payment or COB may run ahead of accrual)."""
    return _accrue(state, product, day, due_only=True)


def _accrue(state: LoanState, product: Product, day: dt.date, *, due_only: bool) -> tuple[LoanState, list[Movement], int, int]:
    recognised = suspended = 0
    changed = list(state.installments)
    for index, inst in enumerate(changed):
        if (inst.due_date > day) if due_only else (inst.accrual_start >= day):
            break
        if inst.interest_accrued >= inst.interest:
            continue
        delta = (inst.interest if due_only else _accrual_target(inst, day)) - inst.interest_accrued
        if delta > 0:
            changed[index] = inst._replace(interest_accrued=inst.interest_accrued + delta)
            if _recognises_income(state, product):
                recognised += delta
            else:
                suspended += delta
    if not recognised and not suspended:
        return state, [], 0, 0
    state = state._replace(
        installments=tuple(changed),
        interest=state.interest + recognised,
        interest_suspended=state.interest_suspended + suspended,
    )
    moves = [("interest_receivable", "interest_income", recognised)] if recognised else []
    return state, moves, recognised, suspended


def recognise_due(state: LoanState, product: Product, day: dt.date) -> tuple[LoanState, list[Movement], int]:
    """Installments due on or before `day`: their interest is fully earned and their fee receivable."""
    state, moves, _, _ = accrue_to_due(state, product, day)
    fees = 0
    changed = list(state.installments)
    for index, inst in enumerate(changed):
        if inst.due_date > day:
            break
        if not inst.fee_recognised:
            changed[index] = inst._replace(fee_recognised=True)
            fees += inst.fee - inst.fee_paid
    if fees:
        state = state._replace(installments=tuple(changed), fee=state.fee + fees)
        moves.append(("fee_receivable", "fee_income", fees))
    elif changed != list(state.installments):
        state = state._replace(installments=tuple(changed))
    return state, moves, fees


# ---------------------------------------------------------------- payments


def apply_payment(
    state: LoanState, product: Product, amount: int, day: dt.date, source: str = "bank"
) -> tuple[LoanState, list[Movement], Allocation]:
    """Allocate a payment to what is due on `day` by the product's waterfall; the rest is a credit balance."""
    if amount <= 0:
        raise AmountNotPositive("a repayment must be a positive amount")
    if state.status is not LoanStatus.ACTIVE:
        raise LoanClosed(f"the loan is {state.status.value}; no repayment can be applied", status=state.status.value)
    state, moves, _ = recognise_due(state, product, day)
    state, paid_moves, allocation = _waterfall(state, product, amount, day, source)
    moves += paid_moves
    if allocation.overpayment:
        moves.append((source, "overpayments", allocation.overpayment))
        state = state._replace(overpayment=state.overpayment + allocation.overpayment)
    state, release = _close_if_settled(state)
    return state, moves + release, allocation


def _waterfall(
    state: LoanState, product: Product, amount: int, day: dt.date, source: str
) -> tuple[LoanState, list[Movement], Allocation]:
    left = amount
    moves: list[Movement] = []
    # Penalties, then loan-level charges (late fees, manual charges), come first in both orders.
    penalty = min(left, state.penalty + state.penalty_suspended)
    penalty_recognised = min(penalty, state.penalty)
    moves += _split(source, "penalty_receivable", "penalty_income", penalty_recognised, penalty - penalty_recognised)
    left -= penalty
    charges = min(left, state.charges)
    left -= charges
    due = [i for i, inst in enumerate(state.installments) if inst.due_date <= day and not inst.settled]
    if product.allocation_order is AllocationOrder.INSTALLMENT_BY_INSTALLMENT:
        plan = [(i, part) for i in due for part in ("fee", "interest", "principal")]
    else:
        plan = [(i, part) for part in ("fee", "interest", "principal") for i in due]
    installments = list(state.installments)
    paid = {"fee": 0, "interest": 0, "principal": 0}
    for index, part in plan:
        if not left:
            break
        inst = installments[index]
        take = min(left, getattr(inst, f"{part}_due"))
        if take:
            installments[index] = inst._replace(**{f"{part}_paid": getattr(inst, f"{part}_paid") + take})
            paid[part] += take
            left -= take
    interest_recognised = min(paid["interest"], state.interest)
    moves += _split(source, "interest_receivable", "interest_income", interest_recognised, paid["interest"] - interest_recognised)
    if charges + paid["fee"]:
        moves.append((source, "fee_receivable", charges + paid["fee"]))
    if paid["principal"]:
        moves.append((source, "loans_receivable", paid["principal"]))
    state = state._replace(installments=tuple(installments),
        penalty=state.penalty - penalty_recognised,
        penalty_suspended=state.penalty_suspended - (penalty - penalty_recognised),
        charges=state.charges - charges,
        fee=state.fee - charges - paid["fee"],
        interest=state.interest - interest_recognised,
        interest_suspended=state.interest_suspended - (paid["interest"] - interest_recognised),
        principal=state.principal - paid["principal"],
    )
    allocation = Allocation(penalty, charges + paid["fee"], paid["interest"], paid["principal"], left)
    return state, moves, allocation


def _split(source: str, receivable: str, income: str, from_receivable: int, from_suspended: int) -> list[Movement]:
    """Cash for recognised amounts clears the receivable; cash for suspended amounts is income now."""
    moves = []
    if from_receivable:
        moves.append((source, receivable, from_receivable))
    if from_suspended:
        moves.append((source, income, from_suspended))
    return moves


def _close_if_settled(state: LoanState) -> tuple[LoanState, list[Movement]]:
    """A loan with nothing left to pay is PAID_OFF, and the allowance held against it is released."""
    if state.principal == 0 and state.fee == 0 and state.penalty == 0 and state.penalty_suspended == 0 and all(
        inst.settled for inst in state.installments
    ):
        release = [("allowance", "write_off_expense", state.allowance)] if state.allowance else []
        return state._replace(status=LoanStatus.PAID_OFF, dpd=0, allowance=0, non_accrual=False), release
    return state, []


# ---------------------------------------------------------------- close of business


def days_past_due(state: LoanState, day: dt.date) -> int:
    """Days since the oldest installment that fell due before `day` and is still unpaid."""
    for inst in state.installments:
        if inst.due_date >= day:
            return 0
        if not inst.settled:
            return (day - inst.due_date).days
    return 0


def close_day(
    state: LoanState, product: Product, day: dt.date, policy: ClassificationPolicy = default_policy
) -> tuple[LoanState, list[Movement], DayFacts]:
    """One business date of one active loan: accrue, fall due, apply credit, age, penalise, classify."""
    assert state.status is LoanStatus.ACTIVE, state.status
    assert state.last_cob_date is None or day > state.last_cob_date, (state.last_cob_date, day)
    state, moves, accrued, suspended = accrue_to(state, product, day)
    state, due_moves, fees = recognise_due(state, product, day)
    moves += due_moves
    credit_applied = 0
    if state.overpayment and any(i.due_date <= day and not i.settled for i in state.installments):
        state, credit_moves, allocation = _waterfall(state, product, state.overpayment, day, "overpayments")
        credit_applied = state.overpayment - allocation.overpayment
        state = state._replace(overpayment=allocation.overpayment)
        moves += credit_moves
        state, release = _close_if_settled(state)
        moves += release
        if state.status is not LoanStatus.ACTIVE:
            return state._replace(last_cob_date=day), moves, DayFacts(accrued, suspended, 0, 0, fees, credit_applied)
    dpd = days_past_due(state, day)
    state, fee_moves, late_fees = _late_fees(state, product, day)
    state, penalty_moves, penalty = _penalty(state, product, day, dpd)
    moves += fee_moves + penalty_moves
    state, status_moves, entered, cured = _non_accrual(state, product, dpd)
    moves += status_moves
    state = _observe(state, day, dpd, policy)
    state, provision_moves, provision_change = _provision(state, dpd, policy)
    moves += provision_moves
    facts = DayFacts(accrued, suspended, penalty, late_fees, fees, credit_applied, provision_change, entered, cured)
    return state._replace(dpd=dpd, last_cob_date=day), moves, facts


def _late_fees(state: LoanState, product: Product, day: dt.date) -> tuple[LoanState, list[Movement], int]:
    if product.late_fee <= 0:
        return state, [], 0
    fee_minor = _minor(product.late_fee, product)
    changed, charged = list(state.installments), 0
    for index, inst in enumerate(changed):
        if inst.due_date >= day:
            break
        if not inst.settled and not inst.late_fee_charged and (day - inst.due_date).days > product.late_fee_grace_days:
            changed[index] = inst._replace(late_fee_charged=True)
            charged += fee_minor
    if not charged:
        return state, [], 0
    state = state._replace(installments=tuple(changed), fee=state.fee + charged, charges=state.charges + charged)
    return state, [("fee_receivable", "fee_income", charged)], charged


def _penalty(state: LoanState, product: Product, day: dt.date, dpd: int) -> tuple[LoanState, list[Movement], int]:
    if product.penalty_daily_rate <= 0 or dpd <= product.penalty_grace_days:
        return state, [], 0
    overdue_principal = sum(i.principal_due for i in state.installments if i.due_date < day)
    amount = _round(Decimal(overdue_principal) * product.penalty_daily_rate)
    if amount <= 0:
        return state, [], 0
    if _recognises_income(state, product):
        return state._replace(penalty=state.penalty + amount), [("penalty_receivable", "penalty_income", amount)], amount
    return state._replace(penalty_suspended=state.penalty_suspended + amount), [], amount


def _non_accrual(state: LoanState, product: Product, dpd: int) -> tuple[LoanState, list[Movement], bool, bool]:
    if not state.non_accrual and dpd > product.non_accrual_dpd:
        return state._replace(non_accrual=True), [], True, False
    if state.non_accrual and dpd <= product.non_accrual_dpd:
        moves: list[Movement] = []
        if product.accounting_basis is AccountingBasis.ACCRUAL:
            # Cured: what was accrued off the books while non-accrual is income again.
            if state.interest_suspended:
                moves.append(("interest_receivable", "interest_income", state.interest_suspended))
            if state.penalty_suspended:
                moves.append(("penalty_receivable", "penalty_income", state.penalty_suspended))
            state = state._replace(interest=state.interest + state.interest_suspended,
                penalty=state.penalty + state.penalty_suspended,
                interest_suspended=0,
                penalty_suspended=0,
            )
        return state._replace(non_accrual=False), moves, False, True
    return state, [], False, False


def _observe(state: LoanState, day: dt.date, dpd: int, policy: ClassificationPolicy) -> LoanState:
    """A restructured loan under observation: a missed payment restarts the period; once it has
    passed with the loan current, the classification floor lifts."""
    if state.class_floor is None:
        return state
    if dpd > 0:
        restarted = observation_end(state.installments, day, policy)
        if restarted > state.observation_ends_on:
            return state._replace(observation_ends_on=restarted)
        return state
    if day > state.observation_ends_on:
        return state._replace(class_floor=None)
    return state


def observation_end(installments: tuple, after: dt.date, policy: ClassificationPolicy) -> dt.date:
    """The end of an observation period that starts at the first repayment date after `after`:
    at least the policy's months and at least its repayment periods from that date."""
    due = [i.due_date for i in installments if i.due_date > after]
    if not due:
        return after
    start = due[0]
    by_periods = due[min(policy.restructure_observation_periods, len(due) - 1)]
    return max(_add_months(start, policy.restructure_observation_months), by_periods)


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _provision(state: LoanState, dpd: int, policy: ClassificationPolicy) -> tuple[LoanState, list[Movement], int]:
    target = provision_for(state.principal, class_for(dpd, policy, state.class_floor), policy)
    change = target - state.allowance
    if change == 0:
        return state, [], 0
    move = ("write_off_expense", "allowance", change) if change > 0 else ("allowance", "write_off_expense", -change)
    return state._replace(allowance=target), [move], change


def _minor(amount: Decimal, product: Product) -> int:
    return to_minor(amount, product.currency)


# ---------------------------------------------------------------- fees, waivers, payoff


def charge_fee(state: LoanState, amount: int) -> tuple[LoanState, list[Movement]]:
    if amount <= 0:
        raise AmountNotPositive("a fee must be a positive amount")
    require_active(state)
    return state._replace(fee=state.fee + amount, charges=state.charges + amount), [("fee_receivable", "fee_income", amount)]


def waive(state: LoanState, kind: str, amount: int) -> tuple[LoanState, list[Movement]]:
    """Waive fees (charges first, then fallen-due installment fees) or penalties, reversing their income."""
    if amount <= 0:
        raise AmountNotPositive("a waiver must be a positive amount")
    require_active(state)
    if kind == "PENALTY":
        available = state.penalty + state.penalty_suspended
        if amount > available:
            raise NothingToWaive(f"only {format_amount(available, state.currency)} {state.currency} of penalty is outstanding")
        recognised = min(amount, state.penalty)
        moves = [("penalty_income", "penalty_receivable", recognised)] if recognised else []
        return state._replace(penalty=state.penalty - recognised, penalty_suspended=state.penalty_suspended - (amount - recognised)), moves
    if amount > state.fee:
        raise NothingToWaive(f"only {format_amount(state.fee, state.currency)} {state.currency} of fees is outstanding")
    from_charges = min(amount, state.charges)
    left = amount - from_charges
    changed = list(state.installments)
    for index, inst in enumerate(changed):
        if not left:
            break
        if inst.fee_recognised and inst.fee_due:
            take = min(left, inst.fee_due)
            changed[index] = inst._replace(fee=inst.fee - take)
            left -= take
    assert left == 0, left
    state = state._replace(installments=tuple(changed), fee=state.fee - amount, charges=state.charges - from_charges)
    state, release = _close_if_settled(state)
    return state, [("fee_income", "fee_receivable", amount), *release]


def payoff_quote(state: LoanState, product: Product, day: dt.date) -> Allocation:
    """What settles the loan on `day`: all principal, interest earned to date, fees and penalties, less credit."""
    require_active(state)
    interest = 0
    for inst in state.installments:
        earned = inst.interest if inst.due_date <= day else max(inst.interest_accrued, _accrual_target(inst, day))
        interest += max(earned - inst.interest_paid, 0)
    fees = state.charges + sum(i.fee_due for i in state.installments if i.due_date <= day)
    quote = Allocation(state.penalty + state.penalty_suspended, fees, interest, state.principal, 0)
    return quote._replace(overpayment=-min(state.overpayment, quote.total))


def pay_off(state: LoanState, product: Product, amount: int, day: dt.date) -> tuple[LoanState, list[Movement], Allocation]:
    """Settle the whole loan on `day` from the borrower's credit, then `amount` of new cash.

    Interest stops at today's accrual and future fees are not owed; cash beyond the payoff amount
    stays as the borrower's credit balance (to refund).
    """
    needed = payoff_quote(state, product, day).total
    if amount < needed:
        raise AmountNotPositive(
            f"a payoff on {day} needs {format_amount(needed, state.currency)} {state.currency}, "
            f"got {format_amount(amount, state.currency)}"
        )
    state, moves, _, _ = accrue_to(state, product, day)
    state, due_moves, _ = recognise_due(state, product, day)
    moves += due_moves
    trimmed = tuple(
        inst if inst.due_date <= day else inst._replace(interest=max(inst.interest_accrued, inst.interest_paid), fee=inst.fee_paid)
        for inst in state.installments
    )
    credit = state.overpayment
    state = state._replace(installments=trimmed, overpayment=0)
    state, pay_moves, allocation = _waterfall(state, product, credit + amount, dt.date.max, "bank")
    owed = credit + amount - allocation.overpayment
    moves += _fund_from_credit(pay_moves, credit)
    cash_left = amount - max(owed - credit, 0)
    if cash_left:
        moves.append(("bank", "overpayments", cash_left))
    state = state._replace(overpayment=allocation.overpayment)
    state, release = _close_if_settled(state)
    return state, moves + release, allocation


def _fund_from_credit(moves: list[Movement], credit: int) -> list[Movement]:
    """Use the borrower's credit balance before new cash: re-source the first `credit` of the moves."""
    out: list[Movement] = []
    for debit_role, credit_role, amount in moves:
        from_credit = min(credit, amount)
        if from_credit:
            out.append(("overpayments", credit_role, from_credit))
            credit -= from_credit
        if amount - from_credit:
            out.append((debit_role, credit_role, amount - from_credit))
    return out


def require_active(state: LoanState) -> None:
    if state.status is not LoanStatus.ACTIVE:
        raise LoanClosed(f"the loan is {state.status.value}", status=state.status.value)
