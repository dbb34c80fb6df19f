"""Entries a workflow owns are corrected only through it; every loan command keeps the business-date rule.

A journal reversal of a repayment would move the GL and leave the loan as it was: the sub-ledger and
the GL would disagree from then on. The ledger refuses it, naming the workflow, and writes nothing.
"""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from ledger import errors as ledger_errors
from ledger import service
from ledger.model import EntryDraft, credit, debit
from ledger.ownership import owning_workflow
from ledger.store.tables import journal_entries
from ledger.unit_of_work import run_in_transaction
from loans import errors, money, suspense
from tests.conftest import actor_for
from tests.ledger.test_journal import snapshot
from tests.loans.conftest import apply, check_books, cob

D = dt.date


def reverse(engine, actor, entry_id, day):
    return run_in_transaction(engine, lambda c: service.reverse_entry(c, actor, entry_id, day))


def test_a_journal_reversal_of_loan_and_cob_entries_is_refused_and_writes_nothing(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    disbursed = run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 15))
    paid = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "888.49", "CNY", D(2026, 2, 16)))
    receipt = run_in_transaction(engine, lambda c: suspense.receive_unidentified(c, officer, "100", "CNY", D(2026, 2, 16), "WANG 0216"))
    with engine.connect() as conn:
        cob_entry = conn.execute(
            sa.select(journal_entries.c.id).where(
                journal_entries.c.tenant_id == tenant_id, journal_entries.c.description.like("close of business%")
            ).limit(1)
        ).scalar_one()
        receipt_entry = conn.execute(
            sa.select(journal_entries.c.id).where(
                journal_entries.c.tenant_id == tenant_id, journal_entries.c.description == "unidentified receipt: WANG 0216"
            )
        ).scalar_one()
    assert receipt is not None
    finance = actor_for(tenant_id, "finance", reason="bounced")
    before = snapshot(engine, tenant_id)
    for entry_id, workflow in [
        (paid.journal_entry_id, "loans"), (disbursed.journal_entry_id, "loans"), (cob_entry, "close_of_business"),
        (receipt_entry, "loans"),
    ]:
        with pytest.raises(ledger_errors.EntryOwnedByWorkflow) as refused:
            reverse(engine, finance, entry_id, D(2026, 2, 16))
        assert refused.value.details == {"workflow": workflow, "entry": str(entry_id)}
    assert snapshot(engine, tenant_id) == before
    # The loan's own reversal is the road: it corrects the loan and the GL together.
    run_in_transaction(engine, lambda c: money.reverse_transaction(c, officer, loan_id, paid.transaction_id, D(2026, 2, 16)))
    check_books(engine, tenant_id)


def test_entries_of_the_ledger_reverse_and_marked_or_legacy_workflow_entries_do_not(engine, tenant_id):
    actor = actor_for(tenant_id, reason="correction")

    def post(metadata):
        draft = EntryDraft(D(2026, 3, 1), (debit("1100", "10.00", "CNY"), credit("3100", "10.00", "CNY")), "capital", metadata)
        return run_in_transaction(engine, lambda c: service.post_entry(c, actor, draft)).id

    manual = post({"source": "desk"})
    reconciled = post({"workflow": "reconciliation", "statement_line": "L-7"})
    legacy_loan = post({"loan_id": "0190f5d2-0000-7000-8000-000000000001", "type": "REPAYMENT"})
    assert reverse(engine, actor, manual, D(2026, 3, 2)).reverses_entry_id == manual
    for entry_id, workflow in [(reconciled, "reconciliation"), (legacy_loan, "loans")]:
        with pytest.raises(ledger_errors.EntryOwnedByWorkflow) as refused:
            reverse(engine, actor, entry_id, D(2026, 3, 2))
        assert refused.value.details["workflow"] == workflow


def test_owning_workflow_reads_the_marker_first_then_what_older_entries_carried():
    assert owning_workflow({"workflow": "reconciliation", "loan_id": "x"}) == "reconciliation"
    assert owning_workflow({"loan_id": "0190f5d2-0000-7000-8000-000000000001", "type": "REPAYMENT"}) == "loans"
    assert owning_workflow({"loan_id": "L-1"}) is None  # an imported entry's own reference
    assert owning_workflow({"cob_date": "2026-01-16", "loans": 3}) == "close_of_business"
    assert owning_workflow({"type": "UNIDENTIFIED_RECEIPT"}) == "loans"
    assert owning_workflow({"type": "ACCRUAL", "loanId": "L-7"}) is None  # a manual entry's own words
    assert owning_workflow({}) is None


def test_a_reversal_obeys_the_open_business_date_like_a_repayment(book):
    engine, tenant_id, officer, _, _ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, loan_id, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 2, 15))
    paid = run_in_transaction(engine, lambda c: money.record_repayment(c, officer, loan_id, "888.49", "CNY", D(2026, 2, 16)))
    before = snapshot(engine, tenant_id)
    for command in (
        lambda c: money.reverse_transaction(c, officer, loan_id, paid.transaction_id, D(2036, 2, 16)),
        lambda c: money.record_repayment(c, officer, loan_id, "1", "CNY", D(2026, 2, 17)),
    ):
        with pytest.raises(errors.DateAfterBusinessDate) as refused:
            run_in_transaction(engine, command)
        assert refused.value.details["field"] == "date"
    assert snapshot(engine, tenant_id) == before
    reversed_ = run_in_transaction(
        engine, lambda c: money.reverse_transaction(c, officer, loan_id, paid.transaction_id, D(2026, 2, 16))
    )
    assert reversed_.transaction.effective_date == D(2026, 2, 16)
    check_books(engine, tenant_id)


def test_a_disbursement_obeys_the_tenants_open_business_date_once_close_of_business_ran(book):
    engine, tenant_id, officer, _, _ = book
    first, second = apply(book), apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, first, D(2026, 1, 15)))
    cob(engine, tenant_id, D(2026, 1, 16), D(2026, 1, 20))
    with pytest.raises(errors.DateAfterBusinessDate):
        run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, second, D(2036, 1, 15)))
    on_open_date = run_in_transaction(engine, lambda c: money.disburse_loan(c, officer, second, D(2026, 1, 21)))
    assert on_open_date.transaction.effective_date == D(2026, 1, 21)
    check_books(engine, tenant_id)
