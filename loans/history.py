"""A loan's history replayed from its booking: the state on any date, and what a change would do.

The read side (a statement or a payoff quote as of a date) and the backdating commands share it, so
a figure quoted for a date is the figure a command dated then would book.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from ledger.model import canonical_json
from loans.booking import installments_from, schedule_for, terms_to_json
from loans.model import Loan
from loans.products import Product
from loans.recording import booked_application
from loans.replay import Event, Replay, ReplayMismatch, difference, replay
from loans.servicing import Movement
from loans.state import LoanState
from loans.store.transactions import disbursement_known, last_closed_known, load_events


def replay_loan(
    loan: Loan, product: Product, events: list[Event], *, snapshot_on: dt.date | None = None, through: dt.date | None = None,
) -> Replay:
    """Replay `events` on the loan as booked, through its last closed business date (or `through`)."""
    schedule = schedule_for(product, booked_application(loan))
    return replay(
        product, installments_from(schedule), loan.disbursed_on, events, through or loan.last_cob_date,
        loan.classification_policy, terms=schedule.terms, snapshot_on=snapshot_on,
    )


def check_replay(loan: Loan, state: LoanState, old: Replay) -> None:
    """The stored loan must be what its history replays to, or nothing replayed can be trusted."""
    same_terms = loan.schedule_terms is None or old.terms is None or canonical_json(terms_to_json(old.terms)) == loan.schedule_terms
    if old.state != state or not same_terms:
        raise ReplayMismatch("the loan's stored state differs from a replay of its history; run loanbook verify")


def state_on(conn: Connection, loan: Loan, state: LoanState, product: Product, day: dt.date, *, closed: bool) -> LoanState:
    """The loan on `day` (on or before its last closed business date): after that day's transactions,
    and, with `closed`, after that day's close of business too."""
    found = replay_loan(loan, product, load_events(conn, loan.tenant_id, loan.id), snapshot_on=day)
    check_replay(loan, state, found)
    snapshot = found.closed if closed else found.opened
    assert snapshot is not None, (day, loan.disbursed_on, loan.last_cob_date)
    return snapshot


def state_known_on(
    conn: Connection, loan: Loan, state: LoanState, product: Product, day: dt.date, known_on: dt.datetime
) -> LoanState | None:
    """The loan at the end of `day` as the books knew it at `known_on`: its history replayed with only
    the events recorded by then, through the last business date closed by then (None if it had not
    been disbursed, as far as anyone knew, by then or by `day`).

    The stored state is first checked against a replay of the whole history, as for any replay."""
    if loan.disbursed_on is None or day < loan.disbursed_on or not disbursement_known(conn, loan.tenant_id, loan.id, known_on):
        return None
    check_replay(loan, state, replay_loan(loan, product, load_events(conn, loan.tenant_id, loan.id)))
    closed = last_closed_known(conn, loan.tenant_id, known_on)
    through = loan.disbursed_on if closed is None else max(loan.disbursed_on, min(closed, loan.last_cob_date or closed))
    events = [e for e in load_events(conn, loan.tenant_id, loan.id, known_on) if e.day <= day]
    found = replay_loan(loan, product, events, snapshot_on=day if day <= through else None, through=through)
    return found.closed if day <= through else found.state


@dataclass(frozen=True, slots=True)
class Change:
    """What replaying the loan with a changed history gives, against its history as it stands."""

    state: LoanState
    moves: list[Movement]
    allocations: dict
    details: dict
    rescheduled: bool  # the schedules after the change differ: they are written as a new version
    replay: Replay


def replayed_change(
    loan: Loan, state: LoanState, product: Product, old_events: list[Event], new_events: list[Event],
    *, through: dt.date | None = None,
) -> Change:
    """`through` (a later closed date) carries a loan the change reopens through the days it was closed."""
    old = replay_loan(loan, product, old_events)
    check_replay(loan, state, old)
    new = replay_loan(loan, product, new_events, through=through)
    return Change(new.state, difference(old.movements, new.movements), new.allocations, new.details,
                  old.reschedules != new.reschedules, new)
