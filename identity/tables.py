"""Identity tables (SQLAlchemy Core), on the ledger's MetaData so one alembic history and one
"migrations match the tables" check cover them; migration 0002_identity creates them.

Like every loanbook table, `tenant_id` leads every key. Authentication looks a token up by its hash
alone (the secret names no tenant), so `token_hash` also has a plain, non-unique index: a 256-bit
hash does not collide, and the service refuses a lookup that ever matches two rows.
"""
from __future__ import annotations

import sqlalchemy as sa

from identity.model import Role
from ledger.store.tables import Id, Timestamp, metadata

role_values = tuple(role.value for role in Role)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("token_prefix", sa.String(16), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("expires_at", Timestamp, nullable=True),
    sa.Column("revoked_at", Timestamp, nullable=True),
    sa.Column("revoked_by", sa.String(200), nullable=True),
    sa.UniqueConstraint("tenant_id", "token_hash"),
    sa.UniqueConstraint("tenant_id", "name"),
    sa.CheckConstraint("role IN (" + ", ".join(f"'{r}'" for r in role_values) + ")", name="role_known"),
    sa.Index("ix_api_tokens_token_hash", "token_hash"),
)
