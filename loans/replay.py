"""Deterministic replay of a loan's history. Pure.

A loan's state is a function of its booked schedule, its money events and the business dates
closed: replaying the events through the same servicing model reproduces it exactly. A reversal or a
backdated transaction replays the history without (or with) the event and posts only the
difference of the two replays' movements, so history is never rewritten and nothing is posted twice.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from loans import servicing
from loans.delinquency import ClassificationPolicy, default_policy
from loans.servicing import Allocation, Movement
from loans.errors import LoanError
from loans.products import Product
from loans.state import InstallmentState, LoanState, LoanStatus

replay_days_max = 40 * 366


class ReplayConflict(LoanError):
    code = "REPLAY_CONFLICT"


class ReplayMismatch(ReplayConflict):
    """The stored state is not what replaying the loan's history gives: the books need a look."""

    code = "REPLAY_STATE_MISMATCH"


@dataclass(frozen=True, slots=True)
class Event:
    key: object  # identifies the event (a transaction id) so its allocation can be found again
    kind: str  # REPAYMENT, PAYOFF, FEE_CHARGE, FEE_WAIVER, PENALTY_WAIVER, WRITE_OFF, RECOVERY
    day: dt.date
    amount: int | None


@dataclass(frozen=True, slots=True)
class Replay:
    state: LoanState
    movements: tuple[Movement, ...]
    allocations: dict


def replay(
    product: Product,
    installments: tuple[InstallmentState, ...],
    disbursed_on: dt.date,
    events: Sequence[Event],
    through: dt.date,
    policy: ClassificationPolicy = default_policy,
) -> Replay:
    """Book the loan, then for each day apply that day's events before closing it, through `through`;
    events dated after `through` (the open business date) are applied last."""
    if (through - disbursed_on).days > replay_days_max:
        raise ReplayConflict("the loan's history is too long to replay")
    state = servicing.book(installments, product.currency)._replace(last_cob_date=disbursed_on)
    moves: list[Movement] = []
    allocations: dict = {}
    pending = sorted(enumerate(events), key=lambda pair: (pair[1].day, pair[0]))
    index = 0

    def apply_through(last: dt.date) -> None:
        nonlocal state, index
        while index < len(pending) and pending[index][1].day <= last:
            state = _apply(state, product, pending[index][1], moves, allocations)
            index += 1

    day = disbursed_on
    apply_through(day)
    while day < through:
        day += dt.timedelta(days=1)
        apply_through(day)  # a day's events happen during the day, before its close of business
        if state.status is LoanStatus.ACTIVE:
            state, day_moves, _ = servicing.close_day(state, product, day, policy)
            moves += day_moves
    for _, event in pending[index:]:
        state = _apply(state, product, event, moves, allocations)
    return Replay(state, tuple(moves), allocations)


def _apply(state: LoanState, product: Product, event: Event, moves: list[Movement], allocations: dict) -> LoanState:
    try:
        if event.kind in ("REPAYMENT", "SUSPENSE_REPAYMENT"):
            source = "suspense" if event.kind == "SUSPENSE_REPAYMENT" else "bank"
            state, new, allocation = servicing.apply_payment(state, product, event.amount, event.day, source)
        elif event.kind == "PAYOFF":
            state, new, allocation = servicing.pay_off(state, product, event.amount, event.day)
        elif event.kind == "FEE_CHARGE":
            state, new = servicing.charge_fee(state, event.amount)
            allocation = Allocation(fee=event.amount)
        elif event.kind in ("FEE_WAIVER", "PENALTY_WAIVER"):
            kind = event.kind.split("_")[0]
            state, new = servicing.waive(state, kind, event.amount)
            allocation = Allocation(fee=event.amount) if kind == "FEE" else Allocation(penalty=event.amount)
        elif event.kind == "WRITE_OFF":
            before = state.principal
            state, new = servicing.write_off(state, event.amount)
            allocation = Allocation(principal=before - state.principal)
        elif event.kind == "RECOVERY":
            state, new = servicing.recovery(state, event.amount)
            allocation = Allocation()
        else:
            raise ReplayConflict(f"cannot replay a {event.kind} transaction")
    except LoanError as exc:
        raise ReplayConflict(f"replaying the {event.kind} of {event.day} no longer works: {exc.message}") from exc
    moves += new
    allocations[event.key] = allocation
    return state


def difference(old: Sequence[Movement], new: Sequence[Movement]) -> list[Movement]:
    """Movements that turn the books of `old` into those of `new` (netted by role later)."""
    return list(new) + [(credit, debit, amount) for debit, credit, amount in old]
