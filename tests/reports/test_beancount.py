"""The Beancount export is checked by bean-check itself (run as a separate program, never imported)."""
from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger import periods, service
from ledger.actor import Actor
from ledger.model import Account, AccountType, EntryDraft, NormalBalance, credit, debit
from ledger.store import tables
from ledger.unit_of_work import run_in_transaction
from loanbook.cli import main as cli_main
from loans import money
from reports.beancount import account_names, export_beancount, month_ends
from tests.conftest import open_usd_accounts
from tests.loans.conftest import apply, book, cipher  # noqa: F401  (fixtures)

D = dt.date
UTC = dt.timezone.utc


def bean_check(path: Path) -> subprocess.CompletedProcess:
    program = shutil.which("bean-check") or str(Path(sys.executable).with_name("bean-check"))
    if not Path(program).exists():
        pytest.skip("bean-check (beancount 3, a test dependency) is not installed")
    return subprocess.run([program, str(path)], capture_output=True, text=True, timeout=120)


def test_names_start_with_an_ascii_capital_and_month_ends_are_listed():
    accounts = [Account(1, "1100", "银行存款", AccountType.ASSET, NormalBalance.DEBIT),
                Account(1, "x.2", "Interest income", AccountType.INCOME, NormalBalance.CREDIT)]
    assert account_names(accounts) == {"1100": "Assets:Account:1100", "x.2": "Income:InterestIncome:X-2"}
    assert list(month_ends(D(2025, 11, 3), D(2026, 1, 1))) == [D(2025, 11, 30), D(2025, 12, 31), D(2026, 1, 31)]


def test_bean_check_accepts_reversals_write_offs_recoveries_currencies_and_a_year_end_close(book, tmp_path, monkeypatch):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book, start=D(2025, 11, 15))
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2025, 11, 15)))
    run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "300.00", "CNY", D(2025, 11, 16)))
    run_in_transaction(engine, lambda c: money.write_off_loan(c, officer, loan_id, D(2025, 11, 16)))
    run_in_transaction(engine, lambda c: money.record_recovery(c, officer, loan_id, "500.00", "CNY", D(2025, 11, 16)))
    clerk = Actor(tenant_id, "clerk", dt.datetime.now(UTC), reason="duplicate")
    dollars = open_usd_accounts(engine, clerk)
    usd = run_in_transaction(engine, lambda c: service.post_entry(c, clerk, EntryDraft(
        D(2025, 12, 3), (debit(dollars["bank"], "250.00", "USD"), credit(dollars["capital"], "250.00", "USD")), 'USD capital "seed"')))
    fee = run_in_transaction(engine, lambda c: service.post_entry(c, clerk, EntryDraft(
        D(2025, 12, 4), (debit(dollars["bank"], "12.50", "USD"), credit(dollars["fee_income"], "12.50", "USD")), "wire fee")))
    run_in_transaction(engine, lambda c: service.reverse_entry(c, clerk, fee.id, D(2025, 12, 20)))
    run_in_transaction(engine, lambda c: periods.close_fiscal_year(c, clerk, 2025, "FY2025"))
    run_in_transaction(engine, lambda c: service.post_entry(c, clerk, EntryDraft(
        D(2026, 1, 5), (debit(dollars["expense"], "7.00", "USD"), credit(dollars["bank"], "7.00", "USD")), "bank charge")))

    whole = tmp_path / "books.beancount"
    with whole.open("w", encoding="utf-8") as out:
        count = export_beancount(engine, tenant_id, out)
    checked = bean_check(whole)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = whole.read_text(encoding="utf-8")
    assert "pad" not in re.findall(r"^\S+ (\w+)", text, re.M)
    assert count >= 9 and f'loan_id: "{loan_id}"' in text and f"^reversal-{fee.id}" in text
    assert "2025-12-01 balance Assets:" in text and "2026-01-01 balance Equity:RetainedEarnings:3200" in text
    assert f'entry_id: "{usd.id}"' in text and "USD capital \\\"seed\\\"" in text
    # A tampered copy (one amount changed) fails the month-end assertions loanbook wrote.
    tampered = tmp_path / "tampered.beancount"
    tampered.write_text(text.replace("250.00 USD", "251.00 USD", 1), encoding="utf-8")
    assert bean_check(tampered).returncode != 0
    # From a date: the opening balances come in one transaction, never by pad; the CLI writes the same.
    with engine.connect() as conn:
        slug = conn.execute(sa.select(tables.tenants.c.slug).where(tables.tenants.c.id == tenant_id)).scalar()
    monkeypatch.setenv("LOANBOOK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    part = tmp_path / "2026.beancount"
    assert cli_main(["export-beancount", "--tenant", slug, "--from", "2026-01-01", "--to", "2026-01-31", "--out", str(part)]) == 0
    checked = bean_check(part)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert '"Opening balances"' in part.read_text(encoding="utf-8")
