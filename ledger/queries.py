"""Read side of the ledger: plain queries, always scoped to one tenant."""
from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from ledger.model import Account, AccountStatus, AccountType, NormalBalance, Posting, PostedEntry
from ledger.store.tables import (
    account_balances,
    account_period_balances,
    accounts,
    audit_chain,
    audit_events,
    journal_entries,
    postings,
    tenants,
)

page_size_max = 500

# The tenants, for other domains' reads to join a row of theirs to its tenant's slug and name (an
# API token to the tenant it acts for, say) in the same statement.
tenant_table = tenants


@dataclass(frozen=True, slots=True)
class Balance:
    account_code: str
    currency: str
    debit_minor: int
    credit_minor: int

    @property
    def net_minor(self) -> int:
        """Debits minus credits: positive is a debit balance."""
        return self.debit_minor - self.credit_minor


@dataclass(frozen=True, slots=True)
class TrialBalanceLine:
    account: Account
    currency: str
    debit_minor: int  # the debit balance, or 0
    credit_minor: int  # the credit balance, or 0


@dataclass(frozen=True, slots=True)
class TrialBalance:
    as_of: dt.date | None
    lines: tuple[TrialBalanceLine, ...]

    def totals(self) -> dict[str, tuple[int, int]]:
        sums: dict[str, list[int]] = {}
        for line in self.lines:
            pair = sums.setdefault(line.currency, [0, 0])
            pair[0] += line.debit_minor
            pair[1] += line.credit_minor
        return {c: (d, k) for c, (d, k) in sums.items()}

    @property
    def balanced(self) -> bool:
        return all(d == k for d, k in self.totals().values())


def currencies_to_text(currencies: Sequence[str] | None) -> str | None:
    """An account's allowed currencies as `accounts.currencies` stores them ("CNY,USD"; NULL for any)."""
    return ",".join(currencies) if currencies else None


def currencies_from_text(text: str | None) -> tuple[str, ...] | None:
    return tuple(text.split(",")) if text else None


def account_from_row(row: sa.Row) -> Account:
    return Account(
        tenant_id=row.tenant_id,
        code=row.code,
        name=row.name,
        type=AccountType(row.type),
        normal_balance=NormalBalance(row.normal_balance),
        parent_code=row.parent_code,
        status=AccountStatus(row.status),
        currencies=currencies_from_text(row.currencies),
        balance_slots=row.balance_slots,
        is_header=bool(row.is_header),
    )


def load_accounts(
    conn: Connection, tenant_id: int, codes: Iterable[str], *, lock: str | None = None
) -> dict[str, Account]:
    """`lock`: "share" (nobody closes them until we commit) or "update" (as closing does); SQLite ignores it."""
    codes = list(codes)
    if not codes:
        return {}
    if conn.dialect.name == "postgresql":  # one array parameter, not one placeholder per code
        named = accounts.c.code == sa.any_(sa.bindparam("codes", codes, type_=postgresql.ARRAY(sa.String)))
    else:
        named = accounts.c.code.in_(codes)
    query = sa.select(accounts).where(accounts.c.tenant_id == tenant_id, named)
    if lock is not None:
        query = query.order_by(accounts.c.code).with_for_update(read=lock == "share")
    rows = conn.execute(query)
    return {row.code: account_from_row(row) for row in rows}


child_codes_shown_max = 20


def open_child_codes(conn: Connection, tenant_id: int, code: str) -> list[str]:
    """The codes of an account's open child accounts, in code order (at most child_codes_shown_max)."""
    return list(conn.execute(
        sa.select(accounts.c.code)
        .where(accounts.c.tenant_id == tenant_id, accounts.c.parent_code == code, accounts.c.status == "OPEN")
        .order_by(accounts.c.code).limit(child_codes_shown_max)
    ).scalars())


def list_accounts(conn: Connection, tenant_id: int) -> list[Account]:
    rows = conn.execute(sa.select(accounts).where(accounts.c.tenant_id == tenant_id).order_by(accounts.c.code))
    return [account_from_row(row) for row in rows]


def account_roles(conn: Connection, tenant_id: int) -> dict[str, str]:
    rows = conn.execute(
        sa.select(accounts.c.role, accounts.c.code).where(accounts.c.tenant_id == tenant_id, accounts.c.role.is_not(None))
    )
    return {row.role: row.code for row in rows}


def get_entry(conn: Connection, tenant_id: int, entry_id: uuid.UUID) -> PostedEntry | None:
    row = conn.execute(
        sa.select(journal_entries).where(journal_entries.c.tenant_id == tenant_id, journal_entries.c.id == entry_id)
    ).first()
    if row is None:
        return None
    return entries_from_rows(conn, tenant_id, [row])[0]


