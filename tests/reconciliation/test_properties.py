"""Invariants on generated books and noisy statements whose truth is known: no line or posting matched
twice, no wrong match, and the report ties out to zero on every date."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import service
from ledger.model import EntryDraft, Posting
from ledger.unit_of_work import run_in_transaction
from reconciliation import importing, reconciling
from reconciliation.report import reconciliation_report
from reconciliation.store.tables import matched_lines, matched_postings, statement_lines
from reconciliation.synthetic import generate
from tests.conftest import actor_for, new_tenant
from tests.reconciliation import samples
from tests.reconciliation.samples import Item


def book_and_import(engine, generated):
    tenant_id = new_tenant(engine, "rec")
    actor = actor_for(tenant_id)
    drafts = [EntryDraft(p.day, (Posting("1100", "CNY", p.amount_minor), Posting("3100", "CNY", -p.amount_minor)), "generated",
                         {}, idempotency_key=p.key) for p in generated.postings]
    run_in_transaction(engine, lambda conn: service.import_entries(conn, actor, drafts))
    items = [Item(line.day, Decimal(line.amount_minor) / 100, line.reference, line.end_to_end_id, line.name, line.remittance)
             for line in sorted(generated.lines, key=lambda line: line.day)]
    run_in_transaction(engine, lambda conn: importing.import_statement(conn, actor, "1100", samples.camt053(items)))
    return actor


def matched_truth(engine, tenant_id: int) -> tuple[dict[str, set[str]], list[tuple]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT l.bank_reference, j.idempotency_key, ml.match_id FROM reconciliation_matched_lines ml "
                    "JOIN bank_statement_lines l ON l.tenant_id = ml.tenant_id AND l.id = ml.line_id "
                    "JOIN reconciliation_matched_postings mp ON mp.tenant_id = ml.tenant_id AND mp.match_id = ml.match_id "
                    "JOIN journal_entries j ON j.tenant_id = mp.tenant_id AND j.id = mp.entry_id WHERE ml.tenant_id = :t"),
            {"t": tenant_id}).all()
        counts = conn.execute(sa.select(
            sa.select(sa.func.count()).select_from(matched_lines).where(matched_lines.c.tenant_id == tenant_id).scalar_subquery(),
            sa.select(sa.func.count(sa.distinct(matched_lines.c.line_id))).where(matched_lines.c.tenant_id == tenant_id).scalar_subquery(),
            sa.select(sa.func.count()).select_from(matched_postings).where(matched_postings.c.tenant_id == tenant_id).scalar_subquery(),
            sa.select(sa.func.count()).select_from(statement_lines).where(statement_lines.c.tenant_id == tenant_id,
                                                                        statement_lines.c.status == "MATCHED").scalar_subquery(),
        )).one()
    found: dict[str, set[str]] = defaultdict(set)
    for reference, key, _ in rows:
        found[reference].add(key)
    return found, counts


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(20, 120), seed=st.integers(0, 10**6), days=st.integers(0, 2))
def test_no_line_or_posting_matched_twice_no_wrong_match_and_the_report_ties_out(engine, n, seed, days) -> None:
    generated = generate(n, seed)
    actor = book_and_import(engine, generated)
    last = max(line.day for line in generated.lines)
    run_in_transaction(engine, lambda conn: reconciling.auto_reconcile(conn, actor, "1100", last))
    found, (links, distinct_lines, _, matched_status) = matched_truth(engine, actor.tenant_id)
    assert links == distinct_lines == matched_status
    for reference, keys in found.items():
        assert keys <= generated.truth[reference], (reference, keys, generated.truth[reference])
    for as_of in (generated.postings[0].day + dt.timedelta(days=days), last):
        with engine.connect() as conn:
            report = reconciliation_report(conn, actor.tenant_id, "1100", as_of)
        assert report.difference_minor == 0, report
