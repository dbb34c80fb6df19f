"""A loan's money commands: disburse, repay, pay off, prepay, fees and waivers, write-off, recovery,
restructure, reversal. Each runs inside the caller's transaction, once per idempotency key, and posts
money only through ledger.service (loans.recording.book).

A command dated on or before the loan's last closed business date is backdated: the loan is replayed
with the new event in its place (or, for a reversal, without the old one) and only the difference is
posted, so history is never rewritten.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

from sqlalchemy.engine import Connection

from ledger import errors as ledger_errors
from ledger.actor import Actor
from ledger.model import canonical_json
from ledger.money import parse_decimal, to_minor
from loans import history, restructuring, servicing, write_offs
from loans.booking import Application, installments_from, schedule_for, terms_for, terms_to_json
from loans.catalogue import get_product
from loans.errors import DateBeforeDisbursement, IllegalTransition, InvalidProduct, LoanClosed, UnknownTransaction
from loans.model import Loan, TransactionKind, replayable_kinds
from loans.products import Product
from loans.recording import (
    Booking, MoneyResult, book, check_date, check_disbursement_date, current_terms, last_closed_date,
    loan_amount, once,
)
from loans.replay import Event
from loans.servicing import Allocation, Movement
from loans.state import LoanState, LoanStatus, check_transition
from loans.store.repository import insert_installments, load_loan, load_state, save_installment_changes, update_loan
from loans.store.transactions import load_events, load_transaction, reversal_of
from schedules import Schedule
from schedules.regenerate import PrepaymentMode

Apply = Callable[[LoanState, Product, int], tuple[LoanState, list[Movement], Allocation]]


def disburse_loan(
    conn: Connection, actor: Actor, loan_id: uuid.UUID, day: dt.date, idempotency_key: str | None = None
) -> MoneyResult:
    kind = TransactionKind.DISBURSEMENT
    request = {"type": kind.value, "loan": str(loan_id), "date": day.isoformat()}

    def command() -> MoneyResult:
        loan = load_loan(conn, actor.tenant_id, loan_id)
        check_transition(loan.status, LoanStatus.ACTIVE)
        check_disbursement_date(conn, actor.tenant_id, day)
        product = get_product(conn, actor.tenant_id, loan.product_code, loan.product_version)
        app = Application(parse_decimal(loan.principal_requested), parse_decimal(loan.annual_rate), loan.term_periods, day,
                          loan.first_due_date if loan.first_due_date and loan.first_due_date > day else None)
        terms = terms_for(product, app)
        schedule = schedule_for(product, app)
        installments = installments_from(schedule)
        currency = product.currency
        financed, disbursed = to_minor(schedule.financed_principal, currency), to_minor(schedule.disbursed_amount, currency)
        fee = to_minor(terms.upfront_fee, currency)
        state = servicing.book(installments, currency)._replace(last_cob_date=day)
        moves = servicing.disbursement_movements(financed, disbursed, fee)
        version = loan.schedule_version + 1
        loan = update_loan(conn, loan, {
            "schedule_version": version, "disbursed_on": day, "annualized_rate": str(schedule.annualized_rate),
            "schedule_terms": canonical_json(terms_to_json(schedule.terms)),
        })
        insert_installments(conn, actor.tenant_id, loan_id, version, installments)
        return book(conn, actor, Booking(
            loan=loan, product=product, kind=kind, day=day, amount=disbursed, allocation=Allocation(principal=financed, fee=fee),
            moves=moves, state=state, status_before=loan.status, idempotency_key=idempotency_key, request=request,
        ))

    return once(conn, actor, idempotency_key, kind, request, command)


def record_repayment(conn: Connection, actor: Actor, loan_id: uuid.UUID, amount: object, currency: str, day: dt.date,
                     idempotency_key: str | None = None) -> MoneyResult:
    return money_command(
        conn, actor, loan_id, TransactionKind.REPAYMENT, amount, currency, day, idempotency_key,
        lambda state, product, minor: servicing.apply_payment(state, product, minor, day),
    )


def pay_off_loan(conn: Connection, actor: Actor, loan_id: uuid.UUID, amount: object, currency: str, day: dt.date,
                 idempotency_key: str | None = None) -> MoneyResult:
    return money_command(
        conn, actor, loan_id, TransactionKind.PAYOFF, amount, currency, day, idempotency_key,
        lambda state, product, minor: servicing.pay_off(state, product, minor, day),
    )


def charge_fee(conn: Connection, actor: Actor, loan_id: uuid.UUID, amount: object, currency: str, day: dt.date,
               idempotency_key: str | None = None) -> MoneyResult:
    def apply(state: LoanState, product: Product, minor: int):
        new, moves = servicing.charge_fee(state, minor)
        return new, moves, Allocation(fee=minor)

    return money_command(conn, actor, loan_id, TransactionKind.FEE_CHARGE, amount, currency, day, idempotency_key, apply)


def waive_charge(conn: Connection, actor: Actor, loan_id: uuid.UUID, kind: str, amount: object, currency: str,
                 day: dt.date, idempotency_key: str | None = None) -> MoneyResult:
    if kind not in ("FEE", "PENALTY"):
        raise InvalidProduct("a waiver is of FEE or PENALTY", field="kind")

    def apply(state: LoanState, product: Product, minor: int):
        new, moves = servicing.waive(state, kind, minor)
        return new, moves, Allocation(fee=minor) if kind == "FEE" else Allocation(penalty=minor)

    waiver = TransactionKind.FEE_WAIVER if kind == "FEE" else TransactionKind.PENALTY_WAIVER
    return money_command(conn, actor, loan_id, waiver, amount, currency, day, idempotency_key, apply)


def write_off_loan(conn: Connection, actor: Actor, loan_id: uuid.UUID, day: dt.date, amount: object | None = None,
                   currency: str | None = None, idempotency_key: str | None = None) -> MoneyResult:
    def apply(state: LoanState, product: Product, minor: int | None):
        new, moves, written = write_offs.write_off(state, minor)
        return new, moves, written.allocation, written.details()

    return money_command(
        conn, actor, loan_id, TransactionKind.WRITE_OFF, amount, currency, day, idempotency_key, apply, optional_amount=True
    )


def record_recovery(conn: Connection, actor: Actor, loan_id: uuid.UUID, amount: object, currency: str, day: dt.date,
                    idempotency_key: str | None = None) -> MoneyResult:
    def apply(state: LoanState, product: Product, minor: int):
        return write_offs.recovery(state, minor)

    return money_command(
        conn, actor, loan_id, TransactionKind.RECOVERY, amount, currency, day, idempotency_key, apply, any_status=True
    )


def payoff_quote(conn: Connection, tenant_id: int, loan_id: uuid.UUID, day: dt.date) -> Allocation:
    """What a payOffLoan effective `day` must pay: on a backdated date, what the loan owed then
    (its history replayed to that day: principal, interest earned to it, fees and penalties
    charged by then, less what was paid by then); nothing is written."""
    loan, state = load_state(conn, tenant_id, loan_id, loan=load_loan(conn, tenant_id, loan_id, lock=False))
    backdated = check_date(loan, day)
    product = get_product(conn, tenant_id, loan.product_code, loan.product_version)
    if backdated:
        state = history.state_on(conn, loan, state, product, day, closed=False)
    return servicing.payoff_quote(state, product, day)


def money_command(
    conn: Connection, actor: Actor, loan_id: uuid.UUID, kind: TransactionKind, amount: object, currency: str | None,
    day: dt.date, idempotency_key: str | None, apply: Apply, *, optional_amount: bool = False, any_status: bool = False,
) -> MoneyResult:
    """The path of the commands that apply an amount (or, for a write-off, all) to a loan's state."""
    loan = load_loan(conn, actor.tenant_id, loan_id)
    minor = None
    if amount is not None or not optional_amount:
        minor = loan_amount(loan, amount, currency)
    request = {"type": kind.value, "loan": str(loan_id), "amount": minor, "currency": currency, "date": day.isoformat()}
    return once(
        conn, actor, idempotency_key, kind, request,
        lambda: apply_amount(conn, actor, loan, kind, minor, day, apply, idempotency_key, request, any_status=any_status),
    )


