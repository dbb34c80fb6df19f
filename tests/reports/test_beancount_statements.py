"""Bank statements in the Beancount export: a balance assertion at each statement's closing date.

The books: capital 10,000.00 into the bank (1100) on 2 March 2026, a 5.00 bank charge and 70.00
more capital on 3 March. The bank's statement opens at 0.00, shows the 10,000.00 and the charge,
and closes on 3 March at 9,995.00: the 70.00 is not at the bank yet. Reconciled as of 3 March, the
70.00 is a deposit in transit, so the books should hold 9,995.00 + 70.00 = 10,065.00, and they do.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from ledger import service
from ledger.model import EntryDraft, credit, debit
from ledger.unit_of_work import run_in_transaction
from reconciliation import importing, reconciling
from reports.beancount import export_beancount
from tests.conftest import actor_for, new_tenant
from tests.reconciliation import samples
from tests.reconciliation.samples import Item
from tests.reports.test_beancount import bean_check

D = dt.date
BANK = "1100"


def books_with_a_statement(engine, opening: str):
    tenant_id = new_tenant(engine, "bank")
    actor = actor_for(tenant_id, "clerk")
    for day, legs, text in [
        (D(2026, 3, 2), (debit(BANK, "10000.00", "CNY"), credit("3100", "10000.00", "CNY")), "capital"),
        (D(2026, 3, 3), (debit("5100", "5.00", "CNY"), credit(BANK, "5.00", "CNY")), "bank charge"),
        (D(2026, 3, 3), (debit(BANK, "70.00", "CNY"), credit("3100", "70.00", "CNY")), "capital in transit"),
    ]:
        run_in_transaction(engine, lambda c, d=day, l=legs, t=text: service.post_entry(c, actor, EntryDraft(d, l, t)))
    content = samples.camt053([Item(D(2026, 3, 2), Decimal("10000.00"), "CAP-0302"), Item(D(2026, 3, 3), Decimal("-5.00"), "FEE-0303")],
                              opening=Decimal(opening), statement_id="MAR-1")
    run_in_transaction(engine, lambda c: importing.import_statement(c, actor, BANK, content, fmt="camt053"))
    done = run_in_transaction(engine, lambda c: reconciling.auto_reconcile(c, actor, BANK, D(2026, 3, 3)))
    assert (done.matched, done.unmatched) == (2, 0)
    return tenant_id


def export(engine, tenant_id, path):
    with path.open("w", encoding="utf-8") as out:
        export_beancount(engine, tenant_id, out)
    return path.read_text(encoding="utf-8")


def test_bean_check_accepts_a_reconciled_statement_and_refuses_one_the_books_do_not_explain(engine, tmp_path):
    agreed = books_with_a_statement(engine, "0.00")
    text = export(engine, agreed, tmp_path / "agreed.beancount")
    # Beancount checks a balance at the start of its day: the assertion for 3 March is dated 4 March.
    [assertion] = re.findall(r"^(\S+ balance Assets:\S+:1100  \S+ CNY)\n  bank_statement: ", text, re.M)
    assert assertion.startswith("2026-03-04 balance ") and assertion.endswith("  10065.00 CNY")
    assert 'statement_ref: "MAR-1"' in text and 'statement_closing_balance: "9995.00 CNY"' in text
    checked = bean_check(tmp_path / "agreed.beancount")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # The bank opened at 1.00: its closing 9,996.00 is 1.00 more than the books explain.
    disagreed = books_with_a_statement(engine, "1.00")
    text = export(engine, disagreed, tmp_path / "disagreed.beancount")
    assert re.search(r"^2026-03-04 balance Assets:\S+:1100  10066.00 CNY$", text, re.M)
    assert 'statement_closing_balance: "9996.00 CNY"' in text
    checked = bean_check(tmp_path / "disagreed.beancount")
    assert checked.returncode != 0
    assert "Balance failed" in checked.stdout + checked.stderr and "1100" in checked.stdout + checked.stderr
