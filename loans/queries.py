"""Read side of loans: plain queries over the loan tables, batched for DataLoaders; always scoped to one tenant.

Reads may bypass the domain (writes never do). Borrowers come back with their sensitive fields
already masked (loans.pii.masked_borrower): the plaintext is decrypted, masked and dropped before a
record leaves this module, so no caller can hand an unmasked value to a client by accident.
Unmasked values go only through `reveal_borrower`, which writes the audit event.
"""
from __future__ import annotations

import collections
import datetime as dt
import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loans.delinquency import ClassificationPolicy
from loans.model import Loan
from loans.pii import BorrowerRecord, FieldCipher, masked_borrower
from loans.products import Product, product_from_json
from loans.store import repository
from loans.store.tables import borrowers, loan_installments, loan_products, loan_transactions, loans, suspense_receipts

# A loan's history is read newest first; this bounds `transactions(last:)` on a loan.
transactions_last_max = 200


@functools.cache
def _record_type(columns: tuple[str, ...]) -> type:
    return collections.namedtuple("Record", columns)


def records(result: sa.Result) -> list[tuple]:
    """The rows as named tuples (attributes by column name, like a Row).

    SQLAlchemy's Row reads a column by name in about 1 us, a named tuple in about 40 ns, and the
    types of a loan detail read ~1,400 columns: a millisecond per request, saved for ~0.5 us a row.
    """
    make = _record_type(tuple(result.keys()))._make
    return [make(row) for row in result]


@dataclass(frozen=True)
class ProductRecord:
    product: Product
    created_at: dt.datetime
    created_by: str


def borrowers_page(
    conn: Connection, tenant_id: int, cipher: FieldCipher, *, after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int, national_id: str | None = None,
) -> list[BorrowerRecord]:
    """Newest first, keyset-paginated on (created_at, id); `national_id` matches exactly through the blind index."""
    query = sa.select(borrowers).where(borrowers.c.tenant_id == tenant_id)
    if national_id is not None:
        query = query.where(borrowers.c.national_id_index == cipher.blind_index(national_id))
    if after is not None:
        query = query.where(sa.tuple_(borrowers.c.created_at, borrowers.c.id) < sa.tuple_(*after))
    rows = conn.execute(query.order_by(borrowers.c.created_at.desc(), borrowers.c.id.desc()).limit(limit)).all()
    return [masked_borrower(cipher, tenant_id, row) for row in rows]


def borrowers_by_id(conn: Connection, tenant_id: int, cipher: FieldCipher, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, BorrowerRecord]:
    rows = conn.execute(sa.select(borrowers).where(borrowers.c.tenant_id == tenant_id, borrowers.c.id.in_(list(ids)))).all()
    return {row.id: masked_borrower(cipher, tenant_id, row) for row in rows}


def _product_record(row: sa.Row) -> ProductRecord:
    return ProductRecord(product_from_json(json.loads(row.definition)), row.created_at, row.created_by)


def products_page(
    conn: Connection, tenant_id: int, *, after: tuple[str, int] | None, limit: int, code: str | None, all_versions: bool
) -> list[ProductRecord]:
    """Ordered by code, newest version first; by default only each code's latest version."""
    p = loan_products
    query = sa.select(p).where(p.c.tenant_id == tenant_id)
    if code is not None:
        query = query.where(p.c.code == code)
    if not all_versions:
        newer = p.alias("newer")
        query = query.where(
            ~sa.exists().where(newer.c.tenant_id == tenant_id, newer.c.code == p.c.code, newer.c.version > p.c.version)
        )
    if after is not None:
        after_code, after_version = after
        query = query.where(sa.or_(p.c.code > after_code, sa.and_(p.c.code == after_code, p.c.version < after_version)))
    rows = conn.execute(query.order_by(p.c.code, p.c.version.desc()).limit(limit)).all()
    return [_product_record(row) for row in rows]


def products_by_key(conn: Connection, tenant_id: int, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], ProductRecord]:
    p = loan_products
    rows = conn.execute(
        sa.select(p).where(p.c.tenant_id == tenant_id, p.c.code.in_(sorted({code for code, _ in keys})))
    ).all()
    wanted = set(keys)
    return {(row.code, row.version): _product_record(row) for row in rows if (row.code, row.version) in wanted}


