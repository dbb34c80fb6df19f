"""Close of business runs as jobs: one active run per tenant, outcomes recorded, an interrupted run resumes."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from ledger.unit_of_work import run_in_transaction
from loans import cob_runs, money
from loans.cob_runs import RunStatus
from loans.errors import CobAlreadyRunning, CobOutOfOrder
from tests.conftest import actor_for
from tests.loans.conftest import D, apply, check_books


def clock() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def requested(engine, tenant_id, day, name="finance"):
    return run_in_transaction(engine, lambda c: cob_runs.request_run(c, actor_for(tenant_id, name), day))


def test_one_run_at_a_time_then_the_next_date(book):
    engine, tenant_id, *_ = book
    loan_id = apply(book)
    run_in_transaction(engine, lambda c: money.disburse_loan(c, actor_for(tenant_id, "finance"), loan_id, D(2026, 1, 15)))
    first = requested(engine, tenant_id, D(2026, 1, 16))
    assert first.status is RunStatus.QUEUED and first.requested_by == "finance"
    with pytest.raises(CobAlreadyRunning) as refused:
        requested(engine, tenant_id, D(2026, 1, 16), "someone else")
    assert refused.value.details["run"] == str(first.id)

    done = cob_runs.execute_run(engine, tenant_id, first.id, clock=clock)
    assert (done.status, done.loans_processed, done.loans_total, done.entries_posted) == (RunStatus.SUCCEEDED, 1, 1, 1)
    assert done.started_at is not None and done.finished_at >= done.started_at
    # Executing it again changes nothing; the date is checked in order before anything is queued.
    assert cob_runs.execute_run(engine, tenant_id, first.id, clock=clock) == done
    with pytest.raises(CobOutOfOrder):
        requested(engine, tenant_id, D(2026, 1, 18))
    with pytest.raises(CobOutOfOrder, match="has not begun"):
        requested(engine, tenant_id, clock().date() + dt.timedelta(days=2))
    again = cob_runs.execute_run(engine, tenant_id, requested(engine, tenant_id, D(2026, 1, 16)).id, clock=clock)
    assert again.status is RunStatus.SUCCEEDED and again.already_done
    with engine.connect() as conn:
        runs = cob_runs.list_runs(conn, tenant_id)
        actions = conn.execute(sa.text(
            "SELECT action FROM audit_events WHERE tenant_id = :t AND entity_type = 'close_of_business_run' ORDER BY occurred_at"
        ), {"t": tenant_id}).scalars().all()
    assert [r.id for r in runs] == [again.id, first.id]
    assert actions.count("close_of_business.requested") == 2 and actions.count("close_of_business.succeeded") == 2
    check_books(engine, tenant_id)


def test_a_stopped_run_fails_between_batches_and_the_next_run_resumes_the_date(book):
    engine, tenant_id, *_ = book
    for _ in range(3):
        loan_id = apply(book)
        run_in_transaction(engine, lambda c: money.disburse_loan(c, actor_for(tenant_id, "finance"), loan_id, D(2026, 1, 15)))
    run = requested(engine, tenant_id, D(2026, 1, 16))
    stopped = cob_runs.execute_run(engine, tenant_id, run.id, clock=clock, should_stop=lambda: True, batch_size=1)
    assert (stopped.status, stopped.error_code, stopped.loans_processed) == (RunStatus.FAILED, "COB_INTERRUPTED", 1)
    resumed = cob_runs.execute_run(engine, tenant_id, requested(engine, tenant_id, D(2026, 1, 16)).id, clock=clock)
    assert (resumed.status, resumed.resumed, resumed.loans_processed) == (RunStatus.SUCCEEDED, True, 2)
    check_books(engine, tenant_id)


def test_a_run_abandoned_by_a_stopped_server_is_superseded(book):
    engine, tenant_id, *_ = book
    stale = requested(engine, tenant_id, D(2026, 1, 16))
    with engine.begin() as conn:  # the server that held it stopped long ago
        conn.execute(sa.text("UPDATE close_of_business_runs SET heartbeat_at = :old WHERE tenant_id = :t"),
                     {"old": clock() - cob_runs.heartbeat_stale_after - dt.timedelta(seconds=1), "t": tenant_id})
    fresh = requested(engine, tenant_id, D(2026, 1, 16))
    with engine.connect() as conn:
        old = cob_runs.get_run(conn, tenant_id, stale.id)
    assert (old.status, old.error_code) == (RunStatus.FAILED, "COB_RUN_ABANDONED") and fresh.status is RunStatus.QUEUED
    # The database itself refuses a second active run, whatever the code does.
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO close_of_business_runs (tenant_id, id, business_date, status, requested_by, requested_at, heartbeat_at) "
            "VALUES (:t, :id, '2026-01-16', 'RUNNING', 'x', :now, :now)"
        ), {"t": tenant_id, "id": "0" * 32 if engine.dialect.name == "sqlite" else "00000000-0000-0000-0000-000000000000",
            "now": clock()})
