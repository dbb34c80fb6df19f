"""Loan commands. Each runs inside the caller's transaction and posts money only through ledger.service."""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import errors as ledger_errors
from ledger import service as ledger
from ledger.actor import Actor
from ledger.ids import uuid7
from ledger.model import EntryDraft as ledger_draft
from ledger.model import credit, debit
from ledger.model import canonical_json
from ledger.money import from_minor, parse_decimal, to_minor
from ledger.queries import account_roles, load_accounts
from ledger.unit_of_work import record_event, record_events
from loans import servicing
from loans.delinquency import ClassificationPolicy, policy_from_json, policy_to_json
from loans.booking import Application, installments_from, schedule_for, terms_for, terms_from_json, terms_to_json
from loans.servicing import Allocation, Movement
from loans.errors import (
    AmountNotPositive,
    DateAfterBusinessDate,
    DateBeforeDisbursement,
    IllegalTransition,
    InvalidBorrower,
    InvalidClassificationPolicy,
    InvalidProduct,
    InvalidReceipt,
    LoanClosed,
    MakerChecker,
    ReceiptAlreadyApplied,
    UnknownBorrower,
    UnknownProduct,
    UnknownReceipt,
    UnknownTransaction,
    WrongCurrency,
)
from loans import restructuring
from loans.replay import Event, ReplayConflict, ReplayMismatch, difference, replay
from schedules import Schedule, ScheduleTerms
from schedules.regenerate import PrepaymentMode
from loans.pii import FieldCipher, check_borrower_fields
from loans.posting import entry_for, net_by_account
from loans.products import Product, parse_product, product_from_json, product_to_json
from loans.state import LoanState, LoanStatus, check_transition
from loans.store.repository import (
    insert_installments, load_loan_row, load_state, loan_policy, save_installment_changes, save_loan_state, tenant_policy,
)
from loans.receipts import standing_applications
from loans.store.tables import borrowers, loan_policies, loan_products, loan_transactions, loans, suspense_receipts


@dataclass(frozen=True, slots=True)
class MoneyResult:
    loan_id: uuid.UUID
    transaction_id: uuid.UUID
    journal_entry_id: uuid.UUID | None
    allocation: Allocation
    status: LoanStatus
    # The loan's row after the command and the transaction's row, as stored: a caller that shows
    # them (the API's payloads) has them without reading them again.
    loan: sa.Row
    transaction: sa.Row
    replayed: bool = False


# ---------------------------------------------------------------- products and borrowers


def create_product(conn: Connection, actor: Actor, values: Mapping[str, object]) -> Product:
    """A product, or a new version of an existing code; loans keep the version they were booked under."""
    product = parse_product({k: v for k, v in values.items() if k != "version"})
    codes = set(product.gl_accounts.values())
    known = load_accounts(conn, actor.tenant_id, codes)
    missing = sorted(codes - set(known))
    if missing:
        raise InvalidProduct(f"gl_accounts name accounts that do not exist: {', '.join(missing)}", field="gl_accounts")
    latest = conn.execute(
        sa.select(sa.func.max(loan_products.c.version)).where(
            loan_products.c.tenant_id == actor.tenant_id, loan_products.c.code == product.code
        )
    ).scalar()
    product = replace(product, version=(latest or 0) + 1)
    conn.execute(
        sa.insert(loan_products).values(
            tenant_id=actor.tenant_id, code=product.code, version=product.version, name=product.name,
            currency=product.currency, definition=canonical_json(product_to_json(product)),
            created_at=actor.now, created_by=actor.name,
        )
    )
    _created_in_this_transaction(conn).add((actor.tenant_id, product.code, product.version))
    record_event(conn, actor, "loan_product.created", "loan_product", f"{product.code}@{product.version}", after=product_to_json(product))
    return product


# Product versions by (database, tenant, code, version): every money command reads its loan's, and a
# committed version never changes (loan_products is insert-only; PostgreSQL refuses UPDATE and DELETE).
# The latest version of a code can change, so only reads that name a version use this.
_product_cache: dict[tuple[sa.URL, int, str, int], Product] = {}
products_cached_max = 10_000
# conn.info key: (transaction, versions it created). Until it commits that transaction alone sees them,
# and it may roll back and leave the number to a different product, so it never caches them.
_products_created = "loanbook_products_created"


def _created_in_this_transaction(conn: Connection) -> set[tuple[int, str, int]]:
    transaction = conn.get_transaction()
    created = conn.info.get(_products_created)
    if created is None or created[0] is not transaction:
        created = conn.info[_products_created] = (transaction, set())
    return created[1]