def list_entries(
    conn: Connection,
    tenant_id: int,
    *,
    account_code: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    after: tuple[dt.datetime, uuid.UUID] | None = None,
    limit: int = 50,
) -> list[PostedEntry]:
    """Entries newest first by recorded time, keyset-paginated with `after` = (recorded_at, id)."""
    limit = max(1, min(limit, page_size_max))
    query = sa.select(journal_entries).where(journal_entries.c.tenant_id == tenant_id)
    if account_code is not None:
        query = query.where(
            sa.exists().where(
                postings.c.tenant_id == tenant_id,
                postings.c.entry_id == journal_entries.c.id,
                postings.c.account_code == account_code,
            )
        )
    if date_from is not None:
        query = query.where(journal_entries.c.effective_date >= date_from)
    if date_to is not None:
        query = query.where(journal_entries.c.effective_date <= date_to)
    if after is not None:
        query = query.where(sa.tuple_(journal_entries.c.recorded_at, journal_entries.c.id) < sa.tuple_(*after))
    query = query.order_by(journal_entries.c.recorded_at.desc(), journal_entries.c.id.desc()).limit(limit)
    return entries_from_rows(conn, tenant_id, conn.execute(query).all())


def entries_from_rows(conn: Connection, tenant_id: int, rows: list[sa.Row]) -> list[PostedEntry]:
    if not rows:
        return []
    lines: dict[uuid.UUID, list[Posting]] = {row.id: [] for row in rows}
    posting_rows = conn.execute(
        sa.select(postings.c.entry_id, postings.c.account_code, postings.c.currency, postings.c.amount_minor)
        .where(postings.c.tenant_id == tenant_id, postings.c.entry_id.in_(list(lines)))
        .order_by(postings.c.entry_id, postings.c.line_no)
    )
    for p in posting_rows:
        lines[p.entry_id].append(Posting(p.account_code, p.currency, p.amount_minor))
    return [
        PostedEntry(
            tenant_id=row.tenant_id,
            id=row.id,
            effective_date=row.effective_date,
            recorded_at=row.recorded_at,
            description=row.description,
            metadata=json.loads(row.metadata),
            actor=row.actor,
            postings=tuple(lines[row.id]),
            idempotency_key=row.idempotency_key,
            reverses_entry_id=row.reverses_entry_id,
            content_hash=row.content_hash,
        )
        for row in rows
    ]


def entry_id_for_key(conn: Connection, tenant_id: int, idempotency_key: str) -> uuid.UUID | None:
    """The entry posted under this idempotency key, if any."""
    return conn.execute(
        sa.select(journal_entries.c.id).where(
            journal_entries.c.tenant_id == tenant_id, journal_entries.c.idempotency_key == idempotency_key
        )
    ).scalar()


def reversal_of(conn: Connection, tenant_id: int, entry_id: uuid.UUID) -> uuid.UUID | None:
    return conn.execute(
        sa.select(journal_entries.c.id).where(
            journal_entries.c.tenant_id == tenant_id, journal_entries.c.reverses_entry_id == entry_id
        )
    ).scalar()


def current_balances(conn: Connection, tenant_id: int, account_code: str) -> list[Balance]:
    """Current balance per currency, from the counters (no history scan)."""
    t = account_balances
    rows = conn.execute(
        sa.select(t.c.currency, sa.func.sum(t.c.debit_minor), sa.func.sum(t.c.credit_minor))
        .where(t.c.tenant_id == tenant_id, t.c.account_code == account_code)
        .group_by(t.c.currency)
        .order_by(t.c.currency)
    ).all()
    return [Balance(account_code, currency, int(d), int(c)) for currency, d, c in rows]


@functools.cache
def as_of_movements(*, by_codes: bool = False, by_currency: bool = False) -> sa.Subquery:
    """Debit and credit amounts whose sums per account and currency are the balances as of a date.

    The day/month/year period rows (whole years, then months, then days: at most years + 11 + 31
    rows per slot, whatever the number of postings), which every posting statement adds to in the
    transaction that writes the postings. Built once per shape, with bound parameters that as_of_parameters() fills: building and keying
    four selects would cost SQLAlchemy more than the database spends running them.
    """
    t = account_period_balances
    as_of = sa.bindparam("as_of", type_=sa.Date())
    year_start, month_start = sa.bindparam("year_start", type_=sa.Date()), sa.bindparam("month_start", type_=sa.Date())

    def scoped(query: sa.Select, table: sa.Table) -> sa.Select:
        query = query.where(table.c.tenant_id == sa.bindparam("tenant_id"))
        if by_codes:
            query = query.where(table.c.account_code.in_(sa.bindparam("codes", expanding=True)))
        if by_currency:
            query = query.where(table.c.currency == sa.bindparam("currency"))
        return query

    periods = sa.select(t.c.account_code, t.c.currency, t.c.debit_minor, t.c.credit_minor)
    return sa.union_all(
        scoped(periods, t).where(t.c.grain == "Y", t.c.period_start < year_start),
        scoped(periods, t).where(t.c.grain == "M", t.c.period_start >= year_start, t.c.period_start < month_start),
        scoped(periods, t).where(t.c.grain == "D", t.c.period_start >= month_start, t.c.period_start <= as_of),
    ).subquery()


