"""Deterministic replay of a loan's history. Pure.

A loan's state is a function of its booked schedule, its money events and the business dates
closed: replaying the events through the same servicing model reproduces it exactly. A reversal or a
backdated transaction replays the history without (or with) the event and posts only the
difference of the two replays' movements, so history is never rewritten and nothing is posted twice.

Prepayments and restructures are events too: each re-schedules from the terms in force at its
date, so a change before one of them rebuilds the schedules that follow. What cannot be replayed
raises ReplayConflict: an event the changed history refuses (a payment after the loan is now paid
off, a prepayment that would now repay everything, a restructure of a loan now in non-accrual).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from loans import restructuring, servicing, write_offs
from loans.delinquency import ClassificationPolicy, default_policy
from loans.servicing import Allocation, Movement
from loans.errors import LoanError
from loans.products import Product
from loans.state import InstallmentState, LoanState, LoanStatus
from schedules import ScheduleTerms
from schedules.regenerate import PrepaymentMode

replay_days_max = 40 * 366


class ReplayConflict(LoanError):
    code = "REPLAY_CONFLICT"


class ReplayMismatch(ReplayConflict):
    """The stored state is not what replaying the loan's history gives: the books need a look."""

    code = "REPLAY_STATE_MISMATCH"


@dataclass(frozen=True, slots=True)
class Event:
    key: object  # identifies the event (a transaction id) so its allocation can be found again
    kind: str  # a TransactionKind value of loans.model.replayed_kinds
    day: dt.date
    amount: int | None
    details: Mapping[str, object] | None = None  # a prepayment's mode, a restructure's new terms
    added: bool = False  # the event a command is adding: its refusal is the command's own error


@dataclass(frozen=True, slots=True)
class Replay:
    state: LoanState
    movements: tuple[Movement, ...]
    allocations: dict
    details: dict  # what an event recorded beside its allocation (a write-off's components), by key
    terms: ScheduleTerms | None = None  # the schedule terms in force at the end
    # Each re-schedule (prepayment, restructure) as (event key, the schedule it generated): two
    # replays with the same re-schedules share their schedule versions.
    reschedules: tuple = ()
    opened: LoanState | None = None  # on `snapshot_on`: after that day's events, before its close
    closed: LoanState | None = None  # on `snapshot_on`: after its close of business


def replay(
    product: Product,
    installments: tuple[InstallmentState, ...],
    disbursed_on: dt.date,
    events: Sequence[Event],
    through: dt.date,
    policy: ClassificationPolicy = default_policy,
    *,
    terms: ScheduleTerms | None = None,
    snapshot_on: dt.date | None = None,
) -> Replay:
    """Book the loan, then for each day apply that day's events before closing it, through `through`;
    events dated after `through` (the open business date) are applied last.

    `terms` are the booked schedule terms: a prepayment or restructure in the history re-schedules
    from the terms in force at its date, as it did when it was recorded.
    """
    if (through - disbursed_on).days > replay_days_max:
        raise ReplayConflict("the loan's history is too long to replay")
    run = _Run(product, policy, terms, servicing.book(installments, product.currency)._replace(last_cob_date=disbursed_on))
    pending = sorted(enumerate(events), key=lambda pair: (pair[1].day, pair[0]))
    index = 0
    opened = closed = None

    def apply_through(last: dt.date) -> None:
        nonlocal index
        while index < len(pending) and pending[index][1].day <= last:
            run.apply(pending[index][1])
            index += 1

    day = disbursed_on
    apply_through(day)
    if snapshot_on == day:
        opened = closed = run.state
    while day < through:
        day += dt.timedelta(days=1)
        apply_through(day)  # a day's events happen during the day, before its close of business
        if day == snapshot_on:
            opened = run.state
        if run.state.status is LoanStatus.ACTIVE:
            state, day_moves, _ = servicing.close_day(run.state, product, day, policy)
            run.state = state
            run.moves += day_moves
        if day == snapshot_on:
            closed = run.state
    for _, event in pending[index:]:
        run.apply(event)
    return Replay(run.state, tuple(run.moves), run.allocations, run.details, run.terms, tuple(run.reschedules), opened, closed)


class _Run:
    """The replay's running state: the loan, the terms in force, what was posted and re-scheduled."""

    def __init__(self, product: Product, policy: ClassificationPolicy, terms: ScheduleTerms | None, state: LoanState) -> None:
        self.product, self.policy, self.terms, self.state = product, policy, terms, state
        self.moves: list[Movement] = []
        self.allocations: dict = {}
        self.details: dict = {}
        self.reschedules: list = []

    def apply(self, event: Event) -> None:
        try:
            new, allocation = self._apply(event)
        except LoanError as exc:
            if event.added:
                raise
            raise ReplayConflict(f"replaying the {event.kind} of {event.day} no longer works: {exc.message}") from exc
        self.moves += new
        self.allocations[event.key] = allocation

    def _apply(self, event: Event) -> tuple[list[Movement], Allocation]:
        state, product = self.state, self.product
        if event.kind in ("REPAYMENT", "SUSPENSE_REPAYMENT"):
            source = "suspense" if event.kind == "SUSPENSE_REPAYMENT" else "bank"
            self.state, new, allocation = servicing.apply_payment(state, product, event.amount, event.day, source)
        elif event.kind == "PAYOFF":
            self.state, new, allocation = servicing.pay_off(state, product, event.amount, event.day)
        elif event.kind == "FEE_CHARGE":
            self.state, new = servicing.charge_fee(state, event.amount)
            allocation = Allocation(fee=event.amount)
        elif event.kind in ("FEE_WAIVER", "PENALTY_WAIVER"):
            kind = event.kind.split("_")[0]
            self.state, new = servicing.waive(state, kind, event.amount)
            allocation = Allocation(fee=event.amount) if kind == "FEE" else Allocation(penalty=event.amount)
        elif event.kind == "WRITE_OFF":
            self.state, new, written = write_offs.write_off(state, event.amount)
            allocation = written.allocation
            self.details[event.key] = written.details()
        elif event.kind == "RECOVERY":
            self.state, new, allocation = write_offs.recovery(state, event.amount)
        elif event.kind in ("PREPAYMENT", "RESTRUCTURE") and self.terms is not None:
            new, allocation = self._reschedule(event)
        else:
            raise ReplayConflict(f"cannot replay a {event.kind} transaction")
        return new, allocation

    def _reschedule(self, event: Event) -> tuple[list[Movement], Allocation]:
        details = dict(event.details or {})
        if event.kind == "PREPAYMENT":
            mode = PrepaymentMode(details.get("mode", self.product.prepayment_mode.value))
            self.state, new, allocation, schedule = restructuring.prepay(
                self.state, self.product, self.terms, event.amount, event.day, mode
            )
        else:
            rate = details.get("annual_rate")
            self.state, new, schedule, capitalised = restructuring.restructure_loan(
                self.state, self.product, self.terms, event.day,
                annual_rate=None if rate is None else Decimal(str(rate)), term_periods=details.get("term_periods"),
                capitalise_arrears=bool(details.get("capitalise", True)), policy=self.policy,
            )
            allocation = Allocation(principal=capitalised)
        if schedule is not None:
            self.terms = schedule.terms
            self.reschedules.append((event.key, schedule))
        return new, allocation


def difference(old: Sequence[Movement], new: Sequence[Movement]) -> list[Movement]:
    """Movements that turn the books of `old` into those of `new` (netted by role later)."""
    return list(new) + [(credit, debit, amount) for debit, credit, amount in old]