def get_product(conn: Connection, tenant_id: int, code: str, version: int | None = None) -> Product:
    if version:
        key = (conn.engine.url, tenant_id, code, version)
        cached = _product_cache.get(key)
        if cached is not None:
            return cached
    query = sa.select(loan_products.c.definition).where(loan_products.c.tenant_id == tenant_id, loan_products.c.code == code)
    query = query.where(loan_products.c.version == version) if version else query.order_by(loan_products.c.version.desc())
    definition = conn.execute(query.limit(1)).scalar()
    if definition is None:
        raise UnknownProduct(f"no loan product {code!r}" + (f" version {version}" if version else ""))
    product = product_from_json(json.loads(definition))
    if version and (tenant_id, code, version) not in _created_in_this_transaction(conn):
        if len(_product_cache) >= products_cached_max:
            _product_cache.clear()
        _product_cache[key] = product
    return product


def create_borrower(
    conn: Connection,
    actor: Actor,
    cipher: FieldCipher,
    *,
    name: str,
    kind: str = "INDIVIDUAL",
    national_id: str | None = None,
    phone: str | None = None,
    bank_account: str | None = None,
    address: str | None = None,
) -> uuid.UUID:
    if kind not in ("INDIVIDUAL", "COMPANY"):
        raise InvalidBorrower("kind must be INDIVIDUAL or COMPANY", field="kind")
    if not name or not name.strip() or len(name) > 200:
        raise InvalidBorrower("name must be 1 to 200 characters", field="name")
    if address is not None and len(address) > 500:
        raise InvalidBorrower("address must be at most 500 characters", field="address")
    check_borrower_fields(national_id, phone, bank_account)
    borrower_id = uuid7()
    context = f"borrower:{actor.tenant_id}:{borrower_id}"
    conn.execute(
        sa.insert(borrowers).values(
            tenant_id=actor.tenant_id, id=borrower_id, kind=kind, name=name.strip(),
            national_id_enc=cipher.encrypt(national_id, context=context + ":national_id"),
            national_id_index=cipher.blind_index(national_id),
            phone_enc=cipher.encrypt(phone, context=context + ":phone"),
            bank_account_enc=cipher.encrypt(bank_account, context=context + ":bank_account"),
            address=address, created_at=actor.now, created_by=actor.name,
        )
    )
    # Sensitive values never enter the audit log; only whether they were given.
    record_event(
        conn, actor, "borrower.created", "borrower", borrower_id,
        after={"name": name, "kind": kind, "national_id": national_id is not None, "phone": phone is not None,
               "bank_account": bank_account is not None},
    )
    return borrower_id


def reveal_borrower(conn: Connection, actor: Actor, cipher: FieldCipher, borrower_id: uuid.UUID) -> dict[str, str | None]:
    """The unmasked sensitive fields; every call is written to the audit log."""
    row = conn.execute(
        sa.select(borrowers).where(borrowers.c.tenant_id == actor.tenant_id, borrowers.c.id == borrower_id)
    ).first()
    if row is None:
        raise UnknownBorrower(f"no borrower with id {borrower_id}")
    context = f"borrower:{actor.tenant_id}:{borrower_id}"
    record_event(conn, actor, "borrower.pii_revealed", "borrower", borrower_id, reason=actor.reason)
    return {
        "national_id": cipher.decrypt(row.national_id_enc, context=context + ":national_id"),
        "phone": cipher.decrypt(row.phone_enc, context=context + ":phone"),
        "bank_account": cipher.decrypt(row.bank_account_enc, context=context + ":bank_account"),
    }


def set_classification_policy(conn: Connection, actor: Actor, values: Mapping[str, object]) -> ClassificationPolicy:
    """Set the tenant's five-tier boundaries (lowest DPD of each class) and provision rates.

    Takes effect from the next close of business; classes already stored are not rewritten.
    """
    before = tenant_policy(conn, actor.tenant_id)
    try:
        policy = policy_from_json({**policy_to_json(before), **dict(values)})
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise InvalidClassificationPolicy(f"classification policy: {exc}", field="classification") from None
    text = canonical_json(policy_to_json(policy))
    exists = conn.execute(sa.select(loan_policies.c.tenant_id).where(loan_policies.c.tenant_id == actor.tenant_id)).first()
    if exists:
        conn.execute(sa.update(loan_policies).where(loan_policies.c.tenant_id == actor.tenant_id).values(
            classification=text, updated_at=actor.now, updated_by=actor.name))
    else:
        conn.execute(sa.insert(loan_policies).values(
            tenant_id=actor.tenant_id, classification=text, updated_at=actor.now, updated_by=actor.name))
    record_event(conn, actor, "loan_policy.changed", "loan_policy", actor.tenant_id,
                 before=policy_to_json(before), after=policy_to_json(policy))
    return policy


# ---------------------------------------------------------------- lifecycle