def as_of_parameters(
    tenant_id: int, as_of: dt.date, *, codes: Sequence[str] | None = None, currency: str | None = None
) -> dict[str, object]:
    """The parameters of as_of_movements(by_codes=codes is not None, by_currency=currency is not None)."""
    params: dict[str, object] = {
        "tenant_id": tenant_id, "as_of": as_of, "year_start": as_of.replace(month=1, day=1), "month_start": as_of.replace(day=1),
    }
    if codes is not None:
        params["codes"] = list(codes)
    if currency is not None:
        params["currency"] = currency
    return params


@functools.cache
def _balance_as_of_statement() -> sa.Select:
    moved = as_of_movements(by_codes=True, by_currency=True)
    return sa.select(sa.func.coalesce(sa.func.sum(moved.c.debit_minor), 0), sa.func.coalesce(sa.func.sum(moved.c.credit_minor), 0))


def balance_as_of(conn: Connection, tenant_id: int, account_code: str, currency: str, as_of: dt.date) -> Balance:
    """Balance of postings with effective date <= as_of, from the period rows (as_of_movements)."""
    params = as_of_parameters(tenant_id, as_of, codes=[account_code], currency=currency)
    debit, credit = conn.execute(_balance_as_of_statement(), params).one()
    return Balance(account_code, currency, int(debit), int(credit))


@functools.cache
def balances_as_of_statement(*, by_codes: bool) -> sa.Select:
    """Balance per account and currency as of a date (parameters: as_of_parameters), ordered by both."""
    moved = as_of_movements(by_codes=by_codes)
    return (
        sa.select(moved.c.account_code, moved.c.currency, sa.func.sum(moved.c.debit_minor), sa.func.sum(moved.c.credit_minor))
        .group_by(moved.c.account_code, moved.c.currency)
        .order_by(moved.c.account_code, moved.c.currency)
    )


def trial_balance(conn: Connection, tenant_id: int, as_of: dt.date | None = None) -> TrialBalance:
    """Each account's balance per currency, on its debit or credit side; debits equal credits."""
    chart = {a.code: a for a in list_accounts(conn, tenant_id)}
    if as_of is None:
        t = account_balances
        query = sa.select(t.c.account_code, t.c.currency, sa.func.sum(t.c.debit_minor), sa.func.sum(t.c.credit_minor)).where(
            t.c.tenant_id == tenant_id
        )
        rows = conn.execute(query.group_by(t.c.account_code, t.c.currency).order_by(t.c.account_code, t.c.currency)).all()
    else:
        rows = conn.execute(balances_as_of_statement(by_codes=False), as_of_parameters(tenant_id, as_of)).all()
    lines = []
    for code, currency, debit, credit in rows:
        net = int(debit) - int(credit)
        if net == 0:
            continue
        lines.append(TrialBalanceLine(chart[code], currency, max(net, 0), max(-net, 0)))
    return TrialBalance(as_of, tuple(lines))


# Reads for the API's pages and DataLoaders: batched by key, in key order, one statement each.


def accounts_page(conn: Connection, tenant_id: int, after_code: str | None, limit: int) -> list[Account]:
    """Accounts ordered by code, keyset-paginated on the code."""
    query = sa.select(accounts).where(accounts.c.tenant_id == tenant_id)
    if after_code is not None:
        query = query.where(accounts.c.code > after_code)
    return [account_from_row(row) for row in conn.execute(query.order_by(accounts.c.code).limit(limit))]


def balances_by_account(
    conn: Connection, tenant_id: int, codes: Sequence[str], as_of: dt.date | None
) -> dict[str, list[Balance]]:
    """Balance per currency of each account: current (from the counters) or as of a date (period rows)."""
    if as_of is None:
        t = account_balances
        rows = conn.execute(
            sa.select(t.c.account_code, t.c.currency, sa.func.sum(t.c.debit_minor), sa.func.sum(t.c.credit_minor))
            .where(t.c.tenant_id == tenant_id, t.c.account_code.in_(list(codes)))
            .group_by(t.c.account_code, t.c.currency)
            .order_by(t.c.account_code, t.c.currency)
        ).all()
    else:
        rows = conn.execute(balances_as_of_statement(by_codes=True), as_of_parameters(tenant_id, as_of, codes=codes)).all()
    result: dict[str, list[Balance]] = {code: [] for code in codes}
    for code, currency, debit, credit in rows:
        result[code].append(Balance(code, currency, int(debit), int(credit)))
    return result


