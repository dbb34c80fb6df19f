"""`loanbook demo`: a loan book built through the public services, the same for the same seed."""
from __future__ import annotations

import base64
import datetime as dt
import uuid

import sqlalchemy as sa

from ledger import queries, service
from ledger.store import tables
from loanbook.demo import build_demo
from loans.pii import FieldCipher

cipher = FieldCipher(base64.urlsafe_b64decode(base64.urlsafe_b64encode(b"d" * 32)))
today = dt.date(2026, 6, 1)


def demo(engine, seed: int, workers: int = 1):
    slug = f"demo-{uuid.uuid4().hex[:8]}"
    summary = build_demo(engine, cipher, tenant=slug, loans=40, months=4, seed=seed, today=today, workers=workers)
    with engine.connect() as conn:
        tenant_id = service.tenant_id_for(conn, slug)
        lines = [(line.account.code, line.currency, line.debit_minor, line.credit_minor)
                 for line in queries.trial_balance(conn, tenant_id).lines]
        kinds = conn.execute(sa.text(
            "SELECT type, count(*) FROM loan_transactions WHERE tenant_id = :t GROUP BY type ORDER BY type"), {"t": tenant_id}).all()
        closed = conn.execute(sa.text("SELECT count(*) FROM cob_runs WHERE tenant_id = :t AND status = 'DONE'"), {"t": tenant_id}).scalar()
    return summary, lines, dict(kinds), closed


def test_the_same_seed_builds_the_same_books_and_the_book_has_every_kind_of_loan(engine):
    first, lines, kinds, closed = demo(engine, seed=1)
    assert first.clean, first.discrepancies
    assert (first.first_day, first.last_day) == (dt.date(2026, 1, 29), dt.date(2026, 5, 31))
    assert closed == (first.last_day - first.first_day).days + 1  # close of business ran every day
    statuses = first.loans_by_status
    assert sum(statuses.values()) == 40
    assert statuses["REJECTED"] > 0 and statuses["ACTIVE"] > 0 and statuses["PAID_OFF"] > 0 and statuses["WRITTEN_OFF"] == 1
    assert (first.written_off, first.recovered) == (1, 1) and first.receipts > 0
    for kind in ("DISBURSEMENT", "REPAYMENT", "PAYOFF", "REVERSAL", "WRITE_OFF", "RECOVERY", "CLOSE_OF_BUSINESS"):
        assert kinds.get(kind, 0) > 0, (kind, kinds)
    assert first.par30 != "0.0000"

    again, same_lines, same_kinds, _ = demo(engine, seed=1, workers=2)  # worker processes on PostgreSQL
    assert (again.loans_by_status, again.par30, same_lines, same_kinds) == (statuses, first.par30, lines, kinds)
    other, other_lines, _, _ = demo(engine, seed=2)
    assert other_lines != lines
