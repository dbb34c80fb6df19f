"""Loan transactions: insert-only rows of every money movement, and the history replays read back."""
from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.model import canonical_json
from loans.model import LoanTransaction, TransactionKind, replayed_kinds
from loans.replay import Event
from loans.store.tables import cob_runs, loan_transactions

_columns = tuple(loan_transactions.c.keys())
# The server-side defaults (amounts default to zero), as Python values.
_defaults = {c.name: int(c.server_default.arg) for c in loan_transactions.c if c.server_default is not None}


def transaction_from_row(row: sa.Row) -> LoanTransaction:
    values = {name: row._mapping[name] for name in _columns}
    values["type"] = TransactionKind(values["type"])
    return LoanTransaction(**values)


@functools.cache
def _insert_transaction() -> sa.Insert:
    # Built once: composing the expression per call cost more CPU than running it.
    return sa.insert(loan_transactions)


def insert_transaction(conn: Connection, values: Mapping[str, object]) -> LoanTransaction:
    """Record a transaction and return it as stored: the columns `values` leave out take their defaults
    (zero for an amount, else null).

    The row is insert-only, so what is stored is what was sent: the value is built here, not read back.
    """
    conn.execute(_insert_transaction(), dict(values))
    row = {name: values.get(name, _defaults.get(name)) for name in _columns}
    row["type"] = TransactionKind(row["type"])
    return LoanTransaction(**row)


@functools.cache
def _transaction_by_id() -> sa.Select:
    t = loan_transactions
    return sa.select(t).where(t.c.tenant_id == sa.bindparam("tenant_id"), t.c.id == sa.bindparam("id"))


def load_transaction(conn: Connection, tenant_id: int, transaction_id: uuid.UUID, *, loan_id: uuid.UUID | None = None) -> LoanTransaction | None:
    """The transaction, or None; with `loan_id`, only if it is that loan's."""
    row = conn.execute(_transaction_by_id(), {"tenant_id": tenant_id, "id": transaction_id}).first()
    if row is None or (loan_id is not None and row.loan_id != loan_id):
        return None
    return transaction_from_row(row)


def reversal_of(conn: Connection, tenant_id: int, transaction_id: uuid.UUID) -> uuid.UUID | None:
    """The id of the transaction that reversed this one, if any (a transaction is reversed at most once)."""
    return conn.execute(
        sa.select(loan_transactions.c.id).where(
            loan_transactions.c.tenant_id == tenant_id, loan_transactions.c.reverses_transaction_id == transaction_id
        )
    ).scalar()


def load_events(conn: Connection, tenant_id: int, loan_id: uuid.UUID, known_on: dt.datetime | None = None) -> list[Event]:
    """The loan's replayable money events in the order they happened, without reversed ones.

    A write-off of everything is recorded with the principal it took; replayed, it takes all again.
    A prepayment carries its mode and a restructure its new terms (its details). With `known_on`,
    only what was recorded by then: an event recorded later is left out, and so is a later reversal
    (the event it reversed stands, as it did then).
    """
    t = loan_transactions
    query = (
        sa.select(t.c.id, t.c.type, t.c.effective_date, t.c.amount, t.c.details, t.c.reverses_transaction_id)
        .where(t.c.tenant_id == tenant_id, t.c.loan_id == loan_id, t.c.sequence.is_not(None))
        .order_by(t.c.sequence)
    )
    if known_on is not None:
        query = query.where(t.c.recorded_at <= known_on)
    rows = conn.execute(query).all()
    reversed_ids = {r.reverses_transaction_id for r in rows if r.reverses_transaction_id}
    events = []
    for r in rows:
        if r.type not in replayed_kinds or r.id in reversed_ids:
            continue
        details = json.loads(r.details) if r.details else {}
        full = r.type == TransactionKind.WRITE_OFF and details.get("full")
        if r.type == TransactionKind.RESTRUCTURE and "capitalise" not in details:
            # Recorded before the flag was: it capitalised iff it capitalised something (with no
            # arrears both ways give the same schedule).
            details["capitalise"] = int(details.get("capitalised", 0)) > 0
        events.append(Event(r.id, r.type, r.effective_date, None if full else r.amount, details or None))
    return events


def disbursement_known(conn: Connection, tenant_id: int, loan_id: uuid.UUID, known_on: dt.datetime) -> bool:
    """Whether the loan's disbursement was recorded by `known_on`."""
    t = loan_transactions
    return conn.execute(
        sa.select(t.c.id).where(
            t.c.tenant_id == tenant_id, t.c.loan_id == loan_id, t.c.type == TransactionKind.DISBURSEMENT.value,
            t.c.recorded_at <= known_on,
        ).limit(1)
    ).first() is not None


def last_closed_known(conn: Connection, tenant_id: int, known_on: dt.datetime) -> dt.date | None:
    """The tenant's last business date whose close of business had finished by `known_on`."""
    return conn.execute(
        sa.select(sa.func.max(cob_runs.c.business_date)).where(
            cob_runs.c.tenant_id == tenant_id, cob_runs.c.status == "DONE", cob_runs.c.finished_at <= known_on,
        )
    ).scalar()


def _marker_details(transaction_id: uuid.UUID) -> str:
    return canonical_json({"transaction": str(transaction_id)})


def insert_receipt_marker(conn: Connection, values: Mapping[str, object], receipt_id: uuid.UUID, applied_by: uuid.UUID) -> None:
    """Name the receipt that the repayment `applied_by` applied: a zero-amount RECEIPT_APPLIED transaction."""
    conn.execute(sa.insert(loan_transactions).values(
        **values, type=TransactionKind.RECEIPT_APPLIED.value, amount=0, receipt_id=receipt_id,
        details=_marker_details(applied_by),
    ))


def receipt_applied_by(conn: Connection, tenant_id: int, transaction_id: uuid.UUID) -> uuid.UUID | None:
    """The receipt a repayment out of suspense applied."""
    t = loan_transactions
    return conn.execute(
        sa.select(t.c.receipt_id).where(
            t.c.tenant_id == tenant_id, t.c.type == TransactionKind.RECEIPT_APPLIED.value,
            t.c.details == _marker_details(transaction_id),
        )
    ).scalar()
