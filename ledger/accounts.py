"""Tenants and their chart of accounts: create a tenant, open and close its accounts.

Each change is audited in the caller's transaction (ledger.unit_of_work). Posting is elsewhere
(ledger.service, the one path into the journal); it checks entries against what these functions wrote.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import errors
from ledger.actor import Actor
from ledger.audit import genesis_hash
from ledger.chart import default_chart
from ledger.model import Account, AccountStatus, AccountType, account_code_length_max, normal_balance_of
from ledger.money import currency_exponent
from ledger.queries import account_from_row, currencies_to_text, load_accounts
from ledger.store.journal import lock_account_for_close
from ledger.store.tables import account_balances, accounts, audit_chain_heads, tenants
from ledger.unit_of_work import record_event

functional_currency_default = "CNY"
slug_pattern = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
code_pattern = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def create_tenant(
    conn: Connection, slug: str, name: str, *, actor_name: str, now: dt.datetime,
    functional_currency: str = functional_currency_default,
) -> int:
    """A tenant with its default chart of accounts and an empty audit chain; returns its id.

    The functional currency is the one the tenant keeps its books in: the default chart's accounts
    accept it alone (but for headers, which take no postings, and retained earnings, where the
    year-end close moves every currency's result), so an entry in another currency goes to accounts
    opened for that currency.
    """
    if not slug_pattern.match(slug or ""):
        raise errors.LedgerError("tenant slug must be 2-63 lowercase letters, digits or dashes")
    if not name or len(name) > 200:
        raise errors.LedgerError("tenant name must be 1 to 200 characters")
    if not isinstance(functional_currency, str) or len(functional_currency) != 3:
        raise errors.UnknownCurrency(f"functional currency {functional_currency!r} is not an ISO 4217 code, e.g. CNY")
    currency_exponent(functional_currency)  # raises UnknownCurrency
    if conn.execute(sa.select(tenants.c.id).where(tenants.c.slug == slug)).first():
        raise errors.TenantExists(f"a tenant with slug {slug!r} already exists")
    tenant_id = conn.execute(
        sa.insert(tenants).values(slug=slug, name=name, functional_currency=functional_currency, created_at=now)
        .returning(tenants.c.id)
    ).scalar_one()
    conn.execute(sa.insert(audit_chain_heads).values(tenant_id=tenant_id, last_seq=0, last_hash=genesis_hash))
    actor = Actor(tenant_id, actor_name, now)
    record_event(conn, actor, "tenant.created", "tenant", tenant_id,
                 after={"slug": slug, "name": name, "functional_currency": functional_currency})
    for line in default_chart:
        open_account(
            conn, actor, line.code, line.name, line.type,
            parent_code=line.parent_code, role=line.role, balance_slots=line.balance_slots, is_header=line.is_header,
            currencies=None if line.is_header or line.any_currency else (functional_currency,),
        )
    return tenant_id


def tenant_id_for(conn: Connection, slug: str) -> int:
    tenant_id = conn.execute(sa.select(tenants.c.id).where(tenants.c.slug == slug)).scalar()
    if tenant_id is None:
        raise errors.UnknownTenant(f"no tenant with slug {slug!r}")
    return tenant_id


def open_account(
    conn: Connection,
    actor: Actor,
    code: str,
    name: str,
    account_type: AccountType | str,
    *,
    parent_code: str | None = None,
    role: str | None = None,
    currencies: Sequence[str] | None = None,
    balance_slots: int = 1,
    is_header: bool = False,
) -> Account:
    """Open an account; a child names a header account of its own type as its parent.

    A header (`is_header`) groups the accounts under it and takes no postings: the one kind of
    account that may be a parent, so no account ever holds both its own postings and children.
    """
    try:
        account_type = AccountType(account_type)
    except ValueError:
        raise errors.InvalidAccount(f"unknown account type {account_type!r}") from None
    if not code or len(code) > account_code_length_max or not code_pattern.match(code):
        raise errors.InvalidAccount(f"account code {code!r} must be 1-{account_code_length_max} letters, digits, . _ -")
    if not name or len(name) > 200:
        raise errors.InvalidAccount("account name must be 1 to 200 characters")
    if not 1 <= balance_slots <= 64:
        raise errors.InvalidAccount("balance_slots must be between 1 and 64")
    if currencies is not None:
        currencies = tuple(sorted(set(currencies)))
        if not currencies:
            raise errors.InvalidAccount("currencies, when given, must name at least one currency")
        for currency in currencies:
            currency_exponent(currency)
    existing = load_accounts(conn, actor.tenant_id, [c for c in (code, parent_code) if c])
    if code in existing:
        raise errors.AccountExists(f"account {code} already exists")
    if parent_code is not None:
        parent = existing.get(parent_code)
        if parent is None:
            raise errors.UnknownAccount(f"parent account {parent_code!r} does not exist", account=parent_code)
        if parent.type is not account_type:
            raise errors.InvalidAccount(
                f"account {code} is {account_type.value} but its parent {parent_code} is {parent.type.value}"
            )
        if not parent.is_header:
            raise errors.InvalidAccount(
                f"account {parent_code} ({parent.name}) takes postings, so it cannot have child accounts; "
                "name a header account as the parent", account=parent_code,
            )
        if parent.status is not AccountStatus.OPEN:
            raise errors.AccountClosed(f"parent account {parent_code} is closed", account=parent_code)
    account = Account(
        actor.tenant_id, code, name, account_type, normal_balance_of(account_type), parent_code,
        AccountStatus.OPEN, currencies, balance_slots, is_header,
    )
    conn.execute(
        sa.insert(accounts).values(
            tenant_id=actor.tenant_id, code=code, name=name, type=account_type.value,
            normal_balance=account.normal_balance.value, parent_code=parent_code, role=role,
            status=AccountStatus.OPEN.value, currencies=currencies_to_text(currencies),
            balance_slots=balance_slots, is_header=is_header, created_at=actor.now,
        )
    )
    record_event(conn, actor, "account.opened", "account", code, after=_account_state(account, role))
    return account


def close_account(conn: Connection, actor: Actor, code: str) -> Account:
    """Close an account whose balance is zero in every currency; closed accounts refuse postings."""
    # Postings in flight to the account finish first (and show in its balance); new ones wait for us.
    lock_account_for_close(conn, actor.tenant_id, code)
    # The account row first: an import holding it FOR SHARE finishes (and its balance shows) before we look.
    account = load_accounts(conn, actor.tenant_id, [code], lock="update").get(code)
    if account is None:
        raise errors.UnknownAccount(f"no account with code {code!r}", account=code)
    if account.status is AccountStatus.CLOSED:
        raise errors.AccountClosed(f"account {code} is already closed", account=code)
    # Lock the balance rows so a concurrent posting either lands before we look or waits for us.
    balance_rows = conn.execute(
        sa.select(account_balances.c.currency, account_balances.c.debit_minor, account_balances.c.credit_minor)
        .where(account_balances.c.tenant_id == actor.tenant_id, account_balances.c.account_code == code)
        .with_for_update()
    ).all()
    totals: dict[str, int] = {}
    for row in balance_rows:
        totals[row.currency] = totals.get(row.currency, 0) + row.debit_minor - row.credit_minor
    if any(totals.values()):
        raise errors.AccountNotEmpty(f"account {code} still has a balance; move it before closing", account=code)
    children = conn.execute(
        sa.select(accounts.c.code).where(
            accounts.c.tenant_id == actor.tenant_id, accounts.c.parent_code == code, accounts.c.status == "OPEN"
        ).limit(1)
    ).first()
    if children:
        raise errors.InvalidAccount(f"account {code} has open child accounts; close them first", account=code)
    conn.execute(
        sa.update(accounts)
        .where(accounts.c.tenant_id == actor.tenant_id, accounts.c.code == code)
        .values(status=AccountStatus.CLOSED.value, closed_at=actor.now)
    )
    record_event(conn, actor, "account.closed", "account", code, before={"status": "OPEN"}, after={"status": "CLOSED"})
    return account_from_row(
        conn.execute(sa.select(accounts).where(accounts.c.tenant_id == actor.tenant_id, accounts.c.code == code)).one()
    )


def _account_state(account: Account, role: str | None) -> dict:
    return {
        "code": account.code, "name": account.name, "type": account.type.value,
        "normal_balance": account.normal_balance.value, "parent_code": account.parent_code, "role": role,
        "currencies": list(account.currencies) if account.currencies else None,
        "balance_slots": account.balance_slots, "status": account.status.value, "is_header": account.is_header,
    }
