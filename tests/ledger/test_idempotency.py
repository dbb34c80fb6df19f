"""One idempotency service (ledger.idempotency.run_once): once per key and tenant, whoever asks again."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from ledger import errors, idempotency
from ledger.store import tables
from ledger.unit_of_work import record_event, run_in_transaction
from tests.conftest import actor_for, new_tenant


def counting_command(calls: list[int]):
    def command(conn):
        calls.append(1)
        event_id = record_event(conn, actor_for(1), "test.done", "test", len(calls))
        return {"made": str(event_id)}
    return command


def test_the_same_request_replays_the_first_result_and_a_different_one_conflicts(engine):
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)
    calls: list[int] = []

    def once(request, operation="TEST"):
        def command(conn):
            calls.append(1)
            return {"made": f"thing-{len(calls)}"}
        return run_in_transaction(engine, lambda c: idempotency.run_once(c, actor, "k-1", request, command, operation=operation))

    first = once({"amount": 100, "date": "2026-01-05"})
    assert first == idempotency.Once({"made": "thing-1"}, False)
    assert once({"date": "2026-01-05", "amount": 100}) == idempotency.Once({"made": "thing-1"}, True)
    assert len(calls) == 1
    with pytest.raises(errors.IdempotencyConflict, match=r"different request \(TEST\)"):
        once({"amount": 101, "date": "2026-01-05"})
    with pytest.raises(errors.IdempotencyConflict):
        once({"amount": 100, "date": "2026-01-05"}, operation="OTHER")
    other_tenant = actor_for(new_tenant(engine))  # keys are per tenant
    result = run_in_transaction(
        engine, lambda c: idempotency.run_once(c, other_tenant, "k-1", {"amount": 1}, lambda _: {"made": "x"}, operation="TEST")
    )
    assert result == idempotency.Once({"made": "x"}, False)
    # No key: the command runs every time.
    run_in_transaction(engine, lambda c: idempotency.run_once(c, actor, None, {}, lambda _: calls.append(1) or {}, operation="TEST"))
    assert len(calls) == 2


def test_a_command_that_fails_records_no_key(engine):
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)

    def failing(conn):
        raise errors.InvalidEntry("no")

    with pytest.raises(errors.InvalidEntry):
        run_in_transaction(engine, lambda c: idempotency.run_once(c, actor, "k", {"a": 1}, failing, operation="TEST"))
    again = run_in_transaction(engine, lambda c: idempotency.run_once(c, actor, "k", {"a": 1}, lambda _: {"ok": True}, operation="TEST"))
    assert again == idempotency.Once({"ok": True}, False)


@pytest.mark.parametrize("key", ["", "x" * 201])
def test_an_unusable_key_is_invalid_input(engine, key):
    actor = actor_for(new_tenant(engine))
    with pytest.raises(errors.InvalidInput) as raised:
        run_in_transaction(engine, lambda c: idempotency.run_once(c, actor, key, {}, lambda _: {}, operation="TEST"))
    assert raised.value.code == "INVALID_INPUT" and raised.value.details == {"field": "idempotencyKey"}


def test_concurrent_first_uses_of_a_key_commit_the_command_once(pg_engine):
    engine = pg_engine
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)
    calls: list[int] = []
    results: list[idempotency.Once] = []
    start = threading.Barrier(8)

    def command(conn):
        calls.append(1)
        record_event(conn, actor, "test.done", "test", "once")
        return {"made": "the-one"}

    def client():
        start.wait()
        results.append(run_in_transaction(engine, lambda c: idempotency.run_once(c, actor, "race", {"a": 1}, command, operation="TEST")))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # A first use that waited for the lock may have run the command too; only one run committed.
    assert calls
    assert sorted(r.replayed for r in results) == [False] + [True] * 7
    assert {r.result["made"] for r in results} == {"the-one"}
    with engine.connect() as conn:
        done = conn.execute(
            sa.select(sa.func.count()).select_from(tables.audit_events)
            .where(tables.audit_events.c.tenant_id == tenant_id, tables.audit_events.c.action == "test.done")
        ).scalar()
    assert done == 1


@pytest.mark.parametrize("fresh_engine", ["sqlite", "postgresql"], indirect=True)
def test_migration_0013_brings_the_keys_the_api_recorded_in_the_audit_log(fresh_engine):
    from alembic import command

    from graphql_api.core.idempotency import run_once
    from loanbook.migrate import alembic_config, upgrade
    from ledger.model import canonical_json

    engine = fresh_engine
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)
    config = alembic_config()
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0012_period_balances_in_posting")
        conn.commit()
    request = {"name": "Li Wei"}
    fingerprint = idempotency.request_hash({"operation": "createBorrower", **request})
    with engine.begin() as conn:  # as the API recorded a key before the one service
        conn.execute(sa.insert(tables.audit_events).values(
            tenant_id=tenant_id, id=__import__("uuid").uuid4(), occurred_at=dt.datetime.now(dt.timezone.utc), actor="api",
            action="api.idempotent_request", entity_type="idempotency_key", entity_id="digest",
            after=canonical_json({"key": "b-1", "operation": "createBorrower", "request": fingerprint, "result": {"borrowerId": "B1"}}),
        ))
    upgrade(engine)
    replay = run_in_transaction(engine, lambda c: run_once(c, actor, "b-1", "createBorrower", request, lambda _: {"borrowerId": "B2"}))
    assert replay == ({"borrowerId": "B1"}, True)