def apply_amount(
    conn: Connection, actor: Actor, loan: Loan, kind: TransactionKind, minor: int | None, day: dt.date, apply: Apply,
    idempotency_key: str | None, request: dict, *, any_status: bool = False,
) -> MoneyResult:
    """Apply `minor` to the loan read (locked) by this transaction and book it; backdated, by replay."""
    loan, state = load_state(conn, actor.tenant_id, loan.id, loan=loan)  # the loan read above, locked: nothing changed it
    if not any_status and state.status is not LoanStatus.ACTIVE:
        raise LoanClosed(f"the loan is {state.status.value}", status=state.status.value)
    backdated = check_date(loan, day)
    product = get_product(conn, actor.tenant_id, loan.product_code, loan.product_version)
    recorded: dict | None = None
    rescheduled = False
    if backdated:
        # Replay the loan with the new event in its place; post only what changes.
        events = load_events(conn, actor.tenant_id, loan.id)
        added = Event("new", kind.value, day, minor, added=True)
        change = history.replayed_change(loan, state, product, events, [*events, added])
        loan = save_replayed_schedule(conn, actor, loan, state, change)
        new_state, moves, allocation, recorded = change.state, change.moves, change.allocations["new"], change.details.get("new")
        rescheduled = change.rescheduled
    else:
        new_state, moves, allocation, *more = apply(state, product, minor)  # type: ignore[arg-type]
        recorded = more[0] if more else None
        save_installment_changes(conn, actor.tenant_id, loan, state, new_state)  # the loan's own row: book
    details = {**(recorded or {}), **({"full": True} if kind is TransactionKind.WRITE_OFF and minor is None else {}),
               **({"rescheduled": True} if rescheduled else {})}
    return book(conn, actor, Booking(
        loan=loan, product=product, kind=kind, day=day, amount=minor or allocation.total, allocation=allocation,
        moves=moves, state=new_state, status_before=state.status, idempotency_key=idempotency_key, request=request,
        details=details or None, backdated=backdated,
    ))


