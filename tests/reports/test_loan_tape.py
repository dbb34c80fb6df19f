"""The loan tape and classification summary as of a date, tied to the general ledger."""
from __future__ import annotations

import datetime as dt

from ledger.unit_of_work import run_in_transaction
from loans import money
from loans.tape import loan_tape, tape_business_date
from reports import statements
from reports.tables import build, classification_summary
from tests.loans.conftest import apply, book, cipher, cob  # noqa: F401  (fixtures)

D = dt.date


def test_the_tape_has_a_row_per_loan_and_ties_to_the_control_accounts(book):
    engine, tenant_id, officer, _, _ = book
    loans = [apply(book, principal=p) for p in ("10000", "5000")]
    for loan_id in loans:
        run_in_transaction(engine, lambda c, i=loan_id: money.disburse_loan(c, officer, i, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 15), D(2026, 1, 20))
    with engine.connect() as conn:
        day = tape_business_date(conn, tenant_id, D(2026, 1, 31))
        rows = list(loan_tape(conn, tenant_id, day))
        earlier = tape_business_date(conn, tenant_id, D(2026, 1, 17))
        tb = dict(((a.code, c), d - k) for a, c, d, k in statements.trial_balance(conn, tenant_id, day).lines)
        summary = classification_summary(conn, tenant_id, D(2026, 1, 31))
        columns, csv_rows = build(conn, tenant_id, "loan-tape", D(2026, 1, 31))
        csv_rows = list(csv_rows)
    assert day == D(2026, 1, 20) and earlier == D(2026, 1, 17)
    assert sorted(r.loan_id for r in rows) == sorted(loans)
    assert sorted(r.principal for r in rows) == [500000, 1000000]
    assert all((r.dpd, r.bucket, r.loan_class) == (0, "CURRENT", "NORMAL") for r in rows)
    # Ties: principal to loans receivable (1200), provisions to the allowance (1290, a credit).
    assert sum(r.principal for r in rows) == tb[("1200", "CNY")]
    assert sum(r.provision for r in rows) == -tb.get(("1290", "CNY"), 0) > 0
    assert summary == {("CNY", "NORMAL"): [2, 1500000, sum(r.provision for r in rows)]}
    assert columns[:3] == ["business_date", "loan_id", "product"] and len(csv_rows) == 2
