"""Partial prepayment and restructuring: settle what is owed to date, then a new schedule. Pure.

Installments that fell due stay as they are; the installment in progress is cut at the date
(its interest becomes what accrued so far); the new schedule's installments follow it, numbered on.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

from ledger.money import from_minor
from loans import servicing
from loans.delinquency import ClassificationPolicy, LoanClass, class_for, default_policy, worse_class
from loans.servicing import Allocation, Movement
from loans.errors import AmountNotPositive, LoanError
from loans.products import Product
from loans.state import InstallmentState, LoanState, LoanStatus
from schedules import Method, Schedule, ScheduleError, ScheduleTerms
from schedules.regenerate import PrepaymentMode, regenerate_after_prepayment, restructure


class RestructureNotAllowed(LoanError):
    code = "RESTRUCTURE_NOT_ALLOWED"


def cut_at(state: LoanState, day: dt.date) -> tuple[tuple[InstallmentState, ...], tuple[InstallmentState, ...]]:
    """(kept installments, the future ones being replaced). The one in progress is closed at `day`."""
    kept, replaced = [], []
    for inst in state.installments:
        if inst.due_date <= day:
            kept.append(inst)
        elif inst.accrual_start < day:
            kept.append(inst._replace(principal=inst.principal_paid, interest=inst.interest_accrued, fee=inst.fee_paid,
                due_date=day, accrual_end=day, fee_recognised=True,
            ))
            replaced.append(inst)
        else:
            replaced.append(inst)
    return tuple(kept), tuple(replaced)


def renumbered(kept: tuple[InstallmentState, ...], schedule: Schedule, currency: str) -> tuple[InstallmentState, ...]:
    from ledger.money import to_minor

    start = len(kept)
    new = tuple(
        InstallmentState(
            number=start + i.number, due_date=i.due_date, accrual_start=i.accrual_start, accrual_end=i.accrual_end,
            principal=to_minor(i.principal, currency), interest=to_minor(i.interest, currency), fee=to_minor(i.fee, currency),
        )
        for i in schedule.installments
    )
    return kept + new


def prepay(
    state: LoanState, product: Product, terms: ScheduleTerms, amount: int, day: dt.date, mode: PrepaymentMode
) -> tuple[LoanState, list[Movement], Allocation, Schedule | None]:
    """Pay what is due and the interest accrued to `day`, then reduce principal; re-schedule the rest."""
    if amount <= 0:
        raise AmountNotPositive("a prepayment must be a positive amount")
    state, moves, _, _ = servicing.accrue_to(state, product, day)
    state, pay_moves, paid = servicing.apply_payment(state, product, amount, day, source="bank")
    moves += [m for m in pay_moves if m[1] != "overpayments"]
    left = paid.overpayment
    state = state._replace(overpayment=state.overpayment - left)
    if state.status is not LoanStatus.ACTIVE or not left:
        return _keep_credit(state, moves, paid, left, None)
    # The interest accrued so far on the installment in progress is paid before any principal.
    installments = list(state.installments)
    take = 0
    for index, inst in enumerate(installments):
        if inst.due_date > day and inst.accrual_start < day:
            take = min(left, inst.interest_accrued - inst.interest_paid)
            installments[index] = inst._replace(interest_paid=inst.interest_paid + take)
            break
    if take:
        recognised = min(take, state.interest)
        moves += [m for m in [("bank", "interest_receivable", recognised), ("bank", "interest_income", take - recognised)] if m[2]]
        state = state._replace(installments=tuple(installments), interest=state.interest - recognised,
            interest_suspended=state.interest_suspended - (take - recognised),
        )
        left -= take
    outstanding = sum(i.principal_due for i in state.installments if i.due_date > day)
    principal = min(left, outstanding)
    paid = paid._replace(interest=paid.interest + take, principal=paid.principal + principal, overpayment=left - principal)
    if principal == 0:
        return _keep_credit(state, moves, paid, left, None)
    if principal == outstanding:
        raise AmountNotPositive("this prepayment repays the whole loan: use a payoff instead", field="amount")
    kept, future = cut_at(state, day)
    moves.append(("bank", "loans_receivable", principal))
    if mode is PrepaymentMode.REDUCE_TERM:
        level = _current_level(future, terms)
        terms = replace(terms, fixed_level_amount=level) if level is not None else terms
    try:
        schedule = regenerate_after_prepayment(
            terms, as_of=day, outstanding_principal=from_minor(outstanding, state.currency),
            prepayment=from_minor(principal, state.currency), mode=mode,
        )
    except ScheduleError as exc:
        raise RestructureNotAllowed(str(exc)) from exc
    state = state._replace(installments=renumbered(kept, schedule, state.currency), principal=state.principal - principal)
    return _keep_credit(state, moves, paid, left - principal, schedule)


def _keep_credit(state: LoanState, moves: list[Movement], paid: Allocation, left: int, schedule: Schedule | None):
    if left:
        moves.append(("bank", "overpayments", left))
        state = state._replace(overpayment=state.overpayment + left)
    return state, moves, paid._replace(overpayment=left), schedule


def _current_level(future: tuple[InstallmentState, ...], terms: ScheduleTerms):
    """The installment (or principal part) the borrower pays now, kept by REDUCE_TERM."""
    regular = [i for i in future if i.principal]
    if len(regular) < 2:
        return None
    sample = regular[-2]
    amount = sample.principal if terms.method == Method.EQUAL_PRINCIPAL else sample.principal + sample.interest
    return from_minor(amount, terms.currency)


def restructure_loan(
    state: LoanState, product: Product, terms: ScheduleTerms, day: dt.date, *,
    annual_rate=None, term_periods: int | None = None, capitalise_arrears: bool = True,
    policy: ClassificationPolicy = default_policy,
) -> tuple[LoanState, list[Movement], Schedule, int]:
    """A new schedule from `day` for the outstanding principal, with arrears capitalised if asked.

    The loan enters an observation period (loans.servicing.observation_end) during which it is
    classified at least SPECIAL_MENTION and no better than it was before the restructure.
    Returns (state, movements, the new schedule, the amount capitalised)."""
    if state.status is not LoanStatus.ACTIVE:
        raise RestructureNotAllowed(f"the loan is {state.status.value}")
    state, moves, _, _ = servicing.accrue_to(state, product, day)
    state, due_moves, _ = servicing.recognise_due(state, product, day)
    moves += due_moves
    if state.interest_suspended or state.penalty_suspended:
        raise RestructureNotAllowed(
            "the loan has interest or penalties accrued off the books (non-accrual); collect or waive them first"
        )
    kept, future = cut_at(state, day)
    capitalised = 0
    if capitalise_arrears:
        capitalised = state.interest + state.fee + state.penalty
        moves += [m for m in [
            ("loans_receivable", "interest_receivable", state.interest),
            ("loans_receivable", "fee_receivable", state.fee),
            ("loans_receivable", "penalty_receivable", state.penalty),
        ] if m[2]]
        # Arrears become principal: the old installments are settled by capitalisation.
        kept = tuple(i._replace(interest=i.interest_paid, interest_accrued=i.interest_paid, fee=i.fee_paid) for i in kept)
        state = state._replace(interest=0, fee=0, charges=0, penalty=0)
    overdue_principal = sum(i.principal_due for i in kept)
    kept = tuple(i._replace(principal=i.principal_paid) for i in kept)
    principal = state.principal + capitalised
    outstanding = from_minor(principal, state.currency)
    try:
        schedule = restructure(
            terms, as_of=day, outstanding_principal=outstanding, annual_rate=annual_rate, term_periods=term_periods,
        )
    except ScheduleError as exc:
        raise RestructureNotAllowed(str(exc)) from exc
    del overdue_principal  # folded into the new schedule's principal with the rest
    before = class_for(state.dpd, policy, state.class_floor)
    installments = renumbered(kept, schedule, state.currency)
    state = state._replace(installments=installments, principal=principal, dpd=0, restructured_on=day,
        observation_ends_on=servicing.observation_end(installments, day, policy),
        class_floor=worse_class(before, LoanClass.SPECIAL_MENTION).value,
    )
    return state, moves, schedule, capitalised