def save_replayed_schedule(conn: Connection, actor: Actor, loan: Loan, before: LoanState, change: history.Change) -> Loan:
    """The installments a replay changed; when it re-scheduled differently (a change before a prepayment
    or restructure), its schedule is written as the loan's next schedule version. Returns the loan as written."""
    if not change.rescheduled:
        save_installment_changes(conn, actor.tenant_id, loan, before, change.state)
        return loan
    version = loan.schedule_version + 1
    insert_installments(conn, actor.tenant_id, loan.id, version, change.state.installments)
    terms = change.replay.terms
    return update_loan(conn, loan, {
        "schedule_version": version, "schedule_terms": None if terms is None else canonical_json(terms_to_json(terms)),
    })


def reverse_transaction(
    conn: Connection, actor: Actor, loan_id: uuid.UUID, transaction_id: uuid.UUID, day: dt.date,
    idempotency_key: str | None = None,
) -> MoneyResult:
    """Undo a repayment (a bounced payment), payoff, fee, waiver, write-off or recovery.

    The loan is replayed without it and only the accounting differences are posted, dated `day`.
    """
    kind = TransactionKind.REVERSAL
    request = {"type": kind.value, "loan": str(loan_id), "transaction": str(transaction_id), "date": day.isoformat()}

    def command() -> MoneyResult:
        loan, state = load_state(conn, actor.tenant_id, loan_id)
        target = load_transaction(conn, actor.tenant_id, transaction_id, loan_id=loan_id)
        if target is None:
            raise UnknownTransaction(f"loan {loan_id} has no transaction {transaction_id}")
        if target.type not in replayable_kinds:
            raise IllegalTransition(f"a {target.type.value} transaction cannot be reversed", status=target.type.value)
        already = reversal_of(conn, actor.tenant_id, transaction_id)
        if already is not None:
            raise ledger_errors.AlreadyReversed(f"transaction {transaction_id} was already reversed by {already}")
        if day < target.effective_date:
            raise DateBeforeDisbursement(
                f"a reversal cannot be dated before the transaction it reverses ({target.effective_date})", field="date"
            )
        check_date(loan, day)  # the rule of every loan command: not after the loan's open business date
        product = get_product(conn, actor.tenant_id, loan.product_code, loan.product_version)
        events = load_events(conn, actor.tenant_id, loan_id)
        change = history.replayed_change(
            loan, state, product, events, [e for e in events if e.key != transaction_id], through=_reopened_through(conn, loan, day),
        )
        loan = save_replayed_schedule(conn, actor, loan, state, change)
        # The allocation is what the reversal undid: the reversed transaction's own.
        undone = Allocation(target.penalty, target.fee, target.interest, target.principal, target.overpayment)
        return book(conn, actor, Booking(
            loan=loan, product=product, kind=kind, day=day, amount=target.amount, allocation=undone, moves=change.moves,
            state=change.state, status_before=state.status, idempotency_key=idempotency_key, request=request,
            reverses=transaction_id, details={"rescheduled": True} if change.rescheduled else None,
        ))

    return once(conn, actor, idempotency_key, kind, request, command)


