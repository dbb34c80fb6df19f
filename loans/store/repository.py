"""Loans' rows: read a loan (locked for the command's transaction) and its servicing state, write them back.

Every function returns loans.model values, never a row: what leaves the store is the domain's.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import operator
import uuid
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.actor import Actor
from loans.delinquency import ClassificationPolicy, bucket_for, class_for, default_policy, policy_from_json
from loans.errors import UnknownLoan
from loans.model import Loan
from loans.state import InstallmentState, LoanState, LoanStatus
from loans.store.bulk import update_rows
from loans.store.tables import loan_installments, loan_policies, loans

pool_columns = (
    "principal", "interest", "interest_suspended", "fee", "charges", "penalty", "penalty_suspended",
    "overpayment", "allowance", "written_off", "recovered", "written_off_interest", "written_off_fee",
    "written_off_penalty",
)
# The restructure's observation columns, carried like the pools.
observation_columns = ("restructured_on", "observation_ends_on", "class_floor")
installment_mutable = (
    "principal", "interest", "fee", "principal_paid", "interest_paid", "fee_paid", "interest_accrued",
    "fee_recognised", "late_fee_charged",
)


# The statements of every money command, built once with bound parameters: composing a SQLAlchemy
# expression (coercions, cache key, `.values()`) cost more CPU per call than running it.


@functools.cache
def _loan_row_query(lock: bool) -> sa.Select:
    # The tenant's classification policy rides along: a tenant may change it (from any process) at
    # any time, so it is read with the loan, in the same statement, rather than cached or read apart.
    policy = sa.select(loan_policies.c.classification).where(loan_policies.c.tenant_id == loans.c.tenant_id)
    query = sa.select(loans, policy.scalar_subquery().label("classification_policy")).where(
        loans.c.tenant_id == sa.bindparam("tenant_id"), loans.c.id == sa.bindparam("loan_id")
    )
    return query.with_for_update(of=loans) if lock else query


def load_loan(conn: Connection, tenant_id: int, loan_id: uuid.UUID, *, lock: bool = True) -> Loan:
    """The loan (its row locked for this transaction unless `lock` is false), with its tenant's
    classification policy."""
    row = conn.execute(_loan_row_query(lock), {"tenant_id": tenant_id, "loan_id": loan_id}).first()
    if row is None:
        raise UnknownLoan(f"no loan with id {loan_id}", loan=str(loan_id))
    text = row.classification_policy
    return loan_from_row(row, default_policy if text is None else _policy_from_text(text))


_loan_columns = tuple(loans.c.keys())


def loan_from_row(row: sa.Row, policy: ClassificationPolicy) -> Loan:
    """A Loan from a row holding every loans column (others, like a joined policy, are ignored)."""
    values = row._mapping
    columns = {name: values[name] for name in _loan_columns}
    columns["status"] = LoanStatus(columns["status"])
    return Loan(**columns, classification_policy=policy)


@functools.lru_cache(maxsize=64)
def _policy_from_text(text: str) -> ClassificationPolicy:
    return policy_from_json(json.loads(text))  # immutable (a frozen dataclass): safe to share


# Every LoanState field after (currency, status, installments) is a loans column of the same name.
_state_columns = operator.attrgetter(*LoanState._fields[3:])


def state_from_rows(row: Loan | sa.Row, installment_rows: Sequence[sa.Row]) -> LoanState:
    installments = tuple(InstallmentState._make(r[2:]) for r in installment_rows)
    return LoanState(row.currency, LoanStatus(row.status), installments, *_state_columns(row))


def load_installments(
    conn: Connection, tenant_id: int, loan_ids: Sequence[uuid.UUID], versions: dict, *, open_before: dt.date | None = None
) -> dict:
    """Installments of the loans' current schedules.

    `open_before` loads only what close of business up to that date can touch: installments whose
    accrual started before it and that are not yet fully accrued and paid. The others cannot change
    that day, and leaving them out keeps COB reading one or two rows per loan, not the whole schedule.
    """
    t = loan_installments
    # Columns in InstallmentState's field order, so each row becomes a state with one _make.
    query = sa.select(t.c.loan_id, t.c.schedule_version, *[t.c[name] for name in InstallmentState._fields]).where(
        t.c.tenant_id == tenant_id, t.c.loan_id.in_(list(loan_ids))
    )
    if open_before is not None:
        query = query.where(
            t.c.accrual_start < open_before,
            sa.or_(
                t.c.principal_paid < t.c.principal, t.c.interest_paid < t.c.interest, t.c.fee_paid < t.c.fee,
                t.c.interest_accrued < t.c.interest, sa.not_(t.c.fee_recognised),
            ),
        )
    rows = conn.execute(query.order_by(t.c.loan_id, t.c.number)).all()
    grouped: dict[uuid.UUID, list[sa.Row]] = {loan_id: [] for loan_id in loan_ids}
    for r in rows:
        if r.schedule_version == versions[r.loan_id]:
            grouped[r.loan_id].append(r)
    return grouped


@functools.cache
def _schedule_query() -> sa.Select:
    t = loan_installments
    # Columns in the order load_installments reads them: state_from_rows skips the first two.
    return sa.select(t.c.loan_id, t.c.schedule_version, *[t.c[name] for name in InstallmentState._fields]).where(
        t.c.tenant_id == sa.bindparam("tenant_id"), t.c.loan_id == sa.bindparam("loan_id"),
        t.c.schedule_version == sa.bindparam("version"),
    ).order_by(t.c.number)


def load_state(conn: Connection, tenant_id: int, loan_id: uuid.UUID, *, loan: Loan | None = None) -> tuple[Loan, LoanState]:
    """The loan (locked) and its state; pass `loan` when this transaction already read it with its lock."""
    if loan is None:
        loan = load_loan(conn, tenant_id, loan_id)
    params = {"tenant_id": tenant_id, "loan_id": loan_id, "version": loan.schedule_version}
    return loan, state_from_rows(loan, conn.execute(_schedule_query(), params).all())


def insert_installments(conn: Connection, tenant_id: int, loan_id: uuid.UUID, version: int, installments: Sequence[InstallmentState]) -> None:
    conn.execute(
        sa.insert(loan_installments),
        [
            {"tenant_id": tenant_id, "loan_id": loan_id, "schedule_version": version,
             **i._asdict()}
            for i in installments
        ],
    )


def loan_values(state: LoanState, policy: ClassificationPolicy = default_policy) -> dict:
    return {
        **{name: getattr(state, name) for name in pool_columns},
        **{name: getattr(state, name) for name in observation_columns},
        "status": state.status.value,
        "non_accrual": state.non_accrual,
        "dpd": state.dpd,
        "bucket": bucket_for(state.dpd).value,
        "loan_class": class_for(state.dpd, policy, state.class_floor).value,
        "last_cob_date": state.last_cob_date,
    }


@functools.cache
def _save_loan_state() -> sa.Update:
    # The SET list is the columns the parameters name (loan_values' and the two below), plus the counter.
    return (
        sa.update(loans)
        .where(loans.c.tenant_id == sa.bindparam("b_tenant_id"), loans.c.id == sa.bindparam("b_loan_id"))
        .values(transactions_recorded=loans.c.transactions_recorded + 1)
    )


def save_loan_state(conn: Connection, actor: Actor, loan: Loan, after: LoanState, *, closed_on: dt.date | None) -> Loan:
    """Write a loan's state after a money command and count the transaction it records, in one statement.

    `loan` is as load_loan read it (locked): its policy classifies the loan. Returns the loan as
    written; its `transactions_recorded` is the recorded transaction's sequence.
    """
    values = {**loan_values(after, loan.classification_policy), "closed_on": closed_on, "updated_at": actor.now}
    conn.execute(_save_loan_state(), {**values, "b_tenant_id": actor.tenant_id, "b_loan_id": loan.id})
    # The row is locked by this transaction, so what was written is the read row with these values:
    # built here rather than read back (RETURNING every column costs more than the update itself).
    values["status"] = after.status
    return dataclasses.replace(loan, **values, transactions_recorded=loan.transactions_recorded + 1)


def save_installment_changes(conn: Connection, tenant_id: int, loan: Loan, before: LoanState, after: LoanState) -> None:
    """Write the installments of the loan's current schedule that differ between the two states."""
    changed = [a for b, a in zip(before.installments, after.installments) if a != b]
    save_installments(conn, tenant_id, [(loan.id, loan.schedule_version, i) for i in changed])