def submit_application(
    conn: Connection,
    actor: Actor,
    *,
    borrower_id: uuid.UUID,
    product_code: str,
    principal: object,
    annual_rate: object,
    term_periods: int,
    disbursement_date: dt.date,
    first_due_date: dt.date | None = None,
) -> uuid.UUID:
    exists = conn.execute(
        sa.select(borrowers.c.id).where(borrowers.c.tenant_id == actor.tenant_id, borrowers.c.id == borrower_id)
    ).first()
    if exists is None:
        raise UnknownBorrower(f"no borrower with id {borrower_id}")
    product = get_product(conn, actor.tenant_id, product_code)
    app = Application(parse_decimal(principal, "principal"), parse_decimal(annual_rate, "annualRate"), term_periods, disbursement_date, first_due_date)
    schedule = schedule_for(product, app)  # refuses what the product or the schedule rules do not allow
    loan_id = uuid7()
    conn.execute(
        sa.insert(loans).values(
            tenant_id=actor.tenant_id, id=loan_id, borrower_id=borrower_id, product_code=product.code,
            product_version=product.version, status=LoanStatus.APPLIED.value, currency=product.currency,
            principal_requested=str(app.principal), annual_rate=str(app.annual_rate), term_periods=term_periods,
            expected_disbursement_date=disbursement_date, first_due_date=first_due_date,
            annualized_rate=str(schedule.annualized_rate), submitted_by=actor.name,
            created_at=actor.now, updated_at=actor.now,
        )
    )
    record_event(
        conn, actor, "loan.submitted", "loan", loan_id,
        after={"product": f"{product.code}@{product.version}", "principal": str(app.principal),
               "annual_rate": str(app.annual_rate), "term_periods": term_periods, "annualized_rate": str(schedule.annualized_rate)},
    )
    return loan_id


def decide_application(conn: Connection, actor: Actor, loan_id: uuid.UUID, decision: LoanStatus, reason: str | None = None) -> LoanStatus:
    """APPROVED, REJECTED or WITHDRAWN. Nobody approves an application they submitted."""
    row = load_loan_row(conn, actor.tenant_id, loan_id)
    current = LoanStatus(row.status)
    check_transition(current, decision)
    if decision is LoanStatus.APPROVED and row.submitted_by == actor.name:
        raise MakerChecker("the person who submitted an application cannot approve it")
    conn.execute(
        sa.update(loans)
        .where(loans.c.tenant_id == actor.tenant_id, loans.c.id == loan_id)
        .values(status=decision.value, decided_by=actor.name, decision_reason=reason, updated_at=actor.now)
    )
    record_event(conn, actor, f"loan.{decision.value.lower()}", "loan", loan_id,
                 before={"status": current.value}, after={"status": decision.value}, reason=reason)
    return decision


def disburse_loan(
    conn: Connection, actor: Actor, loan_id: uuid.UUID, day: dt.date, idempotency_key: str | None = None
) -> MoneyResult:
    request = {"type": "DISBURSEMENT", "loan": str(loan_id), "date": day.isoformat()}
    replay = _replay(conn, actor, idempotency_key, request)
    if replay:
        return replay
    row = load_loan_row(conn, actor.tenant_id, loan_id)
    check_transition(LoanStatus(row.status), LoanStatus.ACTIVE)
    product = get_product(conn, actor.tenant_id, row.product_code, row.product_version)
    app = Application(parse_decimal(row.principal_requested), parse_decimal(row.annual_rate), row.term_periods, day,
                      row.first_due_date if row.first_due_date and row.first_due_date > day else None)
    terms = terms_for(product, app)
    schedule = schedule_for(product, app)
    installments = installments_from(schedule)
    currency = product.currency
    financed, disbursed = to_minor(schedule.financed_principal, currency), to_minor(schedule.disbursed_amount, currency)
    fee = to_minor(terms.upfront_fee, currency)
    state = servicing.book(installments, currency)
    state = state._replace(last_cob_date=day)
    moves = servicing.disbursement_movements(financed, disbursed, fee)
    version = row.schedule_version + 1
    # The state (pools, status) is written by _book_money, with the transaction's number.
    conn.execute(
        sa.update(loans).where(loans.c.tenant_id == actor.tenant_id, loans.c.id == loan_id).values(
            schedule_version=version, disbursed_on=day, annualized_rate=str(schedule.annualized_rate),
            schedule_terms=canonical_json(terms_to_json(schedule.terms)),
        )
    )
    insert_installments(conn, actor.tenant_id, loan_id, version, installments)
    allocation = Allocation(principal=financed, fee=fee)
    return _book_money(conn, actor, product, row, "DISBURSEMENT", day, disbursed, allocation, moves, state,
                       idempotency_key, request, status_before=row.status)


def record_repayment(conn: Connection, actor: Actor, loan_id: uuid.UUID, amount: object, currency: str, day: dt.date,
                     idempotency_key: str | None = None) -> MoneyResult:
    return _money_command(
        conn, actor, loan_id, "REPAYMENT", amount, currency, day, idempotency_key,
        lambda state, product, minor: servicing.apply_payment(state, product, minor, day),
    )


def pay_off_loan(conn: Connection, actor: Actor, loan_id: uuid.UUID, amount: object, currency: str, day: dt.date,
                 idempotency_key: str | None = None) -> MoneyResult:
    return _money_command(
        conn, actor, loan_id, "PAYOFF", amount, currency, day, idempotency_key,
        lambda state, product, minor: servicing.pay_off(state, product, minor, day),
    )