def entries_by_id(conn: Connection, tenant_id: int, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PostedEntry]:
    rows = conn.execute(
        sa.select(journal_entries).where(journal_entries.c.tenant_id == tenant_id, journal_entries.c.id.in_(list(ids)))
    ).all()
    return {entry.id: entry for entry in entries_from_rows(conn, tenant_id, rows)}


def reversals_of(conn: Connection, tenant_id: int, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """For each entry id, the id of the entry that reverses it (absent when not reversed)."""
    rows = conn.execute(
        sa.select(journal_entries.c.reverses_entry_id, journal_entries.c.id).where(
            journal_entries.c.tenant_id == tenant_id, journal_entries.c.reverses_entry_id.in_(list(ids))
        )
    ).all()
    return {row.reverses_entry_id: row.id for row in rows}


@dataclass(frozen=True)
class AuditFilter:
    entity_type: str | None = None
    entity_id: str | None = None
    action: str | None = None
    actor: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    occurred_from: dt.datetime | None = None  # inclusive
    occurred_before: dt.datetime | None = None  # exclusive


def audit_events_page(
    conn: Connection, tenant_id: int, where: AuditFilter, *, after: tuple[dt.datetime, uuid.UUID] | None, limit: int
) -> list[sa.Row]:
    """Audit events newest first, keyset-paginated on (occurred_at, id), with their chain position once sealed."""
    e, c = audit_events, audit_chain
    query = (
        sa.select(e, c.c.seq.label("chain_seq"), c.c.hash.label("chain_hash"))
        .select_from(e.outerjoin(c, sa.and_(c.c.tenant_id == e.c.tenant_id, c.c.event_id == e.c.id)))
        .where(e.c.tenant_id == tenant_id)
    )
    if where.entity_type is not None:
        query = query.where(e.c.entity_type == where.entity_type)
    if where.entity_id is not None:
        query = query.where(e.c.entity_id == where.entity_id)
    if where.action is not None:
        query = query.where(e.c.action == where.action)
    if where.actor is not None:
        query = query.where(e.c.actor == where.actor)
    if where.date_from is not None:
        query = query.where(e.c.occurred_at >= _utc_midnight(where.date_from))
    if where.date_to is not None:
        query = query.where(e.c.occurred_at < _utc_midnight(where.date_to + dt.timedelta(days=1)))
    if where.occurred_from is not None:
        query = query.where(e.c.occurred_at >= where.occurred_from)
    if where.occurred_before is not None:
        query = query.where(e.c.occurred_at < where.occurred_before)
    if after is not None:
        query = query.where(sa.tuple_(e.c.occurred_at, e.c.id) < sa.tuple_(*after))
    return list(conn.execute(query.order_by(e.c.occurred_at.desc(), e.c.id.desc()).limit(limit)).all())


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class AccountPosting:
    """One posting to an account with what identifies its entry: what a bank reconciliation matches."""

    entry_id: uuid.UUID
    line_no: int
    effective_date: dt.date
    amount_minor: int  # debit > 0
    description: str
    idempotency_key: str | None
    metadata: dict


def account_postings(
    conn: Connection, tenant_id: int, account_code: str, currency: str, *, date_to: dt.date,
    date_from: dt.date | None = None,
) -> list[AccountPosting]:
    """Every posting to the account in the currency dated in [date_from, date_to], in date order."""
    query = (
        sa.select(postings.c.entry_id, postings.c.line_no, postings.c.effective_date, postings.c.amount_minor,
                  journal_entries.c.description, journal_entries.c.idempotency_key, journal_entries.c.metadata)
        .join(journal_entries, sa.and_(journal_entries.c.tenant_id == postings.c.tenant_id, journal_entries.c.id == postings.c.entry_id))
        .where(postings.c.tenant_id == tenant_id, postings.c.account_code == account_code, postings.c.currency == currency,
               postings.c.effective_date <= date_to)
        .order_by(postings.c.effective_date, postings.c.entry_id, postings.c.line_no)
    )
    if date_from is not None:
        query = query.where(postings.c.effective_date >= date_from)
    # Unpacked as tuples (an attribute of a Row costs ~1 us; a reconciliation reads 100k postings),
    # and the common empty metadata is not parsed.
    return [
        AccountPosting(entry_id, line_no, day, amount, description, key,
                       json.loads(meta) if meta and meta != "{}" else {})
        for entry_id, line_no, day, amount, description, key, meta in conn.execute(query)
    ]
