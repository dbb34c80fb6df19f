"""A tenant's functional currency: the default chart accepts it, other currencies take accounts of their own."""
from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
import sqlalchemy as sa

from ledger import errors, queries, service
from ledger.model import EntryDraft, credit, debit
from ledger.store import tables
from ledger.unit_of_work import run_in_transaction
from loanbook.cli import main as cli_main
from loans import catalogue
from loans.errors import InvalidProduct
from tests.conftest import actor_for
from tests.ledger.test_journal import post

NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone.utc)


def create(engine, currency=None):
    slug = f"fx-{uuid.uuid4().hex[:10]}"
    extra = {} if currency is None else {"functional_currency": currency}
    tenant_id = run_in_transaction(engine, lambda c: service.create_tenant(c, slug, "Dollar Lending", actor_name="test", now=NOW, **extra))
    return slug, tenant_id


def tenant_row(engine, tenant_id):
    with engine.connect() as conn:
        return conn.execute(sa.select(tables.tenants).where(tables.tenants.c.id == tenant_id)).one()


def test_a_tenant_keeps_its_books_in_cny_unless_told_otherwise(engine):
    _, tenant_id = create(engine)
    assert tenant_row(engine, tenant_id).functional_currency == "CNY"
    with engine.connect() as conn:
        chart = {a.code: a for a in queries.list_accounts(conn, tenant_id)}
    assert chart["1100"].currencies == chart["4100"].currencies == ("CNY",)


def test_the_default_chart_accepts_the_functional_currency_and_others_need_their_own_accounts(engine):
    _, tenant_id = create(engine, "USD")
    actor = actor_for(tenant_id)
    with engine.connect() as conn:
        chart = {a.code: a for a in queries.list_accounts(conn, tenant_id)}
        (created,) = conn.execute(sa.select(tables.audit_events.c.after).where(
            tables.audit_events.c.tenant_id == tenant_id, tables.audit_events.c.action == "tenant.created")).scalars()
    assert tenant_row(engine, tenant_id).functional_currency == "USD"
    assert json.loads(created)["functional_currency"] == "USD"
    postable = {code for code, a in chart.items() if not a.is_header}
    assert {code for code in postable if chart[code].currencies == ("USD",)} == postable - {"3200"}
    assert chart["3200"].currencies is None  # the year-end close moves every currency's result there
    post(engine, actor, debit("1100", "100.00", "USD"), credit("3100", "100.00", "USD"))
    with pytest.raises(errors.CurrencyNotAllowed) as refused:
        post(engine, actor, debit("1100", "700.00", "CNY"), credit("3100", "700.00", "CNY"))
    assert refused.value.message == "account 1100 accepts USD, not CNY"
    run_in_transaction(engine, lambda c: service.open_account(c, actor, "1150", "Bank - CNY", "ASSET", parent_code="1000", currencies=["CNY"]))
    run_in_transaction(engine, lambda c: service.open_account(c, actor, "3150", "Capital - CNY", "EQUITY", parent_code="3000", currencies=["CNY"]))
    post(engine, actor, debit("1150", "700.00", "CNY"), credit("3150", "700.00", "CNY"))
    with engine.connect() as conn:
        assert queries.trial_balance(conn, tenant_id).totals() == {"CNY": (70000, 70000), "USD": (10000, 10000)}


@pytest.mark.parametrize("currency", ["usd", "XYZ", "", "DOLLAR"])
def test_an_unknown_functional_currency_creates_no_tenant(engine, currency):
    slug = f"fx-{uuid.uuid4().hex[:10]}"
    with pytest.raises(errors.UnknownCurrency):
        run_in_transaction(engine, lambda c: service.create_tenant(c, slug, "x", actor_name="test", now=NOW, functional_currency=currency))
    with engine.connect() as conn:
        assert conn.execute(sa.select(tables.tenants.c.id).where(tables.tenants.c.slug == slug)).first() is None


def test_a_product_in_another_currency_needs_accounts_that_accept_it(engine):
    _, tenant_id = create(engine)
    actor = actor_for(tenant_id)
    product = {"code": "USD12", "name": "Dollar loan", "currency": "USD"}
    with pytest.raises(InvalidProduct) as refused:
        run_in_transaction(engine, lambda c: catalogue.create_product(c, actor, product))
    assert "gl_accounts name accounts that do not accept USD: 1100, 1200," in refused.value.message

    roles = {"bank": "1100", "loans_receivable": "1200", "interest_receivable": "1210", "fee_receivable": "1220",
             "penalty_receivable": "1230", "allowance": "1290", "overpayments": "2100", "suspense": "2200", "interest_income": "4100",
             "fee_income": "4200", "penalty_income": "4300", "recoveries": "4400", "write_off_expense": "5100"}
    parents = {"1": ("1000", "ASSET"), "2": ("2000", "LIABILITY"), "4": ("4000", "INCOME"), "5": ("5000", "EXPENSE")}

    def open_dollar_accounts(conn):
        for code in roles.values():
            parent, kind = parents[code[0]]
            service.open_account(conn, actor, f"{code}.USD", f"{code} in USD", kind, parent_code=parent, currencies=["USD"])

    run_in_transaction(engine, open_dollar_accounts)
    made = run_in_transaction(engine, lambda c: catalogue.create_product(
        c, actor, {**product, "gl_accounts": {role: f"{code}.USD" for role, code in roles.items()}}))
    assert made.currency == "USD" and made.gl_accounts["bank"] == "1100.USD"


def test_the_tenant_command_sets_and_lists_the_functional_currency(engine, monkeypatch, capsys):
    monkeypatch.setenv("LOANBOOK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    slug = f"fx-{uuid.uuid4().hex[:10]}"
    assert cli_main(["tenant", "create", slug, "--name", "HK Lending", "--currency", "HKD"]) == 0
    assert "in HKD" in capsys.readouterr().out
    assert cli_main(["tenant", "list"]) == 0
    assert f"{slug}\tHKD\tHK Lending" in capsys.readouterr().out.splitlines()
    assert cli_main(["tenant", "create", f"{slug}-2", "--name", "x", "--currency", "hkd"]) == 1
    assert "error: UNKNOWN_CURRENCY:" in capsys.readouterr().err