def charge_fee(conn: Connection, actor: Actor, loan_id: uuid.UUID, amount: object, currency: str, day: dt.date,
               idempotency_key: str | None = None) -> MoneyResult:
    def apply(state: LoanState, product: Product, minor: int):
        new, moves = servicing.charge_fee(state, minor)
        return new, moves, Allocation(fee=minor)

    return _money_command(conn, actor, loan_id, "FEE_CHARGE", amount, currency, day, idempotency_key, apply)


def waive_charge(conn: Connection, actor: Actor, loan_id: uuid.UUID, kind: str, amount: object, currency: str,
                 day: dt.date, idempotency_key: str | None = None) -> MoneyResult:
    if kind not in ("FEE", "PENALTY"):
        raise InvalidProduct("a waiver is of FEE or PENALTY", field="kind")

    def apply(state: LoanState, product: Product, minor: int):
        new, moves = servicing.waive(state, kind, minor)
        return new, moves, Allocation(fee=minor) if kind == "FEE" else Allocation(penalty=minor)

    return _money_command(conn, actor, loan_id, f"{kind}_WAIVER", amount, currency, day, idempotency_key, apply)


def write_off_loan(conn: Connection, actor: Actor, loan_id: uuid.UUID, day: dt.date, amount: object | None = None,
                   currency: str | None = None, idempotency_key: str | None = None) -> MoneyResult:
    def apply(state: LoanState, product: Product, minor: int | None):
        new, moves = servicing.write_off(state, minor)
        return new, moves, Allocation(principal=state.principal - new.principal)

    return _money_command(conn, actor, loan_id, "WRITE_OFF", amount, currency, day, idempotency_key, apply, optional_amount=True)


def record_recovery(conn: Connection, actor: Actor, loan_id: uuid.UUID, amount: object, currency: str, day: dt.date,
                    idempotency_key: str | None = None) -> MoneyResult:
    def apply(state: LoanState, product: Product, minor: int):
        new, moves = servicing.recovery(state, minor)
        return new, moves, Allocation()

    return _money_command(conn, actor, loan_id, "RECOVERY", amount, currency, day, idempotency_key, apply, any_status=True)


def prepay_loan(
    conn: Connection, actor: Actor, loan_id: uuid.UUID, amount: object, currency: str, day: dt.date,
    mode: str | None = None, idempotency_key: str | None = None,
) -> MoneyResult:
    """Pay what is due and today's accrued interest, reduce principal, and re-schedule the rest.

    REDUCE_INSTALLMENT keeps the maturity; REDUCE_TERM keeps the installment. Default: the product's.
    """
    minor = _loan_amount(load_loan_row(conn, actor.tenant_id, loan_id), amount, currency)
    request = {"type": "PREPAYMENT", "loan": str(loan_id), "amount": minor, "currency": currency, "date": day.isoformat(), "mode": mode}
    replay = _replay(conn, actor, idempotency_key, request)
    if replay:
        return replay
    row, state, product = _active_loan(conn, actor, loan_id, day)
    chosen = product.prepayment_mode if mode is None else _prepayment_mode(mode)
    new_state, moves, allocation, schedule = restructuring.prepay(state, product, _current_terms(row, product), minor, day, chosen)
    _save_schedule(conn, actor, row, state, new_state, schedule)
    details = {"mode": chosen.value, "rescheduled": schedule is not None}
    return _book_money(conn, actor, product, row, "PREPAYMENT", day, minor, allocation, moves, new_state,
                       idempotency_key, request, status_before=state.status.value, details=details)


def restructure_preview(
    conn: Connection, tenant_id: int, loan_id: uuid.UUID, day: dt.date, *, annual_rate: object | None = None,
    term_periods: int | None = None, capitalise_arrears: bool = True,
) -> Schedule:
    """What-if: the schedule a restructure on `day` would give; nothing is written."""
    row, state = load_state(conn, tenant_id, loan_id)
    _check_date(row, day)
    product = get_product(conn, tenant_id, row.product_code, row.product_version)
    rate = None if annual_rate is None else parse_decimal(annual_rate, "annualRate")
    _, _, schedule, _ = restructuring.restructure_loan(
        state, product, _current_terms(row, product), day, annual_rate=rate, term_periods=term_periods,
        capitalise_arrears=capitalise_arrears,
    )
    return schedule


