"""Write-offs (核销) and recoveries after them. Pure, like loans.servicing.

A full write-off clears every receivable of the loan and what it owed off the books (interest and
penalties suspended while non-accrual); the record lists each component. A recovery is capped at
what was written off and not yet recovered, and is allocated to those components.
"""
from __future__ import annotations

from typing import NamedTuple

from ledger.money import format_amount
from loans.errors import AmountNotPositive, LoanClosed, RecoveryExceedsWrittenOff
from loans.servicing import Allocation, Movement, require_active
from loans.state import LoanState, LoanStatus


class WrittenOff(NamedTuple):
    """What a write-off took: the receivables its entry credits, and what was owed off the books."""

    principal: int = 0
    interest: int = 0
    fee: int = 0
    penalty: int = 0
    interest_suspended: int = 0  # accrued while non-accrual: owed, never income, so in no entry line
    penalty_suspended: int = 0
    from_allowance: int = 0  # of the entry's debits, what the allowance held; the rest is expense

    @property
    def allocation(self) -> Allocation:
        """The components the entry writes off (they sum to its credits)."""
        return Allocation(self.penalty, self.fee, self.interest, self.principal, 0)

    def details(self) -> dict[str, int]:
        entry = self.principal + self.interest + self.fee + self.penalty
        return {**self._asdict(), "entry": entry, "to_expense": entry - self.from_allowance,
                "total": entry + self.interest_suspended + self.penalty_suspended}


def write_off(state: LoanState, principal: int | None = None) -> tuple[LoanState, list[Movement], WrittenOff]:
    """Write off all (default) or part of the principal; a full write-off also clears the other
    receivables and what was owed off the books (suspended interest and penalties).

    The allowance is used first, the rest is expense. Returns what was written off, component by
    component: its recognised parts sum to the entry's credits.
    """
    require_active(state)
    amount = state.principal if principal is None else principal
    if amount <= 0 or amount > state.principal:
        raise AmountNotPositive(f"a write-off must be between 0 and the outstanding principal {state.principal}")
    from_allowance = min(state.allowance, amount)
    moves = [("allowance", "loans_receivable", from_allowance), ("write_off_expense", "loans_receivable", amount - from_allowance)]
    changed, left = list(state.installments), amount
    for index in range(len(changed) - 1, -1, -1):  # the latest principal goes first
        inst = changed[index]
        take = min(left, inst.principal_due)
        if take:
            changed[index] = inst._replace(principal=inst.principal - take)
            left -= take
    state = state._replace(installments=tuple(changed), principal=state.principal - amount,
        allowance=state.allowance - from_allowance, written_off=state.written_off + amount,
    )
    written = WrittenOff(principal=amount, from_allowance=from_allowance)
    if state.principal == 0:
        # The allowance left covers the other receivables before expense does.
        other = state.interest + state.fee + state.penalty
        more_allowance = min(state.allowance, other)
        moves += [
            ("write_off_expense", "interest_receivable", state.interest),
            ("write_off_expense", "fee_receivable", state.fee),
            ("write_off_expense", "penalty_receivable", state.penalty),
            ("allowance", "write_off_expense", state.allowance),
        ]
        written = written._replace(interest=state.interest, fee=state.fee, penalty=state.penalty,
            interest_suspended=state.interest_suspended, penalty_suspended=state.penalty_suspended,
            from_allowance=from_allowance + more_allowance,
        )
        state = state._replace(status=LoanStatus.WRITTEN_OFF, interest=0, interest_suspended=0, fee=0, charges=0,
            penalty=0, penalty_suspended=0, allowance=0,
            written_off_interest=state.written_off_interest + written.interest + written.interest_suspended,
            written_off_fee=state.written_off_fee + written.fee,
            written_off_penalty=state.written_off_penalty + written.penalty + written.penalty_suspended,
            installments=tuple(i._replace(interest=i.interest_paid, interest_accrued=i.interest_paid, fee=i.fee_paid) for i in state.installments),
        )
    return state, [m for m in moves if m[2]], written


def recovery(state: LoanState, amount: int) -> tuple[LoanState, list[Movement], Allocation]:
    """Cash recovered after a write-off, at most what was written off and not yet recovered.

    It is allocated to the components written off in the order principal, interest, fee, penalty
    (cumulatively over the loan's recoveries); all of it is recoveries income.
    """
    if amount <= 0:
        raise AmountNotPositive("a recovery must be a positive amount")
    if state.written_off_total == 0:
        raise LoanClosed("only a written-off loan can have recoveries; record a repayment instead")
    recoverable = state.written_off_total - state.recovered
    if amount > recoverable:
        raise RecoveryExceedsWrittenOff(
            f"only {format_amount(recoverable, state.currency)} {state.currency} written off is not yet recovered; "
            f"a recovery of {format_amount(amount, state.currency)} would exceed it (book the excess as an "
            "unidentified receipt and refund it)", field="amount",
        )
    parts, low = {}, 0
    for name, written in (("principal", state.written_off), ("interest", state.written_off_interest),
                          ("fee", state.written_off_fee), ("penalty", state.written_off_penalty)):
        high = low + written
        parts[name] = max(0, min(high, state.recovered + amount) - max(low, state.recovered))
        low = high
    return state._replace(recovered=state.recovered + amount), [("bank", "recoveries", amount)], Allocation(**parts)
