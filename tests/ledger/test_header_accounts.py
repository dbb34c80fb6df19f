"""Header accounts group the chart and take no postings, on every road into the journal."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from ledger import errors, queries, service
from ledger.model import EntryDraft, credit, debit
from ledger.store import tables
from ledger.unit_of_work import run_in_transaction
from loanbook.cli import main as cli_main
from loans import catalogue
from loans.errors import InvalidProduct
from manual_entries import service as manual_entries
from tests.ledger.test_journal import snapshot

D = dt.date
ASSET_CHILDREN = ["1100", "1200", "1210", "1220", "1230", "1290"]


def draft(*legs, description="to a header"):
    return EntryDraft(D(2026, 1, 5), tuple(legs), description)


def test_the_default_chart_marks_its_group_accounts_as_headers(engine, actor):
    with engine.connect() as conn:
        chart = {a.code: a for a in queries.list_accounts(conn, actor.tenant_id)}
    assert sorted(code for code, a in chart.items() if a.is_header) == ["1000", "2000", "3000", "4000", "5000"]
    assert all(chart[a.parent_code].is_header for a in chart.values() if a.parent_code)


def test_a_posting_to_a_header_is_refused_naming_its_children_and_nothing_is_written(engine, actor):
    before = snapshot(engine, actor.tenant_id)
    with pytest.raises(errors.HeaderAccount) as caught:
        run_in_transaction(engine, lambda c: service.post_entry(
            c, actor, draft(debit("1000", "100.00", "CNY"), credit("3100", "100.00", "CNY"))))
    assert caught.value.code == "HEADER_ACCOUNT"
    assert caught.value.details == {"account": "1000", "children": ASSET_CHILDREN}
    assert caught.value.message == (
        "account 1000 (Assets) is a header account and takes no postings; "
        "post to one of its child accounts: 1100, 1200, 1210, 1220, 1230, 1290"
    )
    assert snapshot(engine, actor.tenant_id) == before


def test_a_header_in_any_entry_of_a_batch_or_an_import_refuses_the_whole_batch(engine, actor):
    good = draft(debit("1100", "5.00", "CNY"), credit("3100", "5.00", "CNY"), description="capital")
    bad = draft(debit("1100", "5.00", "CNY"), credit("3000", "5.00", "CNY"))
    before = snapshot(engine, actor.tenant_id)
    with pytest.raises(errors.HeaderAccount) as batch:
        run_in_transaction(engine, lambda c: service.post_entries(c, actor, [good, bad]))
    with pytest.raises(errors.HeaderAccount) as imported:
        run_in_transaction(engine, lambda c: service.import_entries(c, actor, [good] * 3 + [bad], reference="legacy.jsonl"))
    assert batch.value.details["children"] == imported.value.details["children"] == ["3100", "3200"]
    assert snapshot(engine, actor.tenant_id) == before


def test_a_reversal_cannot_post_to_a_header(engine, actor):
    """An account made a header after it took postings (see the migration) keeps its history but takes no more."""
    run_in_transaction(engine, lambda c: service.open_account(c, actor, "1150", "Petty cash", "ASSET", parent_code="1000"))
    entry = run_in_transaction(engine, lambda c: service.post_entry(
        c, actor, draft(debit("1150", "3.00", "CNY"), credit("3100", "3.00", "CNY"), description="float")))
    with engine.begin() as conn:
        conn.execute(sa.update(tables.accounts).where(
            tables.accounts.c.tenant_id == actor.tenant_id, tables.accounts.c.code == "1150").values(is_header=True))
    from ledger.store.journal import forget_chart

    forget_chart(engine, actor.tenant_id)
    with pytest.raises(errors.HeaderAccount) as caught:
        run_in_transaction(engine, lambda c: service.reverse_entry(c, actor, entry.id, D(2026, 1, 6)))
    assert "open a child account under it and post there" in caught.value.message
    assert caught.value.details == {"account": "1150", "children": []}


def test_a_manual_entry_request_naming_a_header_is_refused_at_submission(engine, actor):
    before = snapshot(engine, actor.tenant_id)
    with pytest.raises(errors.HeaderAccount) as caught:
        run_in_transaction(engine, lambda c: manual_entries.submit_entry(
            c, actor, draft(debit("5000", "9.00", "CNY"), credit("1100", "9.00", "CNY"))))
    assert caught.value.details == {"account": "5000", "children": ["5100"]}
    assert snapshot(engine, actor.tenant_id) == before


def test_a_loan_product_cannot_map_a_money_role_to_a_header(engine, actor):
    with pytest.raises(InvalidProduct) as caught:
        run_in_transaction(engine, lambda c: catalogue.create_product(c, actor, {
            "code": "CASH12", "name": "Cash loan", "currency": "CNY", "gl_accounts": {"interest_income": "4000"},
        }))
    assert "header accounts, which take no postings: 4000" in caught.value.message


def test_children_hang_only_under_headers_and_a_new_header_takes_children(engine, actor):
    with pytest.raises(errors.InvalidAccount) as under_posting:
        run_in_transaction(engine, lambda c: service.open_account(c, actor, "1101", "Bank sub", "ASSET", parent_code="1100"))
    assert "1100 (Bank and cash) takes postings" in under_posting.value.message
    header = run_in_transaction(engine, lambda c: service.open_account(
        c, actor, "1500", "Other receivables", "ASSET", parent_code="1000", is_header=True))
    assert header.is_header
    run_in_transaction(engine, lambda c: service.open_account(c, actor, "1510", "Staff advances", "ASSET", parent_code="1500"))
    run_in_transaction(engine, lambda c: service.post_entry(
        c, actor, draft(debit("1510", "20.00", "CNY"), credit("1100", "20.00", "CNY"), description="advance")))
    with pytest.raises(errors.HeaderAccount) as caught:
        run_in_transaction(engine, lambda c: service.post_entry(
            c, actor, draft(debit("1500", "20.00", "CNY"), credit("1100", "20.00", "CNY"))))
    assert caught.value.details["children"] == ["1510"]
    with engine.connect() as conn:
        assert queries.list_accounts(conn, actor.tenant_id)[0].is_header  # 1000, read back from the table


def test_the_import_command_reports_the_header_line(engine, actor, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LOANBOOK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        slug = conn.execute(sa.select(tables.tenants.c.slug).where(tables.tenants.c.id == actor.tenant_id)).scalar()
    path = tmp_path / "legacy.jsonl"
    path.write_text(json.dumps({"date": "2026-01-05", "postings": [
        {"account": "1000", "currency": "CNY", "debit": "1.00"}, {"account": "3100", "currency": "CNY", "credit": "1.00"},
    ]}) + "\n", encoding="utf-8")
    before = snapshot(engine, actor.tenant_id)
    assert cli_main(["import", str(path), "--tenant", slug]) == 1
    err = capsys.readouterr().err
    assert "error: HEADER_ACCOUNT: line 1: account 1000 (Assets) is a header account" in err and "1100, 1200" in err
    assert snapshot(engine, actor.tenant_id) == before