def restructure_loan(
    conn: Connection, actor: Actor, loan_id: uuid.UUID, day: dt.date, *, annual_rate: object | None = None,
    term_periods: int | None = None, capitalise_arrears: bool = True, idempotency_key: str | None = None,
) -> MoneyResult:
    """展期 / 分期重组: a new schedule from the outstanding balance; the old schedule stays readable."""
    rate = None if annual_rate is None else parse_decimal(annual_rate, "annualRate")
    request = {"type": "RESTRUCTURE", "loan": str(loan_id), "date": day.isoformat(), "rate": str(rate),
               "term": term_periods, "capitalise": capitalise_arrears}
    replay = _replay(conn, actor, idempotency_key, request)
    if replay:
        return replay
    row, state, product = _active_loan(conn, actor, loan_id, day)
    new_state, moves, schedule, capitalised = restructuring.restructure_loan(
        state, product, _current_terms(row, product), day, annual_rate=rate, term_periods=term_periods,
        capitalise_arrears=capitalise_arrears,
    )
    _save_schedule(conn, actor, row, state, new_state, schedule)
    details = {"capitalised": capitalised, "annual_rate": str(schedule.terms.annual_rate),
               "term_periods": schedule.terms.term_periods, "annualized_rate": str(schedule.annualized_rate)}
    return _book_money(conn, actor, product, row, "RESTRUCTURE", day, capitalised, Allocation(principal=capitalised),
                       moves, new_state, idempotency_key, request, status_before=state.status.value, details=details)


def _active_loan(conn: Connection, actor: Actor, loan_id: uuid.UUID, day: dt.date) -> tuple[sa.Row, LoanState, Product]:
    row, state = load_state(conn, actor.tenant_id, loan_id)
    if state.status is not LoanStatus.ACTIVE:
        raise LoanClosed(f"the loan is {state.status.value}", status=state.status.value)
    if _check_date(row, day):
        raise ReplayConflict("prepayments and restructures take effect on the open business date; they cannot be backdated")
    return row, state, get_product(conn, actor.tenant_id, row.product_code, row.product_version)


def _prepayment_mode(mode: str) -> PrepaymentMode:
    try:
        return PrepaymentMode(mode)
    except ValueError:
        raise InvalidProduct(f"mode must be REDUCE_INSTALLMENT or REDUCE_TERM, got {mode!r}", field="mode") from None


def _current_terms(row: sa.Row, product: Product) -> ScheduleTerms:
    if row.schedule_terms:
        return terms_from_json(json.loads(row.schedule_terms))
    return terms_for(product, _booked_application(row))


def _save_schedule(
    conn: Connection, actor: Actor, row: sa.Row, before: LoanState, after: LoanState, schedule: Schedule | None
) -> None:
    """Write the installments; with a new schedule, all of them under the next schedule version.

    The loan's state is written by _book_money.
    """
    if schedule is None:
        save_installment_changes(conn, actor.tenant_id, row, before, after)
        return
    version = row.schedule_version + 1
    insert_installments(conn, actor.tenant_id, row.id, version, after.installments)
    conn.execute(
        sa.update(loans).where(loans.c.tenant_id == actor.tenant_id, loans.c.id == row.id).values(
            schedule_version=version, schedule_terms=canonical_json(terms_to_json(schedule.terms)),
        )
    )


def receive_unidentified(
    conn: Connection, actor: Actor, amount: object, currency: str, day: dt.date, reference: str,
    idempotency_key: str | None = None,
) -> uuid.UUID:
    """Money in the bank that names no loan: Dr bank, Cr suspense, until someone applies it."""
    minor = to_minor(amount, currency)
    if minor <= 0:
        raise AmountNotPositive("a receipt must be a positive amount", field="amount")
    if not reference or len(reference) > 200:
        raise InvalidReceipt("reference must be 1 to 200 characters (the bank's narrative or payer)", field="reference")
    if idempotency_key:
        existing = conn.execute(
            sa.select(suspense_receipts).where(
                suspense_receipts.c.tenant_id == actor.tenant_id, suspense_receipts.c.idempotency_key == idempotency_key
            )
        ).first()
        if existing is not None:
            if (existing.amount, existing.currency, existing.received_on, existing.reference) != (minor, currency, day, reference):
                raise ledger_errors.IdempotencyConflict(f"idempotency key {idempotency_key!r} was already used for a different receipt")
            return existing.id
    roles = account_roles(conn, actor.tenant_id)
    draft = ledger_draft(day, (debit(roles["bank"], amount, currency), credit(roles["suspense"], amount, currency)),
                         f"unidentified receipt: {reference}"[:500], {"type": "UNIDENTIFIED_RECEIPT"})
    entry = ledger.post_entry(conn, actor, draft)
    receipt_id = uuid7()
    conn.execute(sa.insert(suspense_receipts).values(
        tenant_id=actor.tenant_id, id=receipt_id, received_on=day, currency=currency, amount=minor, reference=reference,
        journal_entry_id=entry.id, idempotency_key=idempotency_key, recorded_at=actor.now, actor=actor.name,
    ))
    record_event(conn, actor, "suspense.received", "suspense_receipt", receipt_id, after={"amount": minor, "currency": currency, "reference": reference})
    return receipt_id