def loans_page(
    conn: Connection, tenant_id: int, *, status: str | None, borrower_id: uuid.UUID | None,
    after: tuple[dt.datetime, uuid.UUID] | None, limit: int,
) -> list[sa.Row]:
    """Newest application first, keyset-paginated on (created_at, id)."""
    query = sa.select(loans).where(loans.c.tenant_id == tenant_id)
    if status is not None:
        query = query.where(loans.c.status == status)
    if borrower_id is not None:
        query = query.where(loans.c.borrower_id == borrower_id)
    if after is not None:
        query = query.where(sa.tuple_(loans.c.created_at, loans.c.id) < sa.tuple_(*after))
    return records(conn.execute(query.order_by(loans.c.created_at.desc(), loans.c.id.desc()).limit(limit)))


# The statements every loan read runs, built once (on first use) with bound parameters: building a
# select, and above all the windowed subquery's column proxies, cost more CPU than running it.


@functools.cache
def _loans_by_id_query() -> sa.Select:
    return sa.select(loans).where(loans.c.tenant_id == sa.bindparam("tenant_id"), loans.c.id.in_(sa.bindparam("ids", expanding=True)))


def loans_by_id(conn: Connection, tenant_id: int, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, sa.Row]:
    rows = records(conn.execute(_loans_by_id_query(), {"tenant_id": tenant_id, "ids": list(ids)}))
    return {row.id: row for row in rows}


@functools.cache
def _installments_query() -> sa.Select:
    t = loan_installments
    return (
        sa.select(t)
        .where(
            t.c.tenant_id == sa.bindparam("tenant_id"),
            t.c.loan_id.in_(sa.bindparam("loan_ids", expanding=True)),
            t.c.schedule_version.in_(sa.bindparam("versions", expanding=True)),
        )
        .order_by(t.c.loan_id, t.c.schedule_version, t.c.number)
    )


def installments_by_schedule(
    conn: Connection, tenant_id: int, keys: Sequence[tuple[uuid.UUID, int]]
) -> dict[tuple[uuid.UUID, int], list[sa.Row]]:
    """Installments of each (loan, schedule version), in number order: one statement for any number of loans."""
    rows = records(conn.execute(_installments_query(), {
        "tenant_id": tenant_id,
        "loan_ids": sorted({loan_id for loan_id, _ in keys}),
        "versions": sorted({version for _, version in keys}),
    }))
    grouped: dict[tuple[uuid.UUID, int], list[sa.Row]] = {key: [] for key in keys}
    for row in rows:
        key = (row.loan_id, row.schedule_version)
        if key in grouped:
            grouped[key].append(row)
    return grouped


@functools.cache
def _latest_transactions_query(filtered: bool) -> sa.Select:
    t = loan_transactions
    rank = sa.func.row_number().over(partition_by=t.c.loan_id, order_by=(t.c.recorded_at.desc(), t.c.id.desc()))
    ranked = (
        sa.select(t, rank.label("recency"))
        .where(t.c.tenant_id == sa.bindparam("tenant_id"), t.c.loan_id.in_(sa.bindparam("loan_ids", expanding=True)))
    )
    if filtered:
        ranked = ranked.where(t.c.type.in_(sa.bindparam("types", expanding=True)))
    ranked = ranked.subquery()
    return sa.select(ranked).where(ranked.c.recency <= sa.bindparam("last")).order_by(ranked.c.loan_id, ranked.c.recency)


def transactions_by_loan(
    conn: Connection, tenant_id: int, loan_ids: Sequence[uuid.UUID], last: int, types: Sequence[str] | None = None
) -> dict[uuid.UUID, list[sa.Row]]:
    """The `last` most recently recorded transactions of each loan (of `types` only, if given), newest
    first, in one statement."""
    query = _latest_transactions_query(types is not None)
    params = {"tenant_id": tenant_id, "loan_ids": list(loan_ids), "last": last}
    if types is not None:
        params["types"] = list(types)
    rows = records(conn.execute(query, params))
    grouped: dict[uuid.UUID, list[sa.Row]] = {loan_id: [] for loan_id in loan_ids}
    for row in rows:
        grouped[row.loan_id].append(row)
    return grouped