def _reopened_through(conn: Connection, loan: Loan, day: dt.date) -> dt.date | None:
    """For a closed loan (a reversed payoff or write-off may reopen it): the tenant's dates closed
    since, up to the day before the reversal, through which the reopened loan is serviced at once,
    so it is current with the tenant's business date and close of business goes on from there."""
    if loan.status is LoanStatus.ACTIVE:
        return None
    last = last_closed_date(conn, loan.tenant_id)
    if last is None or last <= loan.last_cob_date:
        return None
    return max(loan.last_cob_date, min(last, day - dt.timedelta(days=1)))


# ---------------------------------------------------------------- commands that re-schedule


def prepay_loan(
    conn: Connection, actor: Actor, loan_id: uuid.UUID, amount: object, currency: str, day: dt.date,
    mode: str | None = None, idempotency_key: str | None = None,
) -> MoneyResult:
    """Pay what is due and today's accrued interest, reduce principal, and re-schedule the rest.

    REDUCE_INSTALLMENT keeps the maturity; REDUCE_TERM keeps the installment. Default: the product's.
    """
    kind = TransactionKind.PREPAYMENT
    minor = loan_amount(load_loan(conn, actor.tenant_id, loan_id), amount, currency)
    request = {"type": kind.value, "loan": str(loan_id), "amount": minor, "currency": currency, "date": day.isoformat(), "mode": mode}

    def command() -> MoneyResult:
        loan, state, product, backdated = _active_loan(conn, actor, loan_id, day)
        chosen = product.prepayment_mode if mode is None else _prepayment_mode(mode)
        if backdated:
            loan, change = _backdated(conn, actor, loan, state, product, Event("new", kind.value, day, minor, {"mode": chosen.value}, added=True))
            new_state, moves, allocation = change.state, change.moves, change.allocations["new"]
            rescheduled = any(key == "new" for key, _ in change.replay.reschedules)
        else:
            new_state, moves, allocation, schedule = restructuring.prepay(
                state, product, current_terms(loan, product), minor, day, chosen
            )
            loan = _save_schedule(conn, actor, loan, state, new_state, schedule)
            rescheduled = schedule is not None
        return book(conn, actor, Booking(
            loan=loan, product=product, kind=kind, day=day, amount=minor, allocation=allocation, moves=moves, state=new_state,
            status_before=state.status, idempotency_key=idempotency_key, request=request,
            details={"mode": chosen.value, "rescheduled": rescheduled}, backdated=backdated,
        ))

    return once(conn, actor, idempotency_key, kind, request, command)


def restructure_preview(
    conn: Connection, tenant_id: int, loan_id: uuid.UUID, day: dt.date, *, annual_rate: object | None = None,
    term_periods: int | None = None, capitalise_arrears: bool = True,
) -> Schedule:
    """What-if: the schedule a restructure on `day` would give; nothing is written."""
    loan, state = load_state(conn, tenant_id, loan_id)
    check_date(loan, day)
    product = get_product(conn, tenant_id, loan.product_code, loan.product_version)
    rate = None if annual_rate is None else parse_decimal(annual_rate, "annualRate")
    _, _, schedule, _ = restructuring.restructure_loan(
        state, product, current_terms(loan, product), day, annual_rate=rate, term_periods=term_periods,
        capitalise_arrears=capitalise_arrears,
    )
    return schedule