def apply_receipt(
    conn: Connection, actor: Actor, receipt_id: uuid.UUID, loan_id: uuid.UUID, day: dt.date, idempotency_key: str | None = None,
) -> MoneyResult:
    """Apply an unidentified receipt to a loan as a repayment out of suspense (Dr suspense, Cr receivables).

    A receipt stands applied once at a time: reversing that repayment puts the money back in suspense
    (Dr receivables, Cr suspense) and the receipt can then be applied again, to this loan or another.
    """
    receipt = conn.execute(
        sa.select(suspense_receipts)
        .where(suspense_receipts.c.tenant_id == actor.tenant_id, suspense_receipts.c.id == receipt_id)
        .with_for_update()  # concurrent applications of one receipt queue here (SQLite serialises writers anyway)
    ).first()
    if receipt is None:
        raise UnknownReceipt(f"no unidentified receipt {receipt_id}", receipt_id=str(receipt_id))
    applied_on = max(day, receipt.received_on)
    amount = from_minor(receipt.amount, receipt.currency)
    replaying = idempotency_key is not None and conn.execute(
        sa.select(loan_transactions.c.id).where(
            loan_transactions.c.tenant_id == actor.tenant_id, loan_transactions.c.idempotency_key == idempotency_key
        )
    ).first() is not None
    if not replaying:
        standing = standing_applications(conn, actor.tenant_id, [receipt_id]).get(receipt_id)
        if standing is not None:
            raise ReceiptAlreadyApplied(
                f"receipt {receipt_id} is already applied (transaction {standing[0]}); reverse that repayment to apply it again",
                receipt_id=str(receipt_id),
            )
    result = _money_command(
        conn, actor, loan_id, "SUSPENSE_REPAYMENT", amount, receipt.currency, applied_on, idempotency_key,
        lambda state, product, minor: servicing.apply_payment(state, product, minor, applied_on, source="suspense"),
    )
    if result.replayed:
        # The key's request hash covers loan, amount and date, not the receipt: check the receipt too.
        marker = conn.execute(
            sa.select(loan_transactions.c.receipt_id).where(
                loan_transactions.c.tenant_id == actor.tenant_id, loan_transactions.c.type == "RECEIPT_APPLIED",
                loan_transactions.c.details == canonical_json({"transaction": str(result.transaction_id)}),
            )
        ).scalar()
        if marker != receipt_id:
            raise ledger_errors.IdempotencyConflict(f"idempotency key {idempotency_key!r} was already used for a different request")
        return result
    conn.execute(
        sa.insert(loan_transactions).values(
            tenant_id=actor.tenant_id, id=uuid7(), loan_id=loan_id, type="RECEIPT_APPLIED", effective_date=day,
            currency=receipt.currency, amount=0, receipt_id=receipt_id, details=canonical_json({"transaction": str(result.transaction_id)}),
            actor=actor.name, recorded_at=actor.now,
        )
    )
    return result


def payoff_quote(conn: Connection, tenant_id: int, loan_id: uuid.UUID, day: dt.date) -> Allocation:
    row, state = load_state(conn, tenant_id, loan_id)
    _check_date(row, day)
    product = get_product(conn, tenant_id, row.product_code, row.product_version)
    return servicing.payoff_quote(state, product, day)


# ---------------------------------------------------------------- the common path of money commands

Apply = Callable[[LoanState, Product, int], tuple[LoanState, list[Movement], Allocation]]


def _money_command(
    conn: Connection, actor: Actor, loan_id: uuid.UUID, kind: str, amount: object, currency: str | None,
    day: dt.date, idempotency_key: str | None, apply: Apply, *, optional_amount: bool = False, any_status: bool = False,
) -> MoneyResult:
    row = load_loan_row(conn, actor.tenant_id, loan_id)
    minor = None
    if amount is not None or not optional_amount:
        minor = _loan_amount(row, amount, currency)
    request = {"type": kind, "loan": str(loan_id), "amount": minor, "currency": currency, "date": day.isoformat()}
    replay = _replay(conn, actor, idempotency_key, request)
    if replay:
        return replay
    row, state = load_state(conn, actor.tenant_id, loan_id, row=row)  # the row read above, locked: nothing changed it
    if not any_status and state.status is not LoanStatus.ACTIVE:
        raise LoanClosed(f"the loan is {state.status.value}", status=state.status.value)
    backdated = _check_date(row, day)
    product = get_product(conn, actor.tenant_id, row.product_code, row.product_version)
    if backdated:
        # Replay the loan with the new event in its place; post only what changes.
        events = _load_events(conn, actor.tenant_id, loan_id)
        added = Event("new", kind, day, minor)
        new_state, moves, allocations = _replayed_change(
            row, state, product, events, [*events, added], loan_policy(row)
        )
        allocation = allocations["new"]
    else:
        new_state, moves, allocation = apply(state, product, minor)  # type: ignore[arg-type]
    save_installment_changes(conn, actor.tenant_id, row, state, new_state)  # the loan's row: _book_money
    details = {"full": True} if kind == "WRITE_OFF" and minor is None else None
    return _book_money(conn, actor, product, row, kind, day, minor or allocation.principal, allocation, moves, new_state,
                       idempotency_key, request, status_before=state.status.value, details=details, backdated=backdated)


