"""LOANBOOK_SEAL_MODE=background: requests return at commit, the server process's sealer chains their events."""
from __future__ import annotations

import datetime as dt
import warnings

import pytest
import sqlalchemy as sa

with warnings.catch_warnings():  # starlette asks for `httpx2` instead of httpx; httpx is what the suite installs
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from graphql_api.app import create_app
from identity import service as identity_service
from identity.model import Role
from ledger.sealing import sealed_in_background
from ledger.unit_of_work import run_in_transaction
from loans.pii import FieldCipher
from tests.conftest import new_tenant


@pytest.mark.parametrize("fresh_engine", ["sqlite", "postgresql"], indirect=True)
def test_the_app_seals_in_background_while_it_runs_and_leaves_nothing_unsealed(fresh_engine):
    tenant_id = new_tenant(fresh_engine, prefix="seal")
    now = dt.datetime.now(dt.timezone.utc)
    admin = run_in_transaction(fresh_engine, lambda c: identity_service.create_token(c, tenant_id, Role.ADMIN, actor_name="t", now=now))
    app = create_app(fresh_engine, cipher=FieldCipher(bytes(range(32))), seal_in_background=True)
    mutation = "mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { __typename } }"
    with TestClient(app) as client:
        assert sealed_in_background(fresh_engine)
        for n in range(5):
            body = client.post("/graphql", json={"query": mutation, "variables": {"i": {"role": "AUDITOR", "name": f"a{n}"}}},
                               headers={"Authorization": f"Bearer {admin.secret}"}).json()
            assert body["data"]["createApiToken"]["__typename"] == "CreateApiTokenPayload", body
    assert not sealed_in_background(fresh_engine)
    with fresh_engine.connect() as conn:
        queued = conn.execute(sa.text("SELECT count(*) FROM audit_unsealed")).scalar()
        events = conn.execute(sa.text("SELECT count(*) FROM audit_events WHERE tenant_id = :t"), {"t": tenant_id}).scalar()
        chained = conn.execute(sa.text("SELECT count(*) FROM audit_chain WHERE tenant_id = :t"), {"t": tenant_id}).scalar()
    assert queued == 0 and events == chained


@pytest.mark.parametrize("fresh_engine", ["sqlite", "postgresql"], indirect=True)
def test_verify_audit_counts_events_awaiting_the_sealer_as_pending_not_discrepancies(fresh_engine):
    from ledger import service
    from ledger.model import EntryDraft, credit, debit
    from tests.conftest import actor_for

    tenant_id = new_tenant(fresh_engine, prefix="pending")
    now = dt.datetime.now(dt.timezone.utc)
    auditor = run_in_transaction(fresh_engine, lambda c: identity_service.create_token(c, tenant_id, Role.AUDITOR, actor_name="t", now=now))
    actor = actor_for(tenant_id)
    for n in (1, 2):  # committed, left on the queue as a background sealer would find them
        draft = EntryDraft(dt.date(2026, 1, 5), (debit("1100", f"{n}.00", "CNY"), credit("3100", f"{n}.00", "CNY")))
        run_in_transaction(fresh_engine, lambda c, d=draft: service.post_entry(c, actor, d), seal=False)
    app = create_app(fresh_engine, cipher=FieldCipher(bytes(range(32))))
    query = "{ verifyAudit { ok pendingEvents entries discrepancies { source message } } }"
    with TestClient(app) as client:
        body = client.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {auditor.secret}"}).json()
    assert body["data"]["verifyAudit"] == {"ok": True, "pendingEvents": 2, "entries": 2, "discrepancies": []}, body
