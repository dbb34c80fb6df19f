"""Portfolio as of a date and each loan's statement: read-only queries (they bypass the domain)."""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loans import history
from loans.catalogue import get_product
from loans.delinquency import Bucket, LoanClass
from loans.errors import UnknownLoan
from loans.model import Loan
from loans.state import LoanState
from loans.store.repository import load_installments, load_loan, state_from_rows
from loans.store.tables import cob_runs, loan_snapshots, loan_transactions


@dataclass
class Slice:
    count: int = 0
    principal: int = 0
    provision: int = 0


@dataclass
class Portfolio:
    as_of: dt.date
    business_date: dt.date | None  # the closed business date the figures come from
    currency: str
    loans: int = 0
    principal: int = 0
    interest: int = 0
    fees: int = 0
    penalties: int = 0
    provisions: int = 0
    par30_principal: int = 0
    par90_principal: int = 0
    non_accrual: int = 0
    by_bucket: dict[Bucket, Slice] = field(default_factory=lambda: {b: Slice() for b in Bucket})
    by_class: dict[LoanClass, Slice] = field(default_factory=lambda: {c: Slice() for c in LoanClass})

    def ratio(self, part: int) -> str:
        """A ratio of outstanding principal as a decimal string with 4 places ("0.0312")."""
        if not self.principal:
            return "0.0000"
        return _ratio(part, self.principal)

    @property
    def par30(self) -> str:
        return self.ratio(self.par30_principal)

    @property
    def par90(self) -> str:
        return self.ratio(self.par90_principal)