def save_installments(conn: Connection, tenant_id: int, changed: Sequence[tuple[uuid.UUID, int, InstallmentState]]) -> None:
    """Write these installments' mutable columns, one statement on PostgreSQL (loans.store.bulk)."""
    update_rows(
        conn, loan_installments, ("tenant_id", "loan_id", "schedule_version", "number"), installment_mutable,
        [
            {"tenant_id": tenant_id, "loan_id": loan_id, "schedule_version": version, "number": i.number,
             **{name: getattr(i, name) for name in installment_mutable}}
            for loan_id, version, i in changed
        ],
    )


def tenant_policy(conn: Connection, tenant_id: int) -> ClassificationPolicy:
    """The tenant's classification boundaries and provision rates (the defaults when none are set)."""
    text = conn.execute(sa.select(loan_policies.c.classification).where(loan_policies.c.tenant_id == tenant_id)).scalar()
    return default_policy if text is None else _policy_from_text(text)


def save_tenant_policy(conn: Connection, actor: Actor, text: str) -> None:
    """Set the tenant's classification policy (canonical JSON), replacing the one in force."""
    values = {"classification": text, "updated_at": actor.now, "updated_by": actor.name}
    exists = conn.execute(sa.select(loan_policies.c.tenant_id).where(loan_policies.c.tenant_id == actor.tenant_id)).first()
    if exists:
        conn.execute(sa.update(loan_policies).where(loan_policies.c.tenant_id == actor.tenant_id).values(**values))
    else:
        conn.execute(sa.insert(loan_policies).values(tenant_id=actor.tenant_id, **values))


def insert_loan(conn: Connection, actor: Actor, values: Mapping[str, object]) -> None:
    """A new application: `values` are the loans columns it sets (the pools start at zero)."""
    conn.execute(sa.insert(loans).values(tenant_id=actor.tenant_id, **values))


def update_loan(conn: Connection, loan: Loan, values: Mapping[str, object]) -> Loan:
    """Set lifecycle and schedule columns (a decision, a disbursement, a new schedule version) of a loan
    this transaction read locked; returns it as written.

    The servicing state is written by save_loan_state, with the number of the transaction it records.
    """
    conn.execute(sa.update(loans).where(loans.c.tenant_id == loan.tenant_id, loans.c.id == loan.id).values(**values))
    written = dict(values)
    if "status" in written:
        written["status"] = LoanStatus(written["status"])
    return dataclasses.replace(loan, **written)
