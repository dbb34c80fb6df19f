"""One table of idempotency keys for every command (ledger.idempotency.run_once).

Keys recorded before come along, each with the fingerprint it was recorded with and a result that
names what it made, so a request repeated across the upgrade still replays: loan money commands
(loan_transactions: operation = the transaction's type, result {"loan_transaction_id"}), unidentified
receipts (operation UNIDENTIFIED_RECEIPT, result {"receipt_id"}), manual entry requests (operation
journal_entry_request.submit, result {"request_id"}) and the API's creates (the `api.idempotent_request`
audit events: their operation, fingerprint and result). A key used by more than one of these keeps
the first, in that order; the others then answer IDEMPOTENCY_CONFLICT, as a reused key should.

Revision ID: 0013_idempotency_keys
Revises: 0012_period_balances_in_posting
Create Date: 2026-12-02
"""
import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0013_idempotency_keys"
down_revision = "0012_period_balances_in_posting"
branch_labels = None
depends_on = None

_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)  # ledger.model.canonical_json


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("operation", sa.String(100), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "key", name="pk_idempotency_keys"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_idempotency_keys_tenant_id_tenants"),
    )
    bind = op.get_bind()
    seen: set[tuple[int, str]] = set()
    rows: list[dict] = []

    def keep(tenant_id, key, operation, digest, result, actor, recorded_at) -> None:  # type: ignore[no-untyped-def]
        if (tenant_id, key) in seen:
            return
        seen.add((tenant_id, key))
        rows.append({
            "tenant_id": tenant_id, "key": key, "operation": operation, "request_hash": digest,
            "result": _canonical.encode(result), "actor": actor, "recorded_at": recorded_at,
        })

    for r in bind.execute(sa.text(
        "SELECT tenant_id, idempotency_key, type, request_hash, id, actor, recorded_at FROM loan_transactions"
        " WHERE idempotency_key IS NOT NULL ORDER BY recorded_at"
    )):
        keep(r[0], r[1], r[2], r[3], {"loan_transaction_id": str(r[4])}, r[5], r[6])
    for r in bind.execute(sa.text(
        "SELECT tenant_id, idempotency_key, amount, currency, received_on, reference, id, actor, recorded_at"
        " FROM suspense_receipts WHERE idempotency_key IS NOT NULL ORDER BY recorded_at"
    )):
        day = r[4] if isinstance(r[4], str) else r[4].isoformat()
        request = {"amount": int(r[2]), "currency": r[3], "date": day, "reference": r[5]}
        digest = hashlib.sha256(_canonical.encode(request).encode()).hexdigest()
        keep(r[0], r[1], "UNIDENTIFIED_RECEIPT", digest, {"receipt_id": str(r[6])}, r[7], r[8])
    for r in bind.execute(sa.text(
        "SELECT tenant_id, idempotency_key, request_hash, id, submitted_by, submitted_at FROM journal_entry_requests"
        " WHERE idempotency_key IS NOT NULL ORDER BY submitted_at"
    )):
        keep(r[0], r[1], "journal_entry_request.submit", r[2], {"request_id": str(r[3])}, r[4], r[5])
    for r in bind.execute(sa.text(
        "SELECT tenant_id, after, actor, occurred_at FROM audit_events"
        " WHERE entity_type = 'idempotency_key' AND action = 'api.idempotent_request' ORDER BY occurred_at"
    )):
        recorded = json.loads(r[1])
        keep(r[0], recorded["key"], recorded["operation"], recorded["request"], recorded["result"], r[2], r[3])
    if rows:  # as read: SQLite hands its timestamps back as text, which it takes again as they are
        bind.execute(sa.text(
            "INSERT INTO idempotency_keys (tenant_id, key, operation, request_hash, result, actor, recorded_at)"
            " VALUES (:tenant_id, :key, :operation, :request_hash, :result, :actor, :recorded_at)"
        ), rows)


def downgrade() -> None:
    op.drop_table("idempotency_keys")
