"""Reports as of a date and as known on a moment, tied to the trial balance, on both databases."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json

import sqlalchemy as sa

from ledger import periods, queries, service
from ledger.actor import Actor
from ledger.model import EntryDraft, credit, debit
from ledger.store import tables
from ledger.unit_of_work import run_in_transaction
from loanbook.cli import main as cli_main
from reports import statements
from tests.conftest import new_tenant

D = dt.date
UTC = dt.timezone.utc
FEB, MAR = dt.datetime(2026, 2, 1, 9, tzinfo=UTC), dt.datetime(2026, 3, 1, 9, tzinfo=UTC)


def books(engine):
    """Capital 10,000; a loan of 6,000 with 100 fee deducted; interest 50 then 30; 20 written off. Then,
    recorded on 1 March but effective 20 January, a 5.00 bank charge the February books did not know."""
    tenant_id = new_tenant(engine)
    feb, mar = Actor(tenant_id, "clerk", FEB), Actor(tenant_id, "clerk", MAR)
    posted = [
        (feb, D(2026, 1, 2), [debit("1100", "10000", "CNY"), credit("3100", "10000", "CNY")]),
        (feb, D(2026, 1, 10), [debit("1200", "6000", "CNY"), credit("1100", "5900", "CNY"), credit("4200", "100", "CNY")]),
        (feb, D(2026, 1, 31), [debit("1210", "50", "CNY"), credit("4100", "50", "CNY")]),
        (feb, D(2026, 2, 1), [debit("1100", "20", "CNY"), credit("1210", "20", "CNY")]),
        (mar, D(2026, 1, 20), [debit("5100", "5", "CNY"), credit("1100", "5", "CNY")]),
        (mar, D(2026, 2, 28), [debit("1210", "30", "CNY"), credit("4100", "30", "CNY")]),
        (mar, D(2026, 2, 28), [debit("5100", "20", "CNY"), credit("1200", "20", "CNY")]),
    ]
    for actor, day, legs in posted:
        run_in_transaction(engine, lambda c, a=actor, d=day, l=legs: service.post_entry(c, a, EntryDraft(d, tuple(l))))
    return tenant_id


def figures(section):
    return {(line.account.code, line.currency): line.amount_minor for line in section.lines}


def test_balance_sheet_and_income_statement_tie_to_the_trial_balance_as_of_and_as_known(engine):
    tenant_id = books(engine)
    with engine.connect() as conn:
        bs = statements.balance_sheet(conn, tenant_id, D(2026, 2, 28))
        inc = statements.income_statement(conn, tenant_id, D(2026, 1, 1), D(2026, 2, 28))
        tb = statements.trial_balance(conn, tenant_id, D(2026, 2, 28))
        old_tb = queries.trial_balance(conn, tenant_id, D(2026, 2, 28))
        known_bs = statements.balance_sheet(conn, tenant_id, D(2026, 2, 28), known_on=FEB)
        known_inc = statements.income_statement(conn, tenant_id, D(2026, 1, 1), D(2026, 1, 31), known_on=FEB)
        jan_inc = statements.income_statement(conn, tenant_id, D(2026, 1, 1), D(2026, 1, 31))
    assert figures(bs.assets) == {("1100", "CNY"): 411500, ("1200", "CNY"): 598000, ("1210", "CNY"): 6000}
    assert figures(bs.equity) == {("3100", "CNY"): 1000000} and bs.liabilities.lines == []
    assert bs.current_earnings == {"CNY": 15500} and bs.balanced()
    assert figures(inc.income) == {("4100", "CNY"): 8000, ("4200", "CNY"): 10000}
    assert figures(inc.expenses) == {("5100", "CNY"): 2500} and inc.net_income() == {"CNY": 15500}
    # Ties: the trial balance's totals, its lines by type, the ledger's own trial balance.
    assert tb.totals() == {"CNY": (1018000, 1018000)} == old_tb.totals()
    assert sum(d - k for a, _, d, k in tb.lines if a.type.value == "ASSET") == bs.assets.totals()["CNY"]
    assert sum(k - d for a, _, d, k in tb.lines if a.type.value in ("INCOME", "EXPENSE")) == inc.net_income()["CNY"]
    # As known on 1 February: neither the backdated bank charge nor March's entries.
    assert figures(known_bs.assets) == {("1100", "CNY"): 412000, ("1200", "CNY"): 600000, ("1210", "CNY"): 3000}
    assert known_bs.current_earnings == {"CNY": 15000} and known_bs.balanced()
    assert known_inc.net_income() == {"CNY": 15000} and jan_inc.net_income() == {"CNY": 14500}


def test_general_ledger_detail_pages_carry_the_running_balance(engine):
    tenant_id = books(engine)
    with engine.connect() as conn:
        cash = queries.load_accounts(conn, tenant_id, ["1100"])["1100"]
        pages, cursor = [], None
        while True:
            page = statements.general_ledger_detail(conn, tenant_id, cash, "CNY", D(2026, 1, 5), D(2026, 2, 28),
                                                    after=cursor, limit=2)
            pages.append(page)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        closing = queries.balance_as_of(conn, tenant_id, "1100", "CNY", D(2026, 2, 28)).net_minor
        known = statements.general_ledger_detail(conn, tenant_id, cash, "CNY", D(2026, 1, 5), D(2026, 2, 28), known_on=FEB)
    assert pages[0].opening_minor == 1000000
    lines = [(d.line.effective_date, d.line.amount_minor, d.running_minor) for p in pages for d in p.lines]
    assert lines == [(D(2026, 1, 10), -590000, 410000), (D(2026, 1, 20), -500, 409500), (D(2026, 2, 1), 2000, 411500)]
    assert [len(p.lines) for p in pages] == [2, 1] and pages[1].opening_minor == 409500
    assert pages[-1].closing_minor == closing == 411500
    assert [d.line.amount_minor for d in known.lines] == [-590000, 2000] and known.closing_minor == 412000


def test_year_end_close_leaves_the_income_statement_and_moves_the_balance_sheet(engine):
    tenant_id = books(engine)
    actor = Actor(tenant_id, "controller", dt.datetime(2027, 1, 10, tzinfo=UTC))
    run_in_transaction(engine, lambda c: periods.close_fiscal_year(c, actor, 2026, "FY2026"))
    with engine.connect() as conn:
        inc = statements.income_statement(conn, tenant_id, D(2026, 1, 1), D(2026, 12, 31))
        bs = statements.balance_sheet(conn, tenant_id, D(2026, 12, 31))
        next_year = statements.income_statement(conn, tenant_id, D(2027, 1, 1), D(2027, 1, 31))
    assert inc.net_income() == {"CNY": 15500}
    assert bs.current_earnings == {} and figures(bs.equity)[("3200", "CNY")] == 15500 and bs.balanced()
    assert next_year.income.lines == [] and next_year.expenses.lines == []


def test_report_cli_prints_csv_and_json_lines(engine, monkeypatch, capsys):
    tenant_id = books(engine)
    monkeypatch.setenv("LOANBOOK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        slug = conn.execute(sa.select(tables.tenants.c.slug).where(tables.tenants.c.id == tenant_id)).scalar()
    assert cli_main(["report", "balance-sheet", "--tenant", slug, "--as-of", "2026-02-28"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["section", "account", "name", "currency", "amount"]
    assert ["TOTAL ASSET", "", "", "CNY", "10155.00"] in rows
    args = ["report", "gl-detail", "--tenant", slug, "--as-of", "2026-02-28", "--from", "2026-01-05",
            "--account", "1100", "--currency", "CNY", "--known-on", "2026-02-01T09:00:00Z", "--format", "json"]
    assert cli_main(args) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["balance"] for x in lines] == ["10000.00", "4100.00", "4120.00", "4120.00"]
    assert cli_main(["report", "income-statement", "--tenant", slug, "--as-of", "2026-02-28"]) == 0
    assert "NET INCOME,,2026-01-01 to 2026-02-28,CNY,155.00" in capsys.readouterr().out