def reverse_transaction(
    conn: Connection, actor: Actor, loan_id: uuid.UUID, transaction_id: uuid.UUID, day: dt.date,
    idempotency_key: str | None = None,
) -> MoneyResult:
    """Undo a repayment (a bounced payment), payoff, fee, waiver, write-off or recovery.

    The loan is replayed without it and only the accounting differences are posted, dated `day`.
    """
    request = {"type": "REVERSAL", "loan": str(loan_id), "transaction": str(transaction_id), "date": day.isoformat()}
    replay = _replay(conn, actor, idempotency_key, request)
    if replay:
        return replay
    row, state = load_state(conn, actor.tenant_id, loan_id)
    target = conn.execute(
        sa.select(loan_transactions).where(
            loan_transactions.c.tenant_id == actor.tenant_id, loan_transactions.c.loan_id == loan_id,
            loan_transactions.c.id == transaction_id,
        )
    ).first()
    if target is None:
        raise UnknownTransaction(f"loan {loan_id} has no transaction {transaction_id}")
    if target.type not in replayable_kinds:
        raise IllegalTransition(f"a {target.type} transaction cannot be reversed", status=target.type)
    already = conn.execute(
        sa.select(loan_transactions.c.id).where(
            loan_transactions.c.tenant_id == actor.tenant_id, loan_transactions.c.reverses_transaction_id == transaction_id
        )
    ).first()
    if already is not None:
        raise ledger_errors.AlreadyReversed(f"transaction {transaction_id} was already reversed by {already.id}")
    if day < target.effective_date:
        raise DateBeforeDisbursement(f"a reversal cannot be dated before the transaction it reverses ({target.effective_date})", field="date")
    product = get_product(conn, actor.tenant_id, row.product_code, row.product_version)
    events = _load_events(conn, actor.tenant_id, loan_id)
    new_state, moves, _ = _replayed_change(
        row, state, product, events, [e for e in events if e.key != transaction_id], loan_policy(row)
    )
    save_installment_changes(conn, actor.tenant_id, row, state, new_state)  # the loan's row: _book_money
    return _book_money(
        conn, actor, product, row, "REVERSAL", day, target.amount, Allocation(), moves, new_state, idempotency_key,
        request, status_before=state.status.value, reverses=transaction_id,
    )


replayable_kinds = ("REPAYMENT", "SUSPENSE_REPAYMENT", "PAYOFF", "FEE_CHARGE", "FEE_WAIVER", "PENALTY_WAIVER", "WRITE_OFF", "RECOVERY")


def _load_events(conn: Connection, tenant_id: int, loan_id: uuid.UUID) -> list[Event]:
    t = loan_transactions
    rows = conn.execute(
        sa.select(t.c.id, t.c.type, t.c.effective_date, t.c.amount, t.c.details, t.c.reverses_transaction_id)
        .where(t.c.tenant_id == tenant_id, t.c.loan_id == loan_id, t.c.sequence.is_not(None))
        .order_by(t.c.sequence)
    ).all()
    reversed_ids = {r.reverses_transaction_id for r in rows if r.reverses_transaction_id}
    events = []
    for r in rows:
        if r.type not in replayable_kinds or r.id in reversed_ids:
            continue
        full = r.type == "WRITE_OFF" and r.details and json.loads(r.details).get("full")
        events.append(Event(r.id, r.type, r.effective_date, None if full else r.amount))
    return events


def _replayed_change(
    row: sa.Row, state: LoanState, product: Product, old_events: list[Event], new_events: list[Event],
    policy: ClassificationPolicy,
) -> tuple[LoanState, list[Movement], dict]:
    if row.schedule_version != 1:
        raise ReplayConflict("loans with a regenerated schedule cannot be replayed yet")
    installments = installments_from(schedule_for(product, _booked_application(row)))
    through = row.last_cob_date
    old = replay(product, installments, row.disbursed_on, old_events, through, policy)
    if old.state != state:
        raise ReplayMismatch("the loan's stored state differs from a replay of its history; run loanbook verify")
    new = replay(product, installments, row.disbursed_on, new_events, through, policy)
    return new.state, difference(old.movements, new.movements), new.allocations


def _booked_application(row: sa.Row) -> Application:
    first_due = row.first_due_date if row.first_due_date and row.first_due_date > row.disbursed_on else None
    return Application(parse_decimal(row.principal_requested), parse_decimal(row.annual_rate), row.term_periods, row.disbursed_on, first_due)


def _loan_amount(row: sa.Row, amount: object, currency: str | None) -> int:
    """A positive amount in the loan's own currency, in minor units (floats and over-precision refused)."""
    if currency != row.currency:
        raise WrongCurrency(f"the loan is in {row.currency}, not {currency}", field="currency")
    minor = to_minor(amount, row.currency)
    if minor <= 0:
        raise AmountNotPositive("the amount must be positive", field="amount")
    return minor


