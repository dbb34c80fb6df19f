"""API tokens: stored as hashes, audited, revocable; and the `loanbook token` commands. Both databases."""
from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from identity import service as identity_service
from identity.errors import AmbiguousToken, TokenAlreadyRevoked, TokenNameTaken, UnknownRole, UnknownToken
from identity.model import Role, parse_role, token_hash
from identity.tables import api_tokens
from ledger.store.tables import audit_events, tenants
from ledger.unit_of_work import run_in_transaction
from loanbook import cli
from loanbook.server import demo_tenant_slug, ensure_demo_tenant
from tests.conftest import new_tenant

now = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.timezone.utc)


def issue(engine, tenant_id, role=Role.FINANCE, **kw):
    return run_in_transaction(engine, lambda c: identity_service.create_token(c, tenant_id, role, actor_name="ops", now=now, **kw))


def audit_actions(engine, tenant_id, entity_id):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(audit_events.c.action).where(
                audit_events.c.tenant_id == tenant_id, audit_events.c.entity_id == str(entity_id)
            ).order_by(audit_events.c.occurred_at, audit_events.c.action)
        ).scalars().all()


def test_a_token_is_stored_as_a_hash_and_resolves_to_its_tenant_and_role(engine):
    tenant_id = new_tenant(engine)
    issued = issue(engine, tenant_id, Role.COLLECTOR, name="collections desk")
    with engine.connect() as conn:
        row = conn.execute(sa.select(api_tokens).where(api_tokens.c.tenant_id == tenant_id)).one()
        principal = identity_service.authenticate(conn, issued.secret, now)
    assert issued.secret not in {str(v) for v in row}
    assert row.token_hash == token_hash(issued.secret) and issued.secret.startswith(row.token_prefix)
    assert (principal.tenant_id, principal.role, principal.actor_name) == (tenant_id, Role.COLLECTOR, "collections desk")
    assert audit_actions(engine, tenant_id, issued.token.id) == ["api_token.created"]


def test_revoked_expired_and_unknown_tokens_resolve_to_nobody(engine):
    tenant_id = new_tenant(engine)
    revoked = issue(engine, tenant_id)
    expiring = issue(engine, tenant_id, expires_at=now + dt.timedelta(days=1))
    run_in_transaction(engine, lambda c: identity_service.revoke_token(c, str(revoked.token.id)[:8], actor_name="ops", now=now))
    with engine.connect() as conn:
        assert identity_service.authenticate(conn, revoked.secret, now) is None
        assert identity_service.authenticate(conn, expiring.secret, now) is not None
        assert identity_service.authenticate(conn, expiring.secret, now + dt.timedelta(days=2)) is None
        assert identity_service.authenticate(conn, revoked.secret[:-1] + "x", now) is None
        assert identity_service.authenticate(conn, "", now) is None
    assert audit_actions(engine, tenant_id, revoked.token.id) == ["api_token.created", "api_token.revoked"]
    with pytest.raises(TokenAlreadyRevoked):
        run_in_transaction(engine, lambda c: identity_service.revoke_token(c, revoked.token.token_prefix, actor_name="ops", now=now))


def test_token_names_are_unique_per_tenant_and_references_must_be_unambiguous(engine, monkeypatch):
    tenant_id = new_tenant(engine)
    issue(engine, tenant_id, name="ops-1")
    with pytest.raises(TokenNameTaken):
        issue(engine, tenant_id, name="ops-1")
    # Two ids that share their first eight hex digits: a reference that short names neither.
    ids = iter([uuid.UUID("abcdef12-0000-4000-8000-000000000001"), uuid.UUID("abcdef12-0000-4000-8000-000000000002")])
    monkeypatch.setattr(identity_service, "uuid", SimpleNamespace(uuid4=lambda: next(ids), UUID=uuid.UUID))
    issue(engine, tenant_id, name="ops-2")
    issue(engine, tenant_id, name="ops-3")
    with engine.connect() as conn:
        with pytest.raises(AmbiguousToken):
            identity_service.find_token(conn, "abcdef12", tenant_id=tenant_id)
        assert identity_service.find_token(conn, "abcdef12-0000-4000-8000-000000000002", tenant_id=tenant_id).name == "ops-3"
        for reference in ("abc", "lb_doesnotexist", "not hex at all"):
            with pytest.raises(UnknownToken):
                identity_service.find_token(conn, reference, tenant_id=tenant_id)
    with pytest.raises(UnknownRole):
        parse_role("wizard")
    assert parse_role("Loan-Officer") is Role.LOAN_OFFICER