def _ratio(part: int, whole: int) -> str:
    return str((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def portfolio(conn: Connection, tenant_id: int, as_of: dt.date) -> list[Portfolio]:
    """Figures per currency from the last business date closed on or before `as_of`."""
    closed = conn.execute(
        sa.select(sa.func.max(cob_runs.c.business_date)).where(
            cob_runs.c.tenant_id == tenant_id, cob_runs.c.business_date <= as_of, cob_runs.c.status == "DONE"
        )
    ).scalar()
    if closed is None:
        return []
    s = loan_snapshots
    rows = conn.execute(
        sa.select(
            s.c.currency, s.c.bucket, s.c.loan_class, s.c.non_accrual, sa.func.count().label("n"),
            sa.func.sum(s.c.principal).label("principal"), sa.func.sum(s.c.interest).label("interest"),
            sa.func.sum(s.c.fee).label("fee"), sa.func.sum(s.c.penalty).label("penalty"),
            sa.func.sum(s.c.allowance).label("allowance"),
            sa.func.sum(sa.case((s.c.dpd > 30, s.c.principal), else_=0)).label("par30"),
            sa.func.sum(sa.case((s.c.dpd > 90, s.c.principal), else_=0)).label("par90"),
        )
        .where(s.c.tenant_id == tenant_id, s.c.business_date == closed, s.c.status == "ACTIVE")
        .group_by(s.c.currency, s.c.bucket, s.c.loan_class, s.c.non_accrual)
    ).all()
    result: dict[str, Portfolio] = {}
    for r in rows:
        p = result.setdefault(r.currency, Portfolio(as_of, closed, r.currency))
        principal, allowance = int(r.principal or 0), int(r.allowance or 0)
        p.loans += r.n
        p.principal += principal
        p.interest += int(r.interest or 0)
        p.fees += int(r.fee or 0)
        p.penalties += int(r.penalty or 0)
        p.provisions += allowance
        p.par30_principal += int(r.par30 or 0)
        p.par90_principal += int(r.par90 or 0)
        p.non_accrual += r.n if r.non_accrual else 0
        for target in (p.by_bucket[Bucket(r.bucket)], p.by_class[LoanClass(r.loan_class)]):
            target.count += r.n
            target.principal += principal
            target.provision += allowance
    return [result[c] for c in sorted(result)]


@dataclass(frozen=True)
class InstallmentLine:
    number: int
    due_date: dt.date
    principal: int
    interest: int
    fee: int
    paid: int
    outstanding: int
    status: str  # PAID, DUE (falls due on `as_of` or later), OVERDUE


# A statement lists at most this many transactions a page; `after` reads the next page.
statement_transactions_max = 200

StatementCursor = tuple[dt.date, dt.datetime, uuid.UUID]


@dataclass(frozen=True)
class Statement:
    loan: Loan
    as_of: dt.date
    installments: tuple[InstallmentLine, ...]
    transactions: tuple[sa.Row, ...]  # effective on or before `as_of`, oldest first; one page
    transactions_total: int  # all of them, on every page
    next_page: StatementCursor | None  # where the next page starts; None on the last page
    state: LoanState | None = None  # the loan's pools as of `as_of` (None before its disbursement)


def statement(
    conn: Connection, tenant_id: int, loan_id: uuid.UUID, as_of: dt.date,
    transactions_max: int = statement_transactions_max, after: StatementCursor | None = None,
    known_on: dt.datetime | None = None,
) -> Statement:
    """The loan as of the end of `as_of`: each installment's paid / due / overdue state then (its
    history replayed to that date when it is before the open business date) and the transactions
    effective on or before it, a page at a time.

    With `known_on`, as the books stood at that moment: transactions recorded later are left out
    and the state is a replay of only what was recorded by then (loans.history.state_known_on); a
    loan created after it is unknown."""
    row = load_loan(conn, tenant_id, loan_id, lock=False)
    if known_on is not None:
        known_on = known_on.astimezone(dt.timezone.utc)  # stored times compare as UTC (SQLite keeps no zone)
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.timezone.utc)
        if created > known_on:
            raise UnknownLoan(f"no loan with id {loan_id} was known on {known_on.isoformat()}", loan=str(loan_id))
    state = None
    if known_on is not None:
        state = _state_known_on(conn, row, as_of, known_on)
    elif row.disbursed_on is not None and as_of >= row.disbursed_on:
        grouped = load_installments(conn, tenant_id, [loan_id], {loan_id: row.schedule_version})
        state = state_from_rows(row, grouped[loan_id])
        if row.last_cob_date is not None and as_of <= row.last_cob_date:
            product = get_product(conn, tenant_id, row.product_code, row.product_version)
            state = history.state_on(conn, row, state, product, as_of, closed=True)
    lines = tuple(
        InstallmentLine(
            i.number, i.due_date, i.principal, i.interest, i.fee, i.principal_paid + i.interest_paid + i.fee_paid,
            i.outstanding, "PAID" if i.settled else ("OVERDUE" if i.due_date < as_of else "DUE"),
        )
        for i in (state.installments if state is not None else ())
    )
    t = loan_transactions
    scope = (t.c.tenant_id == tenant_id, t.c.loan_id == loan_id, t.c.effective_date <= as_of)
    if known_on is not None:
        scope += (t.c.recorded_at <= known_on,)
    total = conn.execute(sa.select(sa.func.count()).select_from(t).where(*scope)).scalar() or 0
    query = sa.select(t).where(*scope)
    if after is not None:
        query = query.where(sa.tuple_(t.c.effective_date, t.c.recorded_at, t.c.id) > sa.tuple_(*after))
    rows = conn.execute(query.order_by(t.c.effective_date, t.c.recorded_at, t.c.id).limit(transactions_max + 1)).all()
    page = tuple(rows[:transactions_max])
    next_page = (page[-1].effective_date, page[-1].recorded_at, page[-1].id) if len(rows) > transactions_max else None
    return Statement(row, as_of, lines, page, total, next_page, state)


def _state_known_on(conn: Connection, row: Loan, as_of: dt.date, known_on: dt.datetime) -> LoanState | None:
    if row.disbursed_on is None:
        return None
    grouped = load_installments(conn, row.tenant_id, [row.id], {row.id: row.schedule_version})
    product = get_product(conn, row.tenant_id, row.product_code, row.product_version)
    return history.state_known_on(conn, row, state_from_rows(row, grouped[row.id]), product, as_of, known_on)