def _check_date(row: sa.Row, day: dt.date) -> bool:
    """True when `day` is backdated (on or before the loan's last closed business date)."""
    if row.disbursed_on is None:
        raise IllegalTransition(f"the loan is {row.status} and has not been disbursed", status=row.status)
    if day < row.disbursed_on:
        raise DateBeforeDisbursement(f"{day} is before the disbursement date {row.disbursed_on}", field="date")
    if row.status != LoanStatus.ACTIVE.value:
        return False  # a closed loan no longer has business dates; recoveries may come any day
    business_date = row.last_cob_date + dt.timedelta(days=1)
    if day > business_date:
        # Running ahead of close of business would apply the transaction before days it follows.
        raise DateAfterBusinessDate(
            f"{day} is after the loan's open business date {business_date}; run close of business first", field="date"
        )
    return day <= row.last_cob_date and row.last_cob_date > row.disbursed_on


def _book_money(
    conn: Connection, actor: Actor, product: Product, row: sa.Row, kind: str, day: dt.date, amount: int,
    allocation: Allocation, moves: list[Movement], state: LoanState, idempotency_key: str | None,
    request: Mapping[str, object], *, status_before: str, details: Mapping | None = None, backdated: bool = False,
    reverses: uuid.UUID | None = None,
) -> MoneyResult:
    """Write the loan's new state, its journal entry, the transaction and the audit event.

    `row` is the loan's row as this transaction read it, locked.
    """
    loan_id = row.id
    metadata = {"loan_id": str(loan_id), "type": kind}
    if backdated:
        metadata["backdated"] = True
    if reverses:
        metadata["reverses_transaction"] = str(reverses)
    draft = entry_for(
        net_by_account(moves, product.gl_accounts), product.currency, day,
        f"{kind.replace('_', ' ').lower()} loan {loan_id}" + (" (replayed)" if backdated or reverses else ""), metadata,
    )
    closed = state.status in (LoanStatus.PAID_OFF, LoanStatus.WRITTEN_OFF)
    loan = save_loan_state(conn, actor, row, state, closed_on=(row.closed_on or day) if closed else None)
    transaction_id = uuid7()
    event = {
        "action": f"loan.{kind.lower()}", "entity_type": "loan", "entity_id": loan_id, "before": {"status": status_before},
        "after": {"status": state.status.value, "transaction": str(transaction_id), "amount": amount,
                  "principal": state.principal, "interest": state.interest, "fee": state.fee, "penalty": state.penalty},
    }
    # With an entry the event travels in the ledger's posting statement (and is sealed with it).
    entry = ledger.post_entry(conn, actor, draft, events=[event]) if draft else None
    if entry is None:
        record_events(conn, actor, [event])
    transaction = conn.execute(_insert_transaction(), {
        "tenant_id": actor.tenant_id, "id": transaction_id, "loan_id": loan_id, "sequence": loan.transactions_recorded,
        "type": kind, "effective_date": day, "currency": product.currency, "amount": amount, "principal": allocation.principal,
        "interest": allocation.interest, "fee": allocation.fee, "penalty": allocation.penalty,
        "overpayment": allocation.overpayment, "journal_entry_id": entry.id if entry else None,
        "idempotency_key": idempotency_key, "details": canonical_json(dict(details)) if details else None,
        "reverses_transaction_id": reverses, "request_hash": _hash(request) if idempotency_key else None,
        "actor": actor.name, "recorded_at": actor.now,
    }).one()
    return MoneyResult(loan_id, transaction_id, entry.id if entry else None, allocation, state.status, loan, transaction)


@functools.cache
def _insert_transaction() -> sa.Insert:
    return sa.insert(loan_transactions).returning(loan_transactions)


def _hash(request: Mapping[str, object]) -> str:
    return hashlib.sha256(canonical_json(dict(request)).encode()).hexdigest()


@functools.cache
def _transaction_by_key() -> sa.Select:
    t = loan_transactions
    return sa.select(t).where(t.c.tenant_id == sa.bindparam("tenant_id"), t.c.idempotency_key == sa.bindparam("key"))


def _replay(conn: Connection, actor: Actor, key: str | None, request: Mapping[str, object]) -> MoneyResult | None:
    if not key:
        return None
    row = conn.execute(_transaction_by_key(), {"tenant_id": actor.tenant_id, "key": key}).first()
    if row is None:
        return None
    if row.request_hash != _hash(request):
        raise ledger_errors.IdempotencyConflict(f"idempotency key {key!r} was already used for a different request")
    loan = load_loan_row(conn, actor.tenant_id, row.loan_id, lock=False)
    allocation = Allocation(row.penalty, row.fee, row.interest, row.principal, row.overpayment)
    return MoneyResult(row.loan_id, row.id, row.journal_entry_id, allocation, LoanStatus(loan.status), loan, row, replayed=True)
