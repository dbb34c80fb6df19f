"""Manual entry requests in the domain: the transition rules as data, and the service on both databases."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from ledger import errors as ledger_errors
from ledger.model import EntryDraft, credit, debit
from ledger.queries import get_entry
from ledger.unit_of_work import run_in_transaction
from manual_entries import service
from manual_entries.errors import IllegalTransition, MakerChecker, UnknownEntryRequest
from manual_entries.model import Decision, RequestStatus, check_decision
from tests.conftest import actor_for

CAPITAL = EntryDraft(dt.date(2026, 1, 5), (debit("1100", "1000.00", "CNY"), credit("3100", "1000.00", "CNY")), "capital paid in")


def submitted(engine, tenant_id, draft=CAPITAL, maker="li"):
    return run_in_transaction(engine, lambda c: service.submit_entry(c, actor_for(tenant_id, maker), draft))[0]


@pytest.mark.parametrize(("decision", "by", "outcome"), [
    (Decision.APPROVE, "wang", RequestStatus.APPROVED),
    (Decision.REJECT, "wang", RequestStatus.REJECTED),
    (Decision.CANCEL, "li", RequestStatus.CANCELLED),
    (Decision.APPROVE, "li", MakerChecker),
    (Decision.REJECT, "li", MakerChecker),
    (Decision.CANCEL, "wang", MakerChecker),
])
def test_who_may_take_which_decision(engine, tenant_id, decision, by, outcome):
    request = submitted(engine, tenant_id)
    if isinstance(outcome, RequestStatus):
        assert check_decision(request, by, decision) is outcome
    else:
        with pytest.raises(outcome):
            check_decision(request, by, decision)


def test_a_decided_request_is_decided_for_good(engine, tenant_id):
    request = submitted(engine, tenant_id)
    decided, entry = run_in_transaction(engine, lambda c: service.approve_entry(c, actor_for(tenant_id, "wang"), request.id))
    assert decided.status is RequestStatus.APPROVED and decided.journal_entry_id == entry.id
    for decision, by in ((Decision.APPROVE, "zhao"), (Decision.REJECT, "zhao"), (Decision.CANCEL, "li")):
        with pytest.raises(IllegalTransition):
            check_decision(decided, by, decision)
    with engine.connect() as conn:
        posted = get_entry(conn, tenant_id, entry.id)
    assert posted.postings == CAPITAL.postings and posted.actor == "wang"
    assert posted.idempotency_key == f"journal-entry-request:{request.id}"
    # The database refuses to rewrite a decided request, whatever the code does.
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
        conn.execute(sa.text("UPDATE journal_entry_requests SET status = 'PENDING' WHERE id = :id"),
                     {"id": request.id.hex if engine.dialect.name == "sqlite" else request.id})


def test_validation_happens_at_submission_and_nothing_is_stored(engine, tenant_id):
    unbalanced = EntryDraft(dt.date(2026, 1, 5), (debit("1100", "10.00", "CNY"), credit("3100", "9.99", "CNY")))
    with pytest.raises(ledger_errors.UnbalancedEntry):
        submitted(engine, tenant_id, unbalanced)
    unknown = EntryDraft(dt.date(2026, 1, 5), (debit("1100", "10.00", "CNY"), credit("9999", "10.00", "CNY")))
    with pytest.raises(ledger_errors.UnknownAccount):
        submitted(engine, tenant_id, unknown)
    with engine.connect() as conn:
        assert service.list_requests(conn, tenant_id) == []


def test_a_key_already_used_by_a_posted_entry_is_a_conflict(engine, tenant_id):
    from ledger import service as ledger_service

    keyed = EntryDraft(CAPITAL.effective_date, CAPITAL.postings, CAPITAL.description, idempotency_key="capital-1")
    run_in_transaction(engine, lambda c: ledger_service.post_entry(c, actor_for(tenant_id, "cli"), keyed))
    with pytest.raises(ledger_errors.IdempotencyConflict):
        submitted(engine, tenant_id, keyed)


def test_another_tenants_request_is_unknown(engine, tenant_id):
    from tests.conftest import new_tenant

    request = submitted(engine, tenant_id)
    other = new_tenant(engine)
    with pytest.raises(UnknownEntryRequest):
        run_in_transaction(engine, lambda c: service.approve_entry(c, actor_for(other, "wang"), request.id))
    with engine.connect() as conn:
        assert service.get_request(conn, other, request.id) is None
        assert service.get_request(conn, tenant_id, request.id).status is RequestStatus.PENDING