def restructure_loan(
    conn: Connection, actor: Actor, loan_id: uuid.UUID, day: dt.date, *, annual_rate: object | None = None,
    term_periods: int | None = None, capitalise_arrears: bool = True, idempotency_key: str | None = None,
) -> MoneyResult:
    """展期 / 分期重组: a new schedule from the outstanding balance; the old schedule stays readable."""
    kind = TransactionKind.RESTRUCTURE
    rate = None if annual_rate is None else parse_decimal(annual_rate, "annualRate")
    request = {"type": kind.value, "loan": str(loan_id), "date": day.isoformat(), "rate": str(rate),
               "term": term_periods, "capitalise": capitalise_arrears}

    def command() -> MoneyResult:
        loan, state, product, backdated = _active_loan(conn, actor, loan_id, day)
        if backdated:
            asked = {"annual_rate": None if rate is None else str(rate), "term_periods": term_periods, "capitalise": capitalise_arrears}
            loan, change = _backdated(conn, actor, loan, state, product, Event("new", kind.value, day, None, asked, added=True))
            new_state, moves = change.state, change.moves
            capitalised = change.allocations["new"].principal
            schedule = next(found for key, found in change.replay.reschedules if key == "new")
        else:
            new_state, moves, schedule, capitalised = restructuring.restructure_loan(
                state, product, current_terms(loan, product), day, annual_rate=rate, term_periods=term_periods,
                capitalise_arrears=capitalise_arrears, policy=loan.classification_policy,
            )
            loan = _save_schedule(conn, actor, loan, state, new_state, schedule)
        details = {"capitalised": capitalised, "annual_rate": str(schedule.terms.annual_rate), "capitalise": capitalise_arrears,
                   "term_periods": schedule.terms.term_periods, "annualized_rate": str(schedule.annualized_rate)}
        return book(conn, actor, Booking(
            loan=loan, product=product, kind=kind, day=day, amount=capitalised, allocation=Allocation(principal=capitalised),
            moves=moves, state=new_state, status_before=state.status, idempotency_key=idempotency_key, request=request,
            details=details, backdated=backdated,
        ))

    return once(conn, actor, idempotency_key, kind, request, command)


def _active_loan(conn: Connection, actor: Actor, loan_id: uuid.UUID, day: dt.date) -> tuple[Loan, LoanState, Product, bool]:
    """The loan (locked), its state, its product, and whether `day` is backdated."""
    loan, state = load_state(conn, actor.tenant_id, loan_id)
    if state.status is not LoanStatus.ACTIVE:
        raise LoanClosed(f"the loan is {state.status.value}", status=state.status.value)
    backdated = check_date(loan, day)
    return loan, state, get_product(conn, actor.tenant_id, loan.product_code, loan.product_version), backdated


def _backdated(
    conn: Connection, actor: Actor, loan: Loan, state: LoanState, product: Product, added: Event
) -> tuple[Loan, history.Change]:
    """A re-scheduling command dated in the past: the loan replayed with it in place, its schedules rebuilt
    (the loan as written, and the change)."""
    events = load_events(conn, actor.tenant_id, loan.id)
    change = history.replayed_change(loan, state, product, events, [*events, added])
    return save_replayed_schedule(conn, actor, loan, state, change), change


def _prepayment_mode(mode: str) -> PrepaymentMode:
    try:
        return PrepaymentMode(mode)
    except ValueError:
        raise InvalidProduct(f"mode must be REDUCE_INSTALLMENT or REDUCE_TERM, got {mode!r}", field="mode") from None


def _save_schedule(
    conn: Connection, actor: Actor, loan: Loan, before: LoanState, after: LoanState, schedule: Schedule | None
) -> Loan:
    """Write the installments; with a new schedule, all of them under the next schedule version.

    Returns the loan as written; its state is written by book.
    """
    if schedule is None:
        save_installment_changes(conn, actor.tenant_id, loan, before, after)
        return loan
    version = loan.schedule_version + 1
    insert_installments(conn, actor.tenant_id, loan.id, version, after.installments)
    return update_loan(conn, loan, {
        "schedule_version": version, "schedule_terms": canonical_json(terms_to_json(schedule.terms)),
    })
