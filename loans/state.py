"""A loan's servicing state as dumb immutable data (NamedTuples: close of business copies them
millions of times, and `_replace` is several times cheaper than dataclasses.replace), in minor units. Pure.

The loan-level pools are the sub-ledger: summed over a tenant's loans they equal the GL control
accounts of the same role (`loanbook verify` checks it).
"""
from __future__ import annotations

import datetime as dt
import enum
from typing import NamedTuple

from loans.errors import IllegalTransition


class LoanStatus(str, enum.Enum):
    APPLIED = "APPLIED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"
    ACTIVE = "ACTIVE"
    PAID_OFF = "PAID_OFF"
    WRITTEN_OFF = "WRITTEN_OFF"
    RESTRUCTURED = "RESTRUCTURED"


allowed_transitions = {
    LoanStatus.APPLIED: {LoanStatus.APPROVED, LoanStatus.REJECTED, LoanStatus.WITHDRAWN},
    LoanStatus.APPROVED: {LoanStatus.ACTIVE, LoanStatus.WITHDRAWN, LoanStatus.REJECTED},
    LoanStatus.ACTIVE: {LoanStatus.PAID_OFF, LoanStatus.WRITTEN_OFF, LoanStatus.RESTRUCTURED},
    LoanStatus.PAID_OFF: set(),
    LoanStatus.REJECTED: set(),
    LoanStatus.WITHDRAWN: set(),
    LoanStatus.WRITTEN_OFF: set(),
    LoanStatus.RESTRUCTURED: set(),
}


def check_transition(current: LoanStatus, target: LoanStatus) -> None:
    if target not in allowed_transitions[current]:
        raise IllegalTransition(f"a loan that is {current.value} cannot become {target.value}", status=current.value)


class InstallmentState(NamedTuple):
    number: int
    due_date: dt.date
    accrual_start: dt.date
    accrual_end: dt.date
    principal: int
    interest: int
    fee: int
    principal_paid: int = 0
    interest_paid: int = 0
    fee_paid: int = 0
    interest_accrued: int = 0  # recognised or suspended so far; reaches `interest` by accrual_end
    fee_recognised: bool = False  # the periodic fee becomes receivable when the installment falls due
    late_fee_charged: bool = False

    @property
    def principal_due(self) -> int:
        return self.principal - self.principal_paid

    @property
    def interest_due(self) -> int:
        return self.interest - self.interest_paid

    @property
    def fee_due(self) -> int:
        return self.fee - self.fee_paid

    @property
    def outstanding(self) -> int:
        return self.principal_due + self.interest_due + self.fee_due

    @property
    def settled(self) -> bool:
        return self.outstanding == 0


class LoanState(NamedTuple):
    currency: str
    status: LoanStatus
    installments: tuple[InstallmentState, ...]
    principal: int = 0  # loans receivable
    interest: int = 0  # interest receivable (recognised)
    interest_suspended: int = 0  # accrued while non-accrual: off the income statement
    fee: int = 0  # fee receivable: fallen-due periodic fees, late fees and charges, unpaid
    charges: int = 0  # the part of `fee` not tied to an installment (late fees, manual charges)
    penalty: int = 0  # penalty receivable (recognised)
    penalty_suspended: int = 0
    overpayment: int = 0  # the borrower's credit balance (a liability)
    allowance: int = 0  # provision held against this loan
    non_accrual: bool = False
    dpd: int = 0
    last_cob_date: dt.date | None = None
    written_off: int = 0  # principal written off so far
    recovered: int = 0  # cash recovered after write-off, of all the components written off
    # What a write-off took beside principal, suspended (non-accrual) amounts included.
    written_off_interest: int = 0
    written_off_fee: int = 0
    written_off_penalty: int = 0
    # A restructured loan: the date, the end of its observation period (the classification floor
    # holds through it) and the floor itself (a LoanClass value; None once the period has passed).
    restructured_on: dt.date | None = None
    observation_ends_on: dt.date | None = None
    class_floor: str | None = None

    @property
    def written_off_total(self) -> int:
        return self.written_off + self.written_off_interest + self.written_off_fee + self.written_off_penalty