def transactions_by_id(conn: Connection, tenant_id: int, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, sa.Row]:
    t = loan_transactions
    rows = records(conn.execute(sa.select(t).where(t.c.tenant_id == tenant_id, t.c.id.in_(list(ids)))))
    return {row.id: row for row in rows}


def reversals_of_transactions(conn: Connection, tenant_id: int, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, sa.Row]:
    """For each transaction id, the transaction that reverses it (absent when not reversed)."""
    t = loan_transactions
    rows = conn.execute(
        sa.select(t).where(t.c.tenant_id == tenant_id, t.c.reverses_transaction_id.in_(list(ids)))
    ).all()
    return {row.reverses_transaction_id: row for row in rows}


def loan_row(conn: Connection, tenant_id: int, loan_id: uuid.UUID) -> Loan:
    """The loan as stored, without a row lock (a read); UnknownLoan if the tenant has no such loan."""
    return repository.load_loan(conn, tenant_id, loan_id, lock=False)


def classification_policy(conn: Connection, tenant_id: int) -> ClassificationPolicy:
    """The tenant's classification policy in force (the default until the tenant sets one)."""
    return repository.tenant_policy(conn, tenant_id)


def receipt_key_used(conn: Connection, tenant_id: int, idempotency_key: str) -> bool:
    """Whether an unidentified receipt was already booked under this key (a replay, then)."""
    t = suspense_receipts
    query = sa.select(t.c.id).where(t.c.tenant_id == tenant_id, t.c.idempotency_key == idempotency_key)
    return conn.execute(query).first() is not None


def loans_by_status(conn: Connection, tenant_id: int) -> dict[str, int]:
    """How many loans (applications included) are in each status."""
    query = sa.select(loans.c.status, sa.func.count()).where(loans.c.tenant_id == tenant_id).group_by(loans.c.status)
    return {status: count for status, count in conn.execute(query)}


class PayerLoan(NamedTuple):
    """A loan of a borrower registered with a given bank account, and the repayment it expects next."""

    loan_id: uuid.UUID
    status: str
    currency: str
    # What is left of the earliest installment not yet settled, in minor units; None when none is open.
    next_installment_minor: int | None


def loans_by_bank_account(
    conn: Connection, tenant_id: int, cipher: FieldCipher, accounts: Sequence[str]
) -> dict[str, list[PayerLoan]]:
    """For each bank account number, the loans of the borrowers registered with it (through the blind
    index: the account is never compared in clear), each with its next installment's open amount.
    Accounts that name no borrower are absent."""
    by_index: dict[str, list[str]] = collections.defaultdict(list)
    for account in dict.fromkeys(accounts):
        index = cipher.blind_index(account) if account and account.strip() else None
        if index is not None:
            by_index[index].append(account)
    if not by_index:
        return {}
    rows = conn.execute(
        sa.select(borrowers.c.bank_account_index, loans.c.id, loans.c.status, loans.c.currency, loans.c.schedule_version)
        .join(loans, sa.and_(loans.c.tenant_id == borrowers.c.tenant_id, loans.c.borrower_id == borrowers.c.id))
        .where(borrowers.c.tenant_id == tenant_id, borrowers.c.bank_account_index.in_(sorted(by_index)))
        .order_by(loans.c.id)
    ).all()
    active = [(row.id, row.schedule_version) for row in rows if row.status == "ACTIVE"]
    schedules = installments_by_schedule(conn, tenant_id, active) if active else {}
    found: dict[str, list[PayerLoan]] = collections.defaultdict(list)
    for row in rows:
        open_amounts = [left for left in (
            i.principal - i.principal_paid + i.interest - i.interest_paid + i.fee - i.fee_paid
            for i in schedules.get((row.id, row.schedule_version), ())) if left > 0]
        payer_loan = PayerLoan(row.id, row.status, row.currency, open_amounts[0] if open_amounts else None)
        for account in by_index[row.bank_account_index]:
            found[account].append(payer_loan)
    return dict(found)
