"""Load and save a loan's servicing state; rows are locked for the command's transaction."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.actor import Actor
from loans.delinquency import ClassificationPolicy, bucket_for, class_for, default_policy, policy_from_json
from loans.errors import UnknownLoan
from loans.state import InstallmentState, LoanState, LoanStatus
from loans.store.tables import loan_installments, loan_policies, loans

pool_columns = (
    "principal", "interest", "interest_suspended", "fee", "charges", "penalty", "penalty_suspended",
    "overpayment", "allowance", "written_off", "recovered",
)
installment_mutable = (
    "principal", "interest", "fee", "principal_paid", "interest_paid", "fee_paid", "interest_accrued",
    "fee_recognised", "late_fee_charged",
)


def load_loan_row(conn: Connection, tenant_id: int, loan_id: uuid.UUID, *, lock: bool = True) -> sa.Row:
    query = sa.select(loans).where(loans.c.tenant_id == tenant_id, loans.c.id == loan_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise UnknownLoan(f"no loan with id {loan_id}", loan=str(loan_id))
    return row


def state_from_rows(row: sa.Row, installment_rows: Sequence[sa.Row]) -> LoanState:
    installments = tuple(InstallmentState._make(r[2:]) for r in installment_rows)
    return LoanState(
        currency=row.currency,
        status=LoanStatus(row.status),
        installments=installments,
        non_accrual=row.non_accrual,
        dpd=row.dpd,
        last_cob_date=row.last_cob_date,
        **{name: getattr(row, name) for name in pool_columns},
    )


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


def load_state(conn: Connection, tenant_id: int, loan_id: uuid.UUID, *, row: sa.Row | None = None) -> tuple[sa.Row, LoanState]:
    """The loan's row (locked) and state; pass `row` when this transaction already read it with its lock."""
    if row is None:
        row = load_loan_row(conn, tenant_id, loan_id)
    grouped = load_installments(conn, tenant_id, [loan_id], {loan_id: row.schedule_version})
    return row, state_from_rows(row, grouped[loan_id])


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
        "status": state.status.value,
        "non_accrual": state.non_accrual,
        "dpd": state.dpd,
        "bucket": bucket_for(state.dpd).value,
        "loan_class": class_for(state.dpd, policy).value,
        "last_cob_date": state.last_cob_date,
    }


def save_state(conn: Connection, actor: Actor, row: sa.Row, before: LoanState, after: LoanState, **extra: object) -> None:
    conn.execute(
        sa.update(loans)
        .where(loans.c.tenant_id == actor.tenant_id, loans.c.id == row.id)
        .values(**loan_values(after, tenant_policy(conn, actor.tenant_id)), updated_at=actor.now, **extra)
    )
    changed = [a for b, a in zip(before.installments, after.installments) if a != b]
    save_installments(conn, actor.tenant_id, [(row.id, row.schedule_version, i) for i in changed])


def save_installments(conn: Connection, tenant_id: int, changed: Sequence[tuple[uuid.UUID, int, InstallmentState]]) -> None:
    if not changed:
        return
    t = loan_installments
    stmt = (
        sa.update(t)
        .where(
            t.c.tenant_id == sa.bindparam("b_tenant"),
            t.c.loan_id == sa.bindparam("b_loan"),
            t.c.schedule_version == sa.bindparam("b_version"),
            t.c.number == sa.bindparam("b_number"),
        )
        .values({name: sa.bindparam(f"v_{name}") for name in installment_mutable})
    )
    conn.execute(
        stmt,
        [
            {"b_tenant": tenant_id, "b_loan": loan_id, "b_version": version, "b_number": i.number,
             **{f"v_{name}": getattr(i, name) for name in installment_mutable}}
            for loan_id, version, i in changed
        ],
    )


def tenant_policy(conn: Connection, tenant_id: int) -> ClassificationPolicy:
    """The tenant's classification boundaries and provision rates (the defaults when none are set)."""
    text = conn.execute(sa.select(loan_policies.c.classification).where(loan_policies.c.tenant_id == tenant_id)).scalar()
    return default_policy if text is None else policy_from_json(json.loads(text))