def test_token_commands_print_the_token_alone_and_revoke_it(engine, db_url, monkeypatch, capsys):
    monkeypatch.setenv("LOANBOOK_DATABASE_URL", db_url)
    tenant_id = new_tenant(engine)
    with engine.connect() as conn:
        slug = conn.execute(sa.select(tenants.c.slug).where(tenants.c.id == tenant_id)).scalar_one()
    assert cli.main(["token", "create", "--tenant", slug, "--role", "auditor", "--name", "external audit"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    secret = out.strip()
    with engine.connect() as conn:
        principal = identity_service.authenticate(conn, secret, dt.datetime.now(dt.timezone.utc))
    assert (principal.role, principal.actor_name) == (Role.AUDITOR, "external audit")
    assert cli.main(["token", "revoke", secret[:12], "--tenant", slug]) == 0
    assert "revoked token" in capsys.readouterr().out
    with engine.connect() as conn:
        assert identity_service.authenticate(conn, secret, dt.datetime.now(dt.timezone.utc)) is None
    assert cli.main(["token", "create", "--tenant", slug, "--role", "wizard"]) == 1
    assert "UNKNOWN_ROLE" in capsys.readouterr().err


def test_a_lost_admin_token_is_replaced_from_the_command_line_and_audited(engine, db_url, monkeypatch, capsys):
    """Database access is the authority: the command needs no token, issues an admin one and says who ran it."""
    monkeypatch.setenv("LOANBOOK_DATABASE_URL", db_url)
    monkeypatch.setattr("getpass.getuser", lambda: "ops-wang")
    tenant_id = new_tenant(engine)
    with engine.connect() as conn:
        slug = conn.execute(sa.select(tenants.c.slug).where(tenants.c.id == tenant_id)).scalar_one()
    lost = issue(engine, tenant_id, Role.ADMIN, name="ada")
    assert cli.main(["token", "create", "--tenant", slug, "--role", "admin", "--name", "ada-2"]) == 0
    shown = capsys.readouterr()
    secret = shown.out.strip()
    assert shown.out == secret + "\n" and "(ada-2, admin)" in shown.err
    with engine.connect() as conn:
        principal = identity_service.authenticate(conn, secret, dt.datetime.now(dt.timezone.utc))
        (fresh,) = [t for t in identity_service.list_tokens(conn, tenant_id) if t.name == "ada-2"]
    assert (principal.role, principal.actor_name, principal.tenant_slug) == (Role.ADMIN, "ada-2", slug)
    assert fresh.created_by == "cli:ops-wang"
    assert cli.main(["token", "list", "--tenant", slug]) == 0
    listed = capsys.readouterr().out
    assert secret not in listed and f"{fresh.id}\t{fresh.token_prefix}...\tadmin\tactive\tada-2" in listed
    assert cli.main(["token", "revoke", str(lost.token.id), "--tenant", slug]) == 0
    with engine.connect() as conn:
        assert identity_service.authenticate(conn, lost.secret, dt.datetime.now(dt.timezone.utc)) is None
    with engine.connect() as conn:
        trail = conn.execute(sa.select(audit_events.c.entity_id, audit_events.c.action, audit_events.c.actor).where(
            audit_events.c.tenant_id == tenant_id, audit_events.c.entity_type == "api_token")).all()
    assert sorted(trail) == sorted([
        (str(lost.token.id), "api_token.created", "ops"), (str(fresh.id), "api_token.created", "cli:ops-wang"),
        (str(lost.token.id), "api_token.revoked", "cli:ops-wang"),
    ])


def test_the_demo_tenant_is_created_only_on_an_empty_database(fresh_engine):
    issued = ensure_demo_tenant(fresh_engine, now)
    assert issued is not None and issued.token.role is Role.ADMIN
    assert ensure_demo_tenant(fresh_engine, now) is None
    with fresh_engine.connect() as conn:
        assert conn.execute(sa.select(tenants.c.slug)).scalars().all() == [demo_tenant_slug]
        assert identity_service.authenticate(conn, issued.secret, now).tenant_slug == demo_tenant_slug
